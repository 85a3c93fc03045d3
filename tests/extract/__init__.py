"""Tests of monitor.extract: decoding, regions, furniture, layout, guards, fingerprint, links."""
