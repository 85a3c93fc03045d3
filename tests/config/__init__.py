"""Tests of monitor.config: the model of config.toml and its loading."""
