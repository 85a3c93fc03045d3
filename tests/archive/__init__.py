"""Tests of monitor.archive: importing history from before policywatch watched a page."""
