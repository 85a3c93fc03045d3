"""Alembic migration scripts of the storage schema (run by `storage.db.upgrade`)."""
