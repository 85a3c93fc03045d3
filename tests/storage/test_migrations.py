"""storage.db migrations: an empty file upgrades, idempotently, to exactly the models' schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from storage import search
from storage.db import alembic_config, current_revision, ensure_schema, make_engine, upgrade
from storage.models import Base
from tests.pg import database_url, on_postgres

SCRIPTS = ScriptDirectory.from_config(alembic_config())
HEAD = SCRIPTS.get_current_head()
# The FTS5 index and its shadow tables (SQLite), and the trigram index (PostgreSQL), are made by
# migrations, not by a model.
COMPARE = {
    "compare_type": True,
    "include_name": lambda name, kind, _parent: (
        not ((kind == "table" and search.is_fts_table(name)) or name == search.TRIGRAM_INDEX)
    ),
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'pw.db'}"
    engine = make_engine(database_url(tmp_path) if on_postgres() else url)
    yield engine
    engine.dispose()


def test_revisions_form_one_line_from_the_initial_one() -> None:
    assert len(SCRIPTS.get_heads()) == 1
    chain = [rev.revision for rev in SCRIPTS.walk_revisions()]
    assert chain[-1] == "0001"
    assert chain[0] == HEAD


def test_upgrade_on_an_empty_file_creates_every_table(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == HEAD
    tables = {t for t in inspect(engine).get_table_names() if not search.is_fts_table(t)}
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    ensure_schema(engine)
    upgrade(engine.url.render_as_string(hide_password=False))
    assert current_revision(engine) == HEAD


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=COMPARE)
        assert compare_metadata(context, Base.metadata) == []


def test_a_model_change_without_a_migration_is_detected(engine: Engine) -> None:
    """The comparison above is not vacuous: an unmigrated table shows up as a difference."""
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_checks_started_at")
        context = MigrationContext.configure(connection, opts=COMPARE)
        diffs = compare_metadata(context, Base.metadata)
    assert [diff[0] for diff in diffs] == ["add_index"]


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == HEAD


def test_head_is_alembics_head() -> None:
    """ensure_schema() skips Alembic when the database is at HEAD: HEAD must be the newest."""
    from alembic.script import ScriptDirectory

    from storage.db import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_0009_redacts_what_was_written_before(engine: Engine) -> None:
    """Rows from before redaction lose their URL secrets on upgrade; other rows are untouched."""
    from sqlalchemy import text

    from storage.db import migrate

    migrate(engine, "0008")
    leaky = "HTTP 500 from https://ed:Wm4-pass-Tq@intranet.example/p?access_token=zz9"
    plain = "HTTP 500 from https://example.org/privacy"
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO pages (id, slug, name, url, fetcher, rules_hash, created_at, active) "
                "VALUES (1, 'p', 'P', 'https://ed:Wm4-pass-Tq@intranet.example/p', 'http', 'h', "
                ":at, true)"
            ),
            {"at": "2026-01-01 00:00:00"},
        )
        for i, message in enumerate((leaky, plain), start=1):
            db.execute(
                text(
                    "INSERT INTO checks (id, page_id, started_at, finished_at, outcome, message, "
                    "fetcher, duration_ms) VALUES (:id, 1, :at, :at, 'failed', :m, 'http', 1.0)"
                ),
                {"id": i, "at": "2026-01-01 00:00:00", "m": message},
            )
    migrate(engine, "0009")
    with engine.connect() as db:
        messages = db.execute(text("SELECT message FROM checks ORDER BY id")).scalars().all()
        url = db.execute(text("SELECT url FROM pages")).scalar_one()
    assert messages == [
        "HTTP 500 from https://ed:***@intranet.example/p?access_token=***",
        plain,
    ]
    assert url == "https://ed:***@intranet.example/p"
