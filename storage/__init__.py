"""Storage of pages, snapshots, versions, changes, checks and alerts.

Imports only SQLAlchemy, Alembic and zstandard; never `monitor`. Start with `storage.repo.Repo`.
"""
