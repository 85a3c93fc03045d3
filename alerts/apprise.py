"""The Apprise channel: one alert, as a title and a plain-text body, sent to any service the
Apprise library reaches from one URL (Telegram, Matrix, Signal, ntfy, Teams, a JSON webhook...).

The URL is a secret (it carries the service's token), so it is never shown: errors name its
scheme only. Apprise is imported when a channel is built, never when `alerts` is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from alerts.base import DeliveryError, check_positive, check_text, one_line
from alerts.render import render

if TYPE_CHECKING:
    from apprise import NotifyBase

_PROBLEMS = frozenset({"WARNING", "ERROR", "CRITICAL"})  # the log levels that say why it failed


def _scheme(url: str) -> str:
    """What of an Apprise URL may be shown: its scheme (`tgram://`), or a hint that it has none."""
    scheme, sep, _ = url.partition("://")
    if sep and scheme and scheme.isascii() and scheme.replace("+", "").isalnum():
        return f"{scheme}://"
    return "a value without a scheme://"


def service_of(url: str) -> NotifyBase:
    """The Apprise service for `url`; ValueError (naming only the scheme) when Apprise cannot
    parse it or the service it names cannot run here (a plugin whose library is missing)."""
    import apprise

    service = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if service is None:
        raise ValueError(f"Apprise cannot parse the URL ({_scheme(url)})")
    if not service.enabled:
        raise ValueError(f"the Apprise service of the URL ({_scheme(url)}) is not available here")
    return service


@dataclass(frozen=True, kw_only=True)
class AppriseOptions:
    """An Apprise URL (a secret) and the time one attempt may take."""

    url: str = field(repr=False)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_text("url", self.url, secret=True)
        check_positive("timeout", self.timeout)


class AppriseChannel:
    """Sends each alert through Apprise: the subject as the title, the plain-text email part as
    the body. Apprise reporting a failure is a transient DeliveryError (its log says why): the
    outbox retries it like a webhook answering 500."""

    kind = "apprise"
    options_type: ClassVar[type[AppriseOptions]] = AppriseOptions

    def __init__(self, name: str, options: AppriseOptions) -> None:
        self.name = name
        self.options = options
        self._service = service_of(options.url)  # an unparsable URL fails here, at config load
        # Apprise keeps, in its result, the log records its logger lets through: the reason of
        # a failure is a warning.
        apprise_log = logging.getLogger("apprise")
        if apprise_log.getEffectiveLevel() > logging.WARNING:
            apprise_log.setLevel(logging.WARNING)
        # Apprise's own per-request limits, bounded by the channel's.
        for limit in ("socket_connect_timeout", "socket_read_timeout"):
            if isinstance(getattr(self._service, limit, None), int | float):
                setattr(self._service, limit, options.timeout)

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        import apprise
        from apprise.exception import AppriseException

        message = render(payload, idempotency_key=idempotency_key, channel=self.name)
        notifier = apprise.Apprise()
        notifier.add(self._service)
        label = f"apprise channel {self.name!r}"
        try:
            result = notifier.notify(
                body=message.text,
                title=message.subject,
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self.options.timeout,
            )
        except AppriseException as exc:
            raise DeliveryError(f"{label}: {one_line(str(exc))}") from None
        if result:
            return
        reasons = [e.message for e in result.logs() if e.level in _PROBLEMS]
        why = one_line("; ".join(reasons) or "Apprise reported no reason")
        raise DeliveryError(f"{label}: {_scheme(self.options.url)} notification failed ({why})")
