"""The error tree of the monitor: what can go wrong, named so callers can act on it.

    PolicywatchError
     ├── ConfigError         config.toml is unreadable or wrong (key path, bad value); exit 2
     ├── UsageError          a command asked for something that does not exist; exit 2
     └── CheckError          an operational failure of one check: a check row, never a version
          ├── FetchError     the page could not be fetched ("fetch", "http_status", "challenge");
          │                  `transient` says whether trying again later may help
          └── ExtractError   the page was fetched but is not the document (login wall, error
                             page, interstitial, empty shell, selector miss, too short, shrink,
                             not HTML)

`alerts.DeliveryError` stands apart so `alerts` needs nothing from `monitor`.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "login_wall",
    "challenge",
    "error_page",
    "interstitial",
    "empty_shell",
    "selector_miss",
    "too_short",
    "shrink",
    "not_html",
    "http_status",
    "fetch",
]


class PolicywatchError(Exception):
    """Base of every error policywatch raises on purpose."""


class ConfigError(PolicywatchError):
    """The configuration is wrong; the message names the file, the key path and the bad value."""

    def __init__(self, message: str, *, path: str = "", key: str = "") -> None:
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(PolicywatchError):
    """A command asked for something that does not exist (unknown slug, version out of range...)."""


class CheckError(PolicywatchError):
    """An operational failure of one check: recorded, reported, never turned into a version."""

    kind: ErrorKind = "fetch"

    def __init__(self, kind: ErrorKind, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(message)


class FetchError(CheckError):
    """The page could not be fetched: network failure, HTTP error status, or a bot challenge."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(kind, message)
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class ExtractError(CheckError):
    """The page was fetched, but what it holds is not the document (a wall, a shell, a miss)."""
