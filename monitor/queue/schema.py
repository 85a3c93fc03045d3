"""The job queue's tables (procrastinate's schema), created once, under the migration lock."""

from __future__ import annotations

from sqlalchemy import Engine, text

from storage.db import MIGRATION_LOCK


def ensure_queue_schema(engine: Engine) -> bool:
    """Create procrastinate's tables unless they exist; True when it created them."""
    from procrastinate.schema import SchemaManager

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
            return False
        driver = conn.connection.driver_connection  # psycopg: no placeholders in a bare script
        assert driver is not None
        driver.execute(SchemaManager.get_schema())
        return True
