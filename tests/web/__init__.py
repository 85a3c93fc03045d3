"""Tests of monitor.web: the HTML pages, feeds and the JSON API."""
