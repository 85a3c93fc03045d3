"""A throwaway PostgreSQL cluster for the test suite's PostgreSQL pass.

    python -m tests.pg run -- pytest -q ...

starts a cluster of Debian's PostgreSQL in a temporary directory (its own socket directory, a
free port on 127.0.0.1, trust authentication, no fsync), runs the command with
POLICYWATCH_TEST_POSTGRES set to the server's URL, then stops the cluster and removes its files.
Without PostgreSQL installed it says so in one line and exits 0: the SQLite pass has run.

With POLICYWATCH_TEST_POSTGRES set, `database_url` gives each test a fresh database on that
server; without it, a SQLite file in the test's directory.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ENV = "POLICYWATCH_TEST_POSTGRES"
"""The URL of a PostgreSQL server the tests may create databases on (its `postgres` database)."""

_counter = itertools.count()
_made: dict[Path, str] = {}


def server_url() -> str | None:
    return os.environ.get(ENV) or None


def on_postgres() -> bool:
    return server_url() is not None


def database_url(tmp_path: Path) -> str:
    """A fresh, empty database for one test (the same one for every call with its `tmp_path`):
    on the PostgreSQL server when the suite runs on PostgreSQL, else a SQLite file in
    `tmp_path`."""
    server = server_url()
    if server is None:
        return f"sqlite:///{tmp_path / 'pw.db'}"
    if tmp_path not in _made:
        name = f"t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        _admin(server, f'CREATE DATABASE "{name}"')
        _made[tmp_path] = server.rsplit("/", 1)[0] + "/" + name
    return _made[tmp_path]


def _admin(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(server.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


# -- the cluster -----------------------------------------------------------------------------------


def binaries() -> Path | None:
    """The directory of initdb and pg_ctl: pg_config's, else Debian's newest version."""
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    return versions[-1].parent if versions else None


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.parent.parent.name.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: Sequence[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return list(argv)


@contextmanager
def cluster() -> Iterator[str]:
    """Start a throwaway cluster; yield its server URL; stop it and remove it."""
    bindir = binaries()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL is not installed (no initdb)")
    root = Path(tempfile.mkdtemp(prefix="policywatch-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = _free_port()
    try:
        _run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]))
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        start = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w"]
        _run(_as_owner([*start, "-l", str(root / "log"), "start"]))
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(argv: Sequence[str]) -> None:
    try:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{argv[0]} failed: {exc.stderr.decode(errors='replace')}") from exc


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print("usage: python -m tests.pg run -- COMMAND ...", file=sys.stderr)
        return 2
    if binaries() is None:
        print("PostgreSQL is not installed here: the PostgreSQL pass of the tests is skipped")
        return 0
    with cluster() as url:
        print(f"PostgreSQL pass on a throwaway cluster ({url.rsplit('@', 1)[1]})", flush=True)
        return subprocess.run(list(argv[2:]), env={**os.environ, ENV: url}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def rows(tmp_path: Path, sql: str, **params: object) -> list[tuple[object, ...]]:
    """The rows of one SQL query (`:name` parameters) on the test's database, whichever it is;
    on SQLite, the file's integrity is checked first."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url(tmp_path))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
