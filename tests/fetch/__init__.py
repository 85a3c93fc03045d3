"""Tests of monitor.fetch: HTTP, the browser and acquire()."""
