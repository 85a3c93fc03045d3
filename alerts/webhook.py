"""The HTTP channels: a generic JSON webhook signed with HMAC-SHA256 (and `verify_signature`, the
receiver's side), and Slack and Discord incoming webhooks in their own message shapes."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from alerts.base import (
    USER_AGENT,
    DeliveryError,
    check_http_url,
    check_positive,
    check_text,
    one_line,
    redact,
)
from alerts.render import render, render_discord, render_slack
from alerts.view import header_safe

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_OWN_HEADERS = frozenset(
    {
        "content-type",
        "user-agent",
        "x-policywatch-delivery",
        "x-policywatch-timestamp",
        "x-policywatch-signature",
    }
)


@dataclass(frozen=True, kw_only=True)
class WebhookOptions:
    """A generic webhook: `secret` signs each body; `headers` are sent as well (an API key)."""

    url: str = field(repr=False)  # may carry a token
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        check_http_url("url", self.url)
        check_text("secret", self.secret, optional=True, secret=True)
        check_positive("timeout", self.timeout)
        if not isinstance(self.headers, Mapping):
            raise ValueError("option 'headers' must be a table of header names to values")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ValueError(f"option 'headers' has an invalid header name {name!r}")
            check_text(f"headers.{name}", value, secret=True)


@dataclass(frozen=True, kw_only=True)
class ChatOptions:
    """A Slack or Discord incoming webhook: its URL is the secret, so it is never shown."""

    url: str = field(repr=False)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        check_http_url("url", self.url, secret=True)
        check_positive("timeout", self.timeout)


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes posted and signed: compact JSON, keys sorted, UTF-8."""
    text = json.dumps(
        body, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: datetime,
    tolerance: float = 300,
) -> bool:
    """The receiver's check of a policywatch webhook: the X-Policywatch-Signature header matches
    the raw body and the X-Policywatch-Timestamp header, which is within `tolerance` seconds of
    `now` (so a captured request cannot be replayed later). Compares in constant time."""
    stamp = str(timestamp).strip()
    if not _TIMESTAMP.fullmatch(stamp) or abs(now.timestamp() - int(stamp)) > tolerance:
        return False
    expected = sign(secret, stamp, body).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now`: delta-seconds or an HTTP-date; None when absent or bad."""
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = now if now.tzinfo else now.replace(tzinfo=UTC)
    return max(0.0, (moment - current).total_seconds())


def post_json(
    label: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    now: datetime,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """POST `body`; 2xx is done, anything else a DeliveryError (408/429/5xx and network
    failures transient, other statuses permanent). Errors name the host, never the full URL."""
    host = urlsplit(url).netloc.rpartition("@")[2]
    hidden = (url, *secrets)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{label}: {host} did not answer within {timeout:g} s") from exc
    except httpx.UnsupportedProtocol as exc:
        raise DeliveryError(f"{label}: the URL scheme is not supported", permanent=True) from exc
    except httpx.TransportError as exc:
        reason = redact(one_line(str(exc) or type(exc).__name__), hidden)
        raise DeliveryError(f"{label}: could not reach {host} ({reason})") from exc
    status = response.status_code
    if 200 <= status < 300:
        return
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    detail = redact(one_line(response.text, 200), hidden) if response.content else ""
    what = f"{label}: {host} answered HTTP {status} {response.reason_phrase}".rstrip()
    what += f" ({detail})" if detail else ""
    if status in (408, 429) or status >= 500:
        raise DeliveryError(what, retry_after=retry_after)
    if 300 <= status < 400:
        raise DeliveryError(f"{what}; it redirects, so set the URL it points to", permanent=True)
    raise DeliveryError(what, permanent=True)


def _base_headers(idempotency_key: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Policywatch-Delivery": header_safe(idempotency_key, 200),
    }


class WebhookChannel:
    """POSTs the alert payload plus a `text` summary as JSON, signed when a secret is set."""

    kind = "webhook"
    options_type: ClassVar[type[WebhookOptions]] = WebhookOptions

    def __init__(self, name: str, options: WebhookOptions) -> None:
        self.name = name
        self.options = options

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        options = self.options
        message = render(payload, idempotency_key=idempotency_key, channel=self.name)
        body = encode_body(message.json)
        timestamp = str(int(now.timestamp()))
        headers = {k: v for k, v in options.headers.items() if k.lower() not in _OWN_HEADERS}
        headers |= _base_headers(idempotency_key)
        headers["X-Policywatch-Timestamp"] = timestamp
        if options.secret:
            headers["X-Policywatch-Signature"] = sign(options.secret, timestamp, body)
        secrets = (options.secret, *options.headers.values())
        label = f"webhook channel {self.name!r}"
        post_json(
            label, options.url, body, headers, timeout=options.timeout, now=now, secrets=secrets
        )


class _ChatChannel:
    """A chat incoming webhook: the alert in the chat's own shape, no signature (the secret
    is the URL)."""

    kind = "chat"
    options_type: ClassVar[type[ChatOptions]] = ChatOptions

    def __init__(self, name: str, options: ChatOptions) -> None:
        self.name = name
        self.options = options

    def body(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        body = encode_body(self.body(payload))
        label = f"{self.kind} channel {self.name!r}"
        headers = _base_headers(idempotency_key)
        post_json(label, self.options.url, body, headers, timeout=self.options.timeout, now=now)


class SlackChannel(_ChatChannel):
    """Posts to a Slack incoming webhook: a `text` fallback and section blocks."""

    kind = "slack"

    def body(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return render_slack(payload, channel=self.name)


class DiscordChannel(_ChatChannel):
    """Posts to a Discord webhook: `content` and one embed within Discord's limits."""

    kind = "discord"

    def body(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return render_discord(payload, channel=self.name)
