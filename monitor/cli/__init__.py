"""The `policywatch` command: the only code that prints or sets exit codes."""
