"""The suite runs on SQLite, and on PostgreSQL when POLICYWATCH_TEST_POSTGRES names a server
(`python -m tests.pg run -- pytest ...`, as `make test` does). A test about SQLite itself (its
file, pragmas, FTS5, its locking) carries `@pytest.mark.sqlite_only("why")` and is skipped on
the PostgreSQL pass; one about PostgreSQL carries `postgres_only` and is skipped on SQLite."""

from __future__ import annotations

import pytest

from tests.pg import on_postgres


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    postgres = on_postgres()
    for item in items:
        sqlite_only = item.get_closest_marker("sqlite_only")
        if postgres and sqlite_only is not None:
            why = sqlite_only.args[0] if sqlite_only.args else "a test of SQLite itself"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {why}"))
        if not postgres and item.get_closest_marker("postgres_only") is not None:
            item.add_marker(
                pytest.mark.skip(reason="PostgreSQL only (run by `make test`'s PostgreSQL pass)")
            )
