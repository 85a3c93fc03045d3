"""Tests of monitor.alerting and alerts: payloads, channels and the outbox."""
