"""The long-running parts: the single-process scheduler and the builders of a running checker."""
