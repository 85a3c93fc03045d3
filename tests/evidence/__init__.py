"""Tests of the raw pages as evidence: WARC export and verify."""
