"""Tests of monitor.check: one check of one document, decided and recorded."""
