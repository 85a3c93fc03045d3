"""Tests of monitor.analysis: the differ, topics and significance."""
