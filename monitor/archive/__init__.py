"""History from before policywatch watched a page: archived versions read from their source
(`sources`) and imported as versions and changes that never alert (`importer`)."""
