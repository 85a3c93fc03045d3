"""policywatch's monitor: configuration, fetching, extraction, diffing, topics and the daemon."""
