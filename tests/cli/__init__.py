"""Tests of monitor.cli and monitor.daemon: the command, the demo and the daemon."""
