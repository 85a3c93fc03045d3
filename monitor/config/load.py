"""Reading config.toml: the file, TOML, validation, and the Settings everything runs on.

Every problem is a ConfigError of one line naming the file, the key path
(`documents[2].fetcher`) and the bad value, raised by load() before anything is written: the
storage URL is checked against the installed drivers and the file system, never opened. Secrets
named by `*_env` keys are read here too (channel_secrets, check_web_ready).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from monitor.analysis.topics import DEFAULT_TOPICS, TopicRule
from monitor.config.model import (
    CHANNEL_TAGS,
    LOOPBACK_HOSTS,
    SECRET_KEYS,
    AlertSettings,
    AnyChannel,
    BrowserSettings,
    DocumentSettings,
    FetchSettings,
    GuardSettings,
    Root,
    ScheduleSettings,
    StorageSettings,
    WebSettings,
)
from monitor.errors import ConfigError
from monitor.extract.rules import ExtractRules

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_CONFIG = "config.toml"
CONFIG_ENV = "POLICYWATCH_CONFIG"
MIN_TOKEN_CHARS = 24  # off the loopback interface, a token is all that guards the history


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything policywatch runs on, read once from config.toml."""

    path: Path
    storage: StorageSettings
    schedule: ScheduleSettings
    fetch: FetchSettings
    browser: BrowserSettings
    guards: GuardSettings
    web: WebSettings
    alerts: AlertSettings
    documents: tuple[DocumentSettings, ...]
    topics: tuple[TopicRule, ...]
    channels: tuple[AnyChannel, ...] = ()

    def document(self, slug: str) -> DocumentSettings | None:
        return next((d for d in self.documents if d.slug == slug), None)

    @property
    def database_url(self) -> str:
        """The storage URL with a relative SQLite path resolved against the config's folder."""
        url = self.storage.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str((self.path.parent / rest).resolve())
        return url

    def interval(self, doc: DocumentSettings) -> float:
        return doc.every if doc.every is not None else self.schedule.every

    def next_check(self, doc: DocumentSettings, last_check: datetime | None) -> datetime | None:
        """When `doc` is due: one interval (its `every`, else `schedule.every`) after its last
        check started; None when it was never checked (due at once). The one rule of the
        daemon's schedule (which adds up to `schedule.jitter`), the workers' queue, and the next
        check `policywatch checks` and the web show."""
        if last_check is None:
            return None
        return last_check + timedelta(seconds=self.interval(doc))

    def next_checks(
        self, watch_list: Iterable[tuple[str, str]], last_checks: Mapping[str, datetime]
    ) -> dict[str, datetime | None]:
        """The next check of every document of a synced watch list (PageStore.watch_list(),
        whose settings carry each document's interval), from the last check times in the
        database: what a process that does not run the schedule (the web, the CLI) shows."""
        return {
            slug: self.next_check(doc, last_checks.get(slug))
            for slug, doc in watched_documents(watch_list).items()
        }

    def rules(self, doc: DocumentSettings) -> ExtractRules:
        """The document's extraction rules (its selectors, and its minimum text length or the
        default one): the one value extraction, the browser's wait and the fingerprint use."""
        min_chars = doc.min_chars if doc.min_chars is not None else self.guards.min_chars
        return ExtractRules(select=doc.select, remove=doc.remove, min_chars=min_chars)


def watched_documents(watch_list: Iterable[tuple[str, str]]) -> dict[str, DocumentSettings]:
    """A synced watch list's (slug, settings JSON) rows as documents, by slug."""
    return {slug: DocumentSettings.model_validate_json(text) for slug, text in watch_list}


def config_path(explicit: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file to read: --config, else $POLICYWATCH_CONFIG, else ./config.toml."""
    return Path(explicit or environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load(path: Path) -> Settings:
    """Read and validate a config file; raise ConfigError with one clear line on any problem.

    Beyond the shape of the file: it must watch at least one document, and its storage URL must
    name an installed driver and, for SQLite, a file that can be created. Nothing is created.
    """
    settings = parse(_toml(path), path)
    if not settings.documents:
        raise ConfigError(
            "no [[documents]]: the config watches nothing (policywatch init writes a starter "
            "config)",
            path=str(path),
            key="documents",
        )
    _check_storage(settings)
    return settings


def _toml(path: Path) -> dict[str, Any]:
    try:
        # stat before opening: opening a FIFO blocks until a writer comes, a device may act.
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(
            "file not found (run `policywatch init` to write a starter config)", path=str(path)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", path=str(path)) from exc
    if not stat.S_ISREG(mode):
        raise ConfigError(
            f"cannot read the file: not a regular file (it is {_file_kind(mode)})", path=str(path)
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", path=str(path)) from exc
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from exc


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def parse(data: Mapping[str, Any], path: Path) -> Settings:
    """Validate an already-parsed TOML table."""
    try:
        root = Root.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, path) from None
    topics = tuple(t.rule() for t in root.topics) if root.topics is not None else DEFAULT_TOPICS
    return Settings(
        path=path,
        storage=root.storage,
        schedule=root.schedule,
        fetch=root.fetch,
        browser=root.browser,
        guards=root.guards,
        web=root.web,
        alerts=root.alerts,
        documents=root.documents,
        topics=topics,
        channels=root.channels,
    )


def _config_error(exc: ValidationError, path: Path) -> ConfigError:
    error = exc.errors(include_url=False)[0]
    key = _key_path(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return ConfigError("unknown key", path=str(path), key=key)
    if kind == "missing":
        return ConfigError("required key is missing", path=str(path), key=key)
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind != "value_error":  # our own validators already name the value
        shown = "a value that is not shown (it is a secret)" if key in SECRET_KEYS else repr(value)
        message = f"{message[:1].lower()}{message[1:]}, got {shown}"
    return ConfigError(message, path=str(path), key=key)


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-", "tagged-")):
            continue
        elif index and isinstance(loc[index - 1], int) and part in CHANNEL_TAGS:
            continue  # the discriminator tag pydantic puts in the path of a channel, a selector
        else:
            out += f".{part}" if out else part
    return out


def channel_secrets(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> dict[str, dict[str, str]]:
    """Each channel's secrets read from the environment; a missing variable is a ConfigError."""
    out: dict[str, dict[str, str]] = {}
    for index, channel in enumerate(settings.channels):
        resolved: dict[str, str] = {}
        for option, variable in channel.secrets().items():
            value = environ.get(variable)
            if not value:
                key = {"password": "password_env", "secret": "secret_env", "url": "url_env"}[option]
                raise ConfigError(
                    f"environment variable {variable} is not set",
                    path=str(settings.path),
                    key=f"channels[{index}].{key}",
                )
            resolved[option] = value
        out[channel.name] = resolved
    return out


# -- storage: the URL names a driver that is installed, and a SQLite file that can be written ---


def _check_storage(settings: Settings) -> None:
    """Refuse a storage URL that could not be opened, without opening or creating anything."""
    # Imported here: SQLAlchemy costs a quarter of a second, and `--help` never loads a config.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    written = settings.storage.url

    def error(message: str, url: URL | None = None) -> ConfigError:
        if url is None:  # unparsed: hide what looks like user:password@
            shown = re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", written)
        else:
            shown = url.render_as_string(hide_password=True) if url.password else written
        return ConfigError(f"{message}, got {shown!r}", path=str(settings.path), key="storage.url")

    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError):
        raise error(
            "not a database URL (like 'sqlite:///policywatch.db' or "
            "'postgresql+psycopg://user@host/db')"
        ) from None
    backend = url.get_backend_name()
    try:
        dialect = url.get_dialect()
    except NoSuchModuleError:
        try:
            url.set(drivername=backend).get_dialect()
        except NoSuchModuleError:
            raise error(f"unknown database {backend!r}", url) from None
        driver = url.drivername.partition("+")[2]
        raise error(f"unknown driver {driver!r} for {backend}", url) from None
    driver = dialect.driver  # the URL's, or the dialect's default one
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        if backend == "postgresql":
            hint = "pip install 'policywatch[postgres]'"
            if driver != "psycopg":
                hint = f"use postgresql+psycopg:// and {hint}"
            raise error(f"the PostgreSQL driver is not installed: {hint}", url) from exc
        raise error(f"the {driver} driver for {backend} is not installed ({exc})", url) from exc
    if backend == "sqlite":
        problem = _sqlite_problem(url)
        if problem:
            raise error(problem, url)


def _sqlite_problem(url: URL) -> str | None:
    """Why the SQLite file of `url` could not be created or written (None: it could)."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None  # a SQLite URI filename: SQLite resolves it itself
    target = Path(database).expanduser()  # as storage.db.make_engine does
    try:
        return _file_problem(target) or _folder_problem(target.parent)
    except OSError as exc:
        return f"cannot reach {exc.filename} ({exc.strerror})"


def _mode(path: Path) -> int | None:
    """The file's mode, None when it does not exist; other failures (permissions) raise."""
    try:
        return path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None


def _file_problem(target: Path) -> str | None:
    mode = _mode(target)
    if mode is None:
        return None
    if stat.S_ISDIR(mode):
        return f"the database file {target} is a directory"
    if not stat.S_ISREG(mode):
        return f"the database file {target} is not a regular file"
    if not os.access(target, os.R_OK | os.W_OK):
        return f"cannot write the database file {target} (permission denied)"
    return None


def _folder_problem(folder: Path) -> str | None:
    # SQLite writes beside its file (journal, WAL), and the folder may have to be created:
    # the nearest folder that exists must let us do that.
    ancestor = folder
    while (mode := _mode(ancestor)) is None:
        if ancestor.parent == ancestor:
            return f"cannot create the database folder {folder}"
        ancestor = ancestor.parent
    if not stat.S_ISDIR(mode):
        return f"cannot create the database folder {folder}: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        verb = "write in" if ancestor == folder else "create the database folder in"
        return f"cannot {verb} {ancestor} (permission denied)"
    return None


# -- the web UI: checked by the commands that serve it, before they open the database -----------


def check_web_ready(
    settings: Settings, environ: Mapping[str, str] = os.environ, *, host: str | None = None
) -> None:
    """Refuse to serve the web UI on `host` (default web.host) with a missing or weak token.

    Not part of load(): `policywatch check` from cron serves nothing and needs no token. The
    token itself is never shown, only its length.
    """
    web = settings.web
    host = web.host if host is None else host
    path = str(settings.path)
    token = web.resolved_token(environ)
    if web.token_env and not token:
        raise ConfigError(
            f"environment variable {web.token_env} is not set", path=path, key="web.token_env"
        )
    if host in LOOPBACK_HOSTS:
        return
    if token is None:
        raise ConfigError(
            f"serving on {host!r} needs web.token or web.token_env: the history would be open to "
            f"anyone who can reach it",
            path=path,
            key="web.host",
        )
    if len(token) < MIN_TOKEN_CHARS:
        key = "web.token_env" if web.token_env else "web.token"
        whose = f" (the value of {web.token_env})" if web.token_env else ""
        raise ConfigError(
            f"too short{whose} to serve on {host!r}: a token needs at least {MIN_TOKEN_CHARS} "
            f"characters, got {len(token)} characters",
            path=path,
            key=key,
        )
