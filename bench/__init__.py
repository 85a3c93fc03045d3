"""policywatch benchmarks: run with `make bench` (quick) or `FULL=1 make bench` (everything)."""
