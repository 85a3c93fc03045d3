"""Reading config.toml: the file, TOML, validation, and the Settings everything runs on.

Every problem is a ConfigError of one line naming the file, the key path
(`documents[2].fetcher`) and the bad value; secrets named by `*_env` keys are read here too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.analysis.topics import DEFAULT_TOPICS, TopicRule
from monitor.config.model import (
    CHANNEL_TAGS,
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

DEFAULT_CONFIG = "config.toml"
CONFIG_ENV = "POLICYWATCH_CONFIG"


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


def config_path(explicit: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file to read: --config, else $POLICYWATCH_CONFIG, else ./config.toml."""
    return Path(explicit or environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load(path: Path) -> Settings:
    """Read and validate a config file; raise ConfigError with one clear line on any problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "file not found (run `policywatch init` to write a starter config)", path=str(path)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file ({exc.strerror})", path=str(path)) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=str(path)) from exc
    return parse(data, path)


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
