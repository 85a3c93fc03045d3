"""Pending alerts -> channels: claim, send, record; retry with back-off, give up into `dead`.

A delivery is claimed for a lease right before it is sent, so two processes (the daemon and a
`policywatch check`) never send it at the same time, and a crash strands only the delivery in
flight until its lease runs out; it is marked sent right after the channel accepts it, so it is
never sent twice after it succeeded (a crash between the two can repeat it: receivers recognise
the repeat by its stable idempotency key). `stop()` ends a pass after the delivery in flight.
Retries back off exponentially with jitter, a receiver's Retry-After wins, permanent failures and
the last attempt go `dead`. Digest channels get one message for all their alerts of a period.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import random
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from alerts import Channel, DeliveryError, make_channel
from monitor.config import (
    AnyChannel,
    AppriseChannelSettings,
    EmailChannelSettings,
    Settings,
    channel_secrets,
)
from monitor.errors import ConfigError
from storage.redact import redact
from storage.repo import Repo
from storage.values import DeliveryOut

log = logging.getLogger("policywatch.delivery")
LEASE = timedelta(minutes=10)


def build_channels(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> dict[str, Channel]:
    """The configured channels, secrets read from the environment (a missing one: ConfigError).

    Their errors never carry a configured secret: a receiver may echo one back (a proxy's
    "Cannot POST /services/T0/B0/xyz", an SMTP server repeating the AUTH line), and an error
    message goes to the log, the database and the web UI.
    """
    secrets = channel_secrets(settings, environ)
    hidden = secret_forms(settings, secrets, environ)
    channels: dict[str, Channel] = {}
    for index, conf in enumerate(settings.channels):
        options = conf.options(secrets[conf.name])
        if isinstance(options.get("path"), str):  # a relative path is relative to the config
            options["path"] = str(settings.path.parent / options["path"])
        try:
            channel = make_channel(conf.kind, conf.name, options)
        except ValueError as exc:
            key, message = f"channels[{index}]", str(exc)
            if isinstance(conf, AppriseChannelSettings):  # the URL is the variable's value
                key, message = f"{key}.url_env", f"the value of {conf.url_env}: {message}"
            raise ConfigError(message, path=str(settings.path), key=key) from None
        channels[conf.name] = MaskedChannel(channel, hidden)
    return channels


def secret_forms(
    settings: Settings, secrets: Mapping[str, Mapping[str, str]], environ: Mapping[str, str]
) -> tuple[str, ...]:
    """Every secret value, and the forms a receiver may echo it in, longest first."""
    forms: set[str] = set()
    for conf in settings.channels:
        for value in secrets.get(conf.name, {}).values():
            forms.add(value)
            parts = urlsplit(value)
            if parts.scheme and parts.path.strip("/"):  # a URL whose path is the secret
                forms.update({parts.path, parts.path.strip("/")})
                if parts.query:
                    forms.add(f"{parts.path}?{parts.query}")
            if isinstance(conf, AppriseChannelSettings) and parts.scheme:
                # Apprise URLs carry tokens anywhere: tgram://TOKEN/CHAT, ntfy://user:pass@host;
                # short parts (a path's "hook") are words, not tokens.
                pieces = (parts.netloc, parts.username, parts.password, *parts.path.split("/"))
                forms.update(p for p in pieces if p and len(p) >= 8)
        password = secrets.get(conf.name, {}).get("password")
        if isinstance(conf, EmailChannelSettings) and password:
            # AUTH LOGIN sends the password in base64, AUTH PLAIN "\0user\0password".
            plain = f"\0{conf.username or ''}\0{password}".encode()
            forms.update(base64.b64encode(v).decode() for v in (password.encode(), plain))
    token = settings.web.resolved_token(environ)
    if token:
        forms.add(token)
    return tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))


class MaskedChannel:
    """A channel whose DeliveryError messages have every secret form replaced by "***"."""

    def __init__(self, inner: Channel, secrets: Sequence[str]) -> None:
        self.inner = inner
        self.name = inner.name
        self.kind = inner.kind
        self._secrets = tuple(secrets)

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        try:
            self.inner.send(payload, idempotency_key=idempotency_key, now=now)
        except DeliveryError as exc:
            message = exc.message
            for secret in self._secrets:
                message = message.replace(secret, "***")
            message = redact(message)  # a configured URL's token or credentials, by their shape
            if message == exc.message:
                raise
            # Not chained: the original error, secret and all, must not reach a traceback.
            raise DeliveryError(
                message, permanent=exc.permanent, retry_after=exc.retry_after
            ) from None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt did."""

    delivery_id: int
    channel: str
    status: str  # "sent" | "failed" (will retry) | "dead"
    error: str | None = None
    retry_at: datetime | None = None


class Outbox:
    """Delivers the due alerts of one database through the configured channels."""

    def __init__(
        self,
        repo: Repo,
        settings: Settings,
        channels: Mapping[str, Channel],
        *,
        rng: random.Random | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.channels = channels
        self.conf: dict[str, AnyChannel] = {c.name: c for c in settings.channels}
        self._rng = rng or random.Random()
        self._lease = lease
        self._stop = threading.Event()

    def stop(self) -> None:
        """Finish the delivery in flight, start no other (the daemon is shutting down)."""
        self._stop.set()

    def deliver_due(self, now: datetime) -> list[Attempt]:
        """Send every due delivery once; digest channels get one message per channel.

        Each delivery is claimed just before its attempt, not the whole batch at once, so a
        crash or a stop in the middle of a pass leaves the rest due, not leased.
        """
        attempts: list[Attempt] = []
        digests: dict[str, list[DeliveryOut]] = defaultdict(list)
        for due in self.repo.outbox.due_deliveries(now):
            if self._stop.is_set():
                return attempts
            conf = self.conf.get(due.channel)
            if conf is not None and conf.digest != "immediate":
                digests[due.channel].append(due)
            elif delivery := self.repo.outbox.claim_delivery(due.id, now, self._lease):
                attempts.append(self._send(delivery.channel, [delivery], delivery.payload, now))
        for name, due_group in digests.items():
            if self._stop.is_set():
                break
            group = [
                d
                for g in due_group
                if (d := self.repo.outbox.claim_delivery(g.id, now, self._lease))
            ]
            if group:
                attempts.append(self._send(name, group, self._digest(name, group, now), now))
        return attempts

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones: exponential, half jitter."""
        alerts = self.settings.alerts
        delay: float = min(alerts.max_backoff, alerts.backoff * 2.0 ** max(attempts - 1, 0))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _send(
        self, name: str, group: list[DeliveryOut], payload: Mapping[str, Any], now: datetime
    ) -> Attempt:
        channel = self.channels.get(name)
        first = group[0]
        key = first.idempotency_key if len(group) == 1 else _group_key(group)
        try:
            if channel is None:
                raise DeliveryError(f"channel {name!r} is no longer configured", permanent=True)
            channel.send(payload, idempotency_key=key, now=now)
        except DeliveryError as exc:
            return self._failed(name, group, exc, now)
        for delivery in group:
            self.repo.outbox.delivery_sent(delivery.id, now)
        log.info("delivered alert %s to %s", ", ".join(str(d.alert_id) for d in group), name)
        return Attempt(first.id, name, "sent")

    def _failed(
        self, name: str, group: list[DeliveryOut], exc: DeliveryError, now: datetime
    ) -> Attempt:
        attempts = max(d.attempts for d in group) + 1
        retry_at: datetime | None = None
        if not exc.permanent and attempts < self.settings.alerts.max_attempts:
            wait = max(self.backoff(attempts), exc.retry_after or 0.0)
            retry_at = now + timedelta(seconds=wait)
        for delivery in group:
            self.repo.outbox.delivery_failed(delivery.id, exc.message, retry_at)
        status = "failed" if retry_at else "dead"
        when = f"; next try at {retry_at:%Y-%m-%d %H:%M:%S} UTC" if retry_at else "; gave up"
        log.warning("delivery to %s failed (attempt %d): %s%s", name, attempts, exc.message, when)
        return Attempt(group[0].id, name, status, exc.message, retry_at)

    def _digest(self, name: str, group: list[DeliveryOut], now: datetime) -> dict[str, Any]:
        conf = self.conf[name]
        starts = [datetime.fromisoformat(str(d.payload.get("created_at"))) for d in group]
        base = self.settings.web.base_url.rstrip("/")
        return {
            "schema": "policywatch.alert/1",
            "kind": "digest",
            "created_at": now.isoformat(),
            "document": None,
            "change": None,
            "incident": None,
            "digest": {
                "period": conf.digest,
                "start": min(starts).isoformat(),
                "end": now.isoformat(),
                "alerts": [d.payload for d in group],
            },
            "links": {"document": base + "/"},
        }


def _group_key(group: list[DeliveryOut]) -> str:
    """A digest's idempotency key: stable for the same set of deliveries across retries."""
    joined = ",".join(sorted(d.idempotency_key for d in group))
    return hashlib.sha256(joined.encode()).hexdigest()


async def deliver_in_background(outbox: Outbox, now: datetime) -> list[Attempt]:
    """`outbox.deliver_due(now)` in a daemon thread of its own. A send can block for the
    channel's whole timeout; a stopping process (Outbox.stop() first) does not wait for it: the
    delivery in flight stays claimed until its lease ends and is sent again then, with the same
    idempotency key. (asyncio.to_thread's threads are waited for at exit.)"""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Attempt]] = loop.create_future()

    def settle(result: list[Attempt] | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or [])

    def run() -> None:
        try:
            result, error = outbox.deliver_due(now), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: the process stopped
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="policywatch-deliveries", daemon=True).start()
    return await done
