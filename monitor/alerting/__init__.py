"""Alerts: the payloads written with a change or incident, and the outbox that delivers them."""
