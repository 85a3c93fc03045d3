"""The shape of config.toml: pydantic models, strict and frozen, that reject unknown keys.

Types carry their own checks (durations and their bounds, URLs, CSS and range selectors, regular
expressions); monitor.config.load turns a failed validation into one line naming the key and the
value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    field_validator,
    model_validator,
)

from monitor.analysis.topics import DEFAULT_TOPICS, TopicRule
from monitor.extract.regions import Range, Selector, check_css
from storage.vocab import FetcherKind, Significance

DEFAULT_TOPIC_NAMES = frozenset(t.name for t in DEFAULT_TOPICS)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SECRET_KEYS = frozenset({"web.token"})  # their bad values are never repeated in an error
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # the web UI may be open there
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


def parse_duration(value: object) -> float:
    """'6h', '10m', '1h30m', '45s', '250ms', '2d' -> seconds."""
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "6h" or "10m", got {value!r}')
    text = value.strip().lower()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos == 0 or text[pos:].strip():
        raise ValueError(f'expected a duration like "6h", "10m" or "1h30m", got {value!r}')
    return total


def format_duration(seconds: float) -> str:
    """Seconds -> the largest whole unit: 86400 -> '1d', 600 -> '10m', 0.25 -> '250ms'."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds * 1000:g}ms" if 0 < seconds < 1 else f"{seconds:g}s"


def _check_host(value: str) -> str:
    """A host name as a Host header carries it, without port or scheme: `policy.example.org`,
    `*.example.org` (any subdomain), `192.0.2.7` or `[2001:db8::7]`."""
    name = value.removeprefix("*.")
    shape = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
    if not re.fullmatch(shape, name):
        raise ValueError(f"a host name without scheme or port (or *.domain), got {value!r}")
    return value


def _duration(low: float, high: float, *, above: bool = False) -> BeforeValidator:
    """A duration between `low` and `high` seconds (`above`: strictly more than `low`).

    The bounds say what makes sense, not what is possible: a timeout of 0 never finishes, an
    interval of 100000d overflows the scheduler's date arithmetic.
    """
    floor = f"more than {format_duration(low)}" if above else f"at least {format_duration(low)}"
    bounds = f"must be {floor} and at most {format_duration(high)}"

    def check(value: object) -> float:
        seconds = parse_duration(value)
        if seconds < low or (above and seconds == low) or seconds > high:
            raise ValueError(f"{bounds}, got {value!r}")
        return seconds

    return BeforeValidator(check)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {url!r}")
    return url


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r} ({exc})") from exc
    return pattern


# Strict types: TOML already has real types, so "5" for a number is a mistake, not a number.
Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
# Every duration of the file, with its bounds: the one place that says what is sensible.
Timeout = Annotated[float, _duration(0, HOUR, above=True)]  # fetch.timeout, browser.timeout
ChannelTimeout = Annotated[float, _duration(0, 10 * MINUTE, above=True)]  # one delivery
Interval = Annotated[float, _duration(1, 365 * DAY)]  # schedule.every, documents[].every
Jitter = Annotated[float, _duration(0, DAY)]
Backoff = Annotated[float, _duration(0, DAY, above=True)]  # fetch.backoff, alerts.backoff
MaxBackoff = Annotated[float, _duration(0, 7 * DAY, above=True)]  # alerts.max_backoff
Gap = Annotated[float, _duration(0, HOUR)]  # fetch.min_gap
Lifetime = Annotated[float, _duration(MINUTE, 365 * DAY)]  # web.session_lifetime
Settle = Annotated[float, _duration(0, MINUTE)]  # browser.settle
Css = Annotated[str, Strict(), AfterValidator(check_css)]
Url = Annotated[str, Strict(), AfterValidator(_check_url)]
Regex = Annotated[str, Strict(), AfterValidator(_check_regex)]
Positive = Annotated[int, Strict(), Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Section):
    url: Str = "sqlite:///policywatch.db"


class ScheduleSettings(_Section):
    every: Interval = 6 * HOUR
    jitter: Jitter = 10 * MINUTE
    concurrency: Positive = 4


class FetchSettings(_Section):
    timeout: Timeout = 30.0
    max_bytes: Positive = 10_000_000
    max_redirects: Annotated[int, Strict(), Field(ge=0, le=30)] = 5
    retries: Annotated[int, Strict(), Field(ge=0, le=10)] = 2
    backoff: Backoff = 2.0
    min_gap: Gap = 5.0
    user_agent: Str | None = None
    accept_language: Str = "en-US,en;q=0.9"


class BrowserSettings(_Section):
    executable: Str | None = None  # default: chromium on PATH, else /usr/bin/chromium
    timeout: Timeout = 45.0
    concurrency: Annotated[int, Strict(), Field(ge=1, le=16)] = 2
    settle: Settle = 1.0  # quiet time after the selector matched, for late paragraphs


class GuardSettings(_Section):
    min_chars: Annotated[int, Strict(), Field(ge=0)] = 200
    shrink_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5
    flip_window: Annotated[int, Strict(), Field(ge=0, le=50)] = 5


class WebSettings(_Section):
    host: Str = "127.0.0.1"
    port: Annotated[int, Strict(), Field(ge=0, le=65535)] = 8080
    base_url: Url = "http://127.0.0.1:8080"
    token: Str | None = None
    token_env: Str | None = None
    # Host header values served besides base_url's host, web.host and the loopback names.
    allowed_hosts: tuple[Annotated[str, Strict(), AfterValidator(_check_host)], ...] = ()
    session_lifetime: Lifetime = 7 * DAY  # a login lasts this long (or until logout)

    @model_validator(mode="after")
    def _token_off_loopback(self) -> WebSettings:
        if self.host not in LOOPBACK_HOSTS and not (self.token or self.token_env):
            raise ValueError(
                f"binding to {self.host!r} needs web.token or web.token_env: the history would "
                f"be open to anyone who can reach it"
            )
        return self

    def resolved_token(self, environ: Mapping[str, str] = os.environ) -> str | None:
        """The access token: `token`, or the value of the variable named by `token_env`."""
        if self.token_env:
            return environ.get(self.token_env) or None
        return self.token


class AlertSettings(_Section):
    incident_after: Annotated[int, Strict(), Field(ge=1, le=100)] = 3
    max_attempts: Annotated[int, Strict(), Field(ge=1, le=100)] = 10
    backoff: Backoff = 60.0
    max_backoff: MaxBackoff = 6 * HOUR
    digest_hour: Annotated[int, Strict(), Field(ge=0, le=23)] = 8


class _ChannelBase(_Section):
    name: Str
    topics: tuple[Str, ...] = ()
    min_significance: Significance = "minor"
    documents: tuple[Str, ...] = ()
    digest: Literal["immediate", "hourly", "daily"] = "immediate"
    timeout: ChannelTimeout = 30.0

    def secrets(self) -> dict[str, str]:
        """Option name -> the environment variable that holds its secret."""
        return {}

    def options(self, secrets: Mapping[str, str]) -> dict[str, Any]:
        """The options of the `alerts` channel class, secrets resolved."""
        raise NotImplementedError


class EmailChannelSettings(_ChannelBase):
    kind: Literal["email"]
    smtp_host: Str
    smtp_port: Annotated[int, Strict(), Field(gt=0, le=65535)] | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: Str | None = None
    password_env: Str | None = None
    sender: Str = Field(alias="from")
    to: tuple[Str, ...] = Field(min_length=1)
    ca_file: Str | None = None

    def secrets(self) -> dict[str, str]:
        return {"password": self.password_env} if self.password_env else {}

    def options(self, secrets: Mapping[str, str]) -> dict[str, Any]:
        return {
            "host": self.smtp_host,
            "port": self.smtp_port,
            "security": self.security,
            "username": self.username,
            "password": secrets.get("password"),
            "sender": self.sender,
            "to": self.to,
            "timeout": self.timeout,
            "ca_file": self.ca_file,
        }


class WebhookChannelSettings(_ChannelBase):
    kind: Literal["webhook"]
    url: Url
    secret_env: Str | None = None

    def secrets(self) -> dict[str, str]:
        return {"secret": self.secret_env} if self.secret_env else {}

    def options(self, secrets: Mapping[str, str]) -> dict[str, Any]:
        return {"url": self.url, "secret": secrets.get("secret"), "timeout": self.timeout}


class ChatChannelSettings(_ChannelBase):
    """Slack and Discord incoming webhooks; their URL is a secret, so it may come from the env."""

    kind: Literal["slack", "discord"]
    url: Url | None = None
    url_env: Str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> ChatChannelSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(f"channel {self.name!r} needs exactly one of url or url_env")
        return self

    def secrets(self) -> dict[str, str]:
        return {"url": self.url_env} if self.url_env else {}

    def options(self, secrets: Mapping[str, str]) -> dict[str, Any]:
        return {"url": secrets.get("url", self.url), "timeout": self.timeout}


class MboxChannelSettings(_ChannelBase):
    kind: Literal["mbox"]
    path: Str
    to: tuple[Str, ...] = ("you@localhost",)

    def options(self, secrets: Mapping[str, str]) -> dict[str, Any]:
        return {"path": self.path, "to": self.to}


class AppriseChannelSettings(_ChannelBase):
    """Any service Apprise reaches (Telegram, Matrix, Signal, ntfy, Teams...): its URL carries
    the service's token, so it only ever comes from the environment variable `url_env`."""

    kind: Literal["apprise"]
    url_env: Str

    def secrets(self) -> dict[str, str]:
        return {"url": self.url_env}

    def options(self, secrets: Mapping[str, str]) -> dict[str, Any]:
        return {"url": secrets["url"], "timeout": self.timeout}


AnyChannel = (
    EmailChannelSettings
    | WebhookChannelSettings
    | ChatChannelSettings
    | MboxChannelSettings
    | AppriseChannelSettings
)
ChannelSettings = Annotated[AnyChannel, Field(discriminator="kind")]
CHANNEL_KIND_NAMES = ("email", "webhook", "slack", "discord", "mbox", "apprise")
CHANNEL_TAGS = frozenset({*CHANNEL_KIND_NAMES, "css", "range"})


class RangeSettings(_Section):
    """A range selector: exactly one of start_before / start_after and one of end_before /
    end_after, each a CSS selector (monitor.extract.regions.Range)."""

    start_before: Css | None = None
    start_after: Css | None = None
    end_before: Css | None = None
    end_after: Css | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> RangeSettings:
        if (self.start_before is None) == (self.start_after is None):
            raise ValueError("a range needs exactly one of start_before or start_after")
        if (self.end_before is None) == (self.end_after is None):
            raise ValueError("a range needs exactly one of end_before or end_after")
        return self

    def selector(self) -> Range:
        start = self.start_before or self.start_after or ""
        end = self.end_before or self.end_after or ""
        return Range(start, end, self.start_after is not None, self.end_before is not None)


def _selectors(values: tuple[str | RangeSettings, ...]) -> tuple[Selector, ...]:
    return tuple(v.selector() if isinstance(v, RangeSettings) else v for v in values)


def _selector_kind(value: object) -> str:
    return "range" if isinstance(value, dict | RangeSettings) else "css"


SelectorItem = Annotated[
    Annotated[Css, Tag("css")] | Annotated[RangeSettings, Tag("range")],
    Discriminator(_selector_kind),
]
if TYPE_CHECKING:  # what validation leaves: CSS strings and Range values
    SelectorList = tuple[Selector, ...]
else:
    SelectorList = Annotated[tuple[SelectorItem, ...], AfterValidator(_selectors)]


class DocumentSettings(_Section):
    slug: Str
    name: Str
    url: Url
    select: SelectorList = ()
    remove: SelectorList = ()
    fetcher: FetcherKind = "http"
    every: Interval | None = None
    min_chars: Annotated[int, Strict(), Field(ge=0)] | None = None
    topics: tuple[Str, ...] = ()  # what the whole document is about (an AI product's terms)
    notes: Str = ""

    def to_json(self) -> str:
        """This document's settings as JSON that `DocumentSettings.model_validate_json` reads
        back (durations written as in the config: "6h")."""
        data = self.model_dump(mode="json", exclude={"select", "remove"}, warnings=False)
        for key in ("select", "remove"):
            data[key] = [s if isinstance(s, str) else s.to_json() for s in getattr(self, key)]
        if self.every is not None:
            data["every"] = format_duration(self.every)
        return json.dumps(data, sort_keys=True)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"expected lower-case letters, digits and dashes (like 'facebook-privacy'), "
                f"got {value!r}"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in "\r\n"):
            raise ValueError(f"must be one non-empty line, got {value!r}")
        return value


class TopicSettings(_Section):
    name: Str
    terms: tuple[Str, ...] = ()
    patterns: tuple[Regex, ...] = ()
    exclude: tuple[Str, ...] = ()

    @model_validator(mode="after")
    def _has_terms(self) -> TopicSettings:
        if not self.terms and not self.patterns:
            raise ValueError(f"topic {self.name!r} needs at least one of terms or patterns")
        return self

    def rule(self) -> TopicRule:
        return TopicRule(self.name, self.terms, self.patterns, self.exclude)


class Root(_Section):
    storage: StorageSettings = StorageSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    fetch: FetchSettings = FetchSettings()
    browser: BrowserSettings = BrowserSettings()
    guards: GuardSettings = GuardSettings()
    web: WebSettings = WebSettings()
    alerts: AlertSettings = AlertSettings()
    documents: tuple[DocumentSettings, ...] = ()
    topics: tuple[TopicSettings, ...] | None = None
    channels: tuple[ChannelSettings, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Root:
        _no_duplicates([d.slug for d in self.documents], "documents", "slug")
        _no_duplicates([t.name for t in self.topics or ()], "topics", "name")
        _no_duplicates([c.name for c in self.channels], "channels", "name")
        topics = {t.name for t in self.topics} if self.topics is not None else DEFAULT_TOPIC_NAMES
        slugs = {d.slug for d in self.documents}
        known = ", ".join(sorted(topics))
        for table, entries in (("documents", self.documents), ("channels", self.channels)):
            for index, entry in enumerate(entries):
                for topic in entry.topics:
                    if topic not in topics:
                        raise ValueError(
                            f"{table}[{index}].topics: unknown topic {topic!r} (known: {known})"
                        )
        for index, channel in enumerate(self.channels):
            for slug in channel.documents:
                if slug not in slugs:
                    raise ValueError(f"channels[{index}].documents: unknown document {slug!r}")
        return self


def _no_duplicates(names: list[str], table: str, key: str) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(
                f"{table}[{index}].{key}: {name!r} is already used by {table}[{seen[name]}]"
            )
        seen[name] = index
