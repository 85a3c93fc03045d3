"""Tests of whole-program scenarios: faults, crashes, concurrency, bad input, secrets, real pages."""
