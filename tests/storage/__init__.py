"""Tests of storage: the tables, their stores, search and migrations."""
