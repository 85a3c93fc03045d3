"""The shared vocabulary of alert channels: the rendered Message, the Channel protocol and
DeliveryError, plus helpers to build options from config values and keep secrets out of errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    """What one delivery sends, rendered from one alert payload.

    `json` is the generic webhook body (the payload plus a `text` summary); `summary` is the one
    line chat channels show in notifications.
    """

    subject: str
    text: str
    html: str
    json: dict[str, Any]
    idempotency_key: str
    summary: str = ""


class DeliveryError(Exception):
    """A delivery failed. `permanent` means retrying cannot help (a rejection, bad credentials,
    a 4xx other than 408/429); `retry_after` is the wait in seconds the receiver asked for."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.message!r}, permanent={self.permanent}, "
            f"retry_after={self.retry_after})"
        )


class Channel(Protocol):
    """One configured destination. `send` is synchronous on purpose: the monitor runs deliveries
    in a worker thread, and smtplib and httpx.Client are simplest used that way."""

    name: str
    kind: str

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None: ...


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every non-empty secret replaced, for error messages built from library text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def one_line(text: str, limit: int = 300) -> str:
    """Library and server text squeezed onto one short line, for an error message."""
    squeezed = " ".join(text.split())
    return squeezed if len(squeezed) <= limit else squeezed[: limit - 1] + "…"


def _version() -> str:
    try:
        return metadata.version("policywatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"policywatch/{_version()}"


def options_from(options_type: type[T], kind: str, name: str, values: Mapping[str, Any]) -> T:
    """Build a channel's options dataclass from plain config values (TOML arrays become tuples).

    Raises ValueError naming the channel and the option; a secret's value is never shown.
    """
    where = f"{kind} channel {name!r}"
    known = {f.name: f for f in dataclasses.fields(options_type)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown option {unknown[0]!r} (known: {', '.join(known)})")
    for option, spec in known.items():
        no_default = spec.default is dataclasses.MISSING
        if no_default and spec.default_factory is dataclasses.MISSING and option not in values:
            raise ValueError(f"{where}: missing option {option!r}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return options_type(**converted)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def check_text(option: str, value: object, *, optional: bool = False, secret: bool = False) -> None:
    """ValueError unless `value` is a one-line string (or None when `optional`)."""
    if value is None and optional:
        return
    shown = "" if secret else f", not {value!r}"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"option {option!r} must be a non-empty string{shown}")
    if any(c in value for c in "\r\n\x00"):
        raise ValueError(f"option {option!r} must be one line{shown}")


def check_positive(option: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"option {option!r} must be a positive number, not {value!r}")


def check_http_url(option: str, value: object, *, secret: bool = False) -> None:
    check_text(option, value, secret=secret)
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        shown = "" if secret else f", not {value!r}"
        raise ValueError(f"option {option!r} must be an http:// or https:// URL{shown}")
