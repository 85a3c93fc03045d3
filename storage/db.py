"""Engines, sessions and schema migrations: SQLite by default (WAL, foreign keys), PostgreSQL
by URL.

Transactions on SQLite: sqlite3's own BEGIN handling is switched off and SQLAlchemy emits BEGIN
itself (the documented "do_begin" recipe), so DDL is transactional and a writer can ask for
`BEGIN IMMEDIATE` (see `writer`), taking the write lock before it reads the numbers it will write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:  # Alembic is imported only when a migration runs: every command starts faster
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0009"
"""The newest migration (a test checks it is Alembic's head): a database already there needs no
Alembic at all."""

MIGRATION_LOCK = 0x706F6C6963790001
"""The PostgreSQL advisory lock key migrations (and the job queue's schema) hold."""

BEGIN_OPTION = "policywatch_sqlite_begin"
"""Execution option naming the SQLite BEGIN mode of a connection ("DEFERRED" or "IMMEDIATE")."""

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their directory created and the pragmas above."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), whose transactions take SQLite's write lock at BEGIN.

    Two writers computing "max + 1" would otherwise both read before either writes; with
    BEGIN IMMEDIATE the second waits (busy_timeout) and then reads the first one's row.
    Other databases ignore the option (they lock rows with SELECT ... FOR UPDATE instead).
    """
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (they never leave storage anyway)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def upgrade(engine_or_url: Engine | str) -> None:
    """Migrate the database to the newest schema (a no-op when it is there already)."""
    if isinstance(engine_or_url, str):
        engine = make_engine(engine_or_url)
        try:
            _upgrade(engine)
        finally:
            engine.dispose()
    else:
        _upgrade(engine_or_url)


def ensure_schema(engine: Engine) -> None:
    """Bring the schema up to date; safe to call before every command. A database at HEAD is
    known from one query, without loading Alembic."""
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no such table yet
        version = None
    if version != HEAD:
        upgrade(engine)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration without an ini file: the packaged scripts, this connection."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates "%", which a directory name may contain.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(engine: Engine) -> None:
    migrate(engine, "head")


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or with `down`, downgrade) to `revision`, in one transaction.

    Two processes starting at once: the second waits for the first (SQLite's write lock, or a
    PostgreSQL advisory lock held for the transaction), then finds nothing to do.
    On SQLite, foreign keys are off while it runs (a batch migration rebuilds tables that other
    tables point to) and every reference is checked before it commits.
    """
    with writer(engine).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # takes effect only outside a transaction
            _pragma(connection, "foreign_keys=OFF")
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":  # one migrating process at a time
                    lock = text("SELECT pg_advisory_xact_lock(:key)")
                    connection.execute(lock, {"key": MIGRATION_LOCK})
                from alembic import command

                step = command.downgrade if down else command.upgrade
                step(alembic_config(connection), revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("a migration left rows pointing at rows that do not exist")
        finally:
            if sqlite:
                _pragma(connection, "foreign_keys=ON")


def _pragma(connection: Connection, pragma: str) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(f"PRAGMA {pragma}")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # None stops sqlite3 from emitting BEGIN on its own; _on_sqlite_begin emits it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    if mode not in ("DEFERRED", "IMMEDIATE"):
        raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
    connection.exec_driver_sql(f"BEGIN {mode}")
