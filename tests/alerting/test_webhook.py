"""The webhook, Slack and Discord channels against a real HTTP receiver on 127.0.0.1: the signed
body, status codes mapped to transient or permanent errors, Retry-After, and the chat shapes."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts import make_channel
from alerts.base import DeliveryError
from alerts.chat import DISCORD_FIELDS, DISCORD_TOTAL, SLACK_BLOCKS
from alerts.webhook import (
    ChatOptions,
    DiscordChannel,
    SlackChannel,
    WebhookChannel,
    WebhookOptions,
    encode_body,
    parse_retry_after,
    verify_signature,
)
from tests.alerting.test_render import change_payload, many_changes, three_changes
from tests.webhookreceiver import WebhookReceiver

NOW = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
KEY = "delivery-7f3e"
SECRET = "whsec-0b7d1c9a"


def payload() -> dict[str, Any]:
    return change_payload(["ai-training"], three_changes(), name="Politique de confidentialité")


def send(receiver: WebhookReceiver, *, secret: str | None = SECRET, **extra: Any) -> None:
    options = WebhookOptions(url=receiver.url, secret=secret, timeout=5.0, **extra)
    WebhookChannel("hook", options).send(payload(), idempotency_key=KEY, now=NOW)


def test_signed_body_verifies_on_the_receiver_side() -> None:
    with WebhookReceiver([200]) as receiver:
        send(receiver)
    (request,) = receiver.requests
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("policywatch/")
    assert headers["x-policywatch-delivery"] == KEY
    assert headers["x-policywatch-timestamp"] == str(int(NOW.timestamp()))
    stamp, signature = headers["x-policywatch-timestamp"], headers["x-policywatch-signature"]
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, stamp, request.body, signature, now=NOW + timedelta(seconds=5))
    body = json.loads(request.body)
    assert body == {**payload(), "text": body["text"]}
    assert body["text"].startswith(
        "[policywatch] Politique de confidentialité: ai-training language"
    )
    assert request.body == encode_body(body)  # compact, sorted, UTF-8: the exact bytes signed
    assert "confidentialité".encode() in request.body


@pytest.mark.parametrize(
    ("secret", "stamp", "body", "now"),
    [
        pytest.param("other secret", None, None, NOW, id="wrong-secret"),
        pytest.param(SECRET, None, b'{"kind":"forged"}', NOW, id="tampered-body"),
        pytest.param(SECRET, str(int(NOW.timestamp()) + 1), None, NOW, id="other-timestamp"),
        pytest.param(SECRET, None, None, NOW + timedelta(seconds=301), id="replayed-late"),
        pytest.param(SECRET, "soon", None, NOW, id="bad-timestamp"),
    ],
)
def test_verify_signature_rejects(
    secret: str, stamp: str | None, body: bytes | None, now: datetime
) -> None:
    with WebhookReceiver([200]) as receiver:
        send(receiver)
    (request,) = receiver.requests
    headers = request.headers
    assert verify_signature(
        SECRET,
        headers["x-policywatch-timestamp"],
        request.body,
        headers["x-policywatch-signature"],
        now=NOW,
    )
    assert not verify_signature(
        secret,
        stamp or headers["x-policywatch-timestamp"],
        body or request.body,
        headers["x-policywatch-signature"],
        now=now,
    )


def test_no_secret_means_no_signature_and_custom_headers_are_sent() -> None:
    with WebhookReceiver([200]) as receiver:
        send(
            receiver,
            secret=None,
            headers={"Authorization": "Bearer t0k3n", "X-Policywatch-Delivery": "spoof"},
        )
    (request,) = receiver.requests
    assert "x-policywatch-signature" not in request.headers
    assert request.headers["authorization"] == "Bearer t0k3n"
    assert request.headers["x-policywatch-delivery"] == KEY  # ours win over a configured one


@pytest.mark.parametrize(
    ("status", "retry_after", "permanent", "expected_retry"),
    [
        (500, None, False, None),
        (503, "120", False, 120.0),
        (429, "30", False, 30.0),
        (429, "Mon, 23 Nov 2026 09:06:00 GMT", False, 60.0),
        (408, None, False, None),
        (400, None, True, None),
        (404, None, True, None),
        (301, None, True, None),
    ],
)
def test_error_statuses(
    status: int, retry_after: str | None, permanent: bool, expected_retry: float | None
) -> None:
    receiver = WebhookReceiver([status], retry_after=retry_after, body=b"nope")
    with receiver, pytest.raises(DeliveryError) as caught:
        send(receiver)
    error = caught.value
    assert error.permanent is permanent
    assert error.retry_after == expected_retry
    assert (
        f"webhook channel 'hook': 127.0.0.1:{receiver.port} answered HTTP {status}" in error.message
    )
    assert SECRET not in error.message


def test_transient_failure_then_success_sends_the_same_delivery() -> None:
    with WebhookReceiver([500, 200]) as receiver:
        with pytest.raises(DeliveryError):
            send(receiver)
        send(receiver)
    first, second = receiver.requests
    assert first.body == second.body
    assert (
        first.headers["x-policywatch-delivery"] == second.headers["x-policywatch-delivery"] == KEY
    )


def test_refused_connection_is_transient() -> None:
    with WebhookReceiver([200]) as receiver:
        url = receiver.url
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel("hook", WebhookOptions(url=url, secret=SECRET)).send(
            payload(), idempotency_key=KEY, now=NOW
        )
    assert not caught.value.permanent
    assert "could not reach 127.0.0.1" in caught.value.message


def test_silent_receiver_times_out_as_transient() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        channel = WebhookChannel("hook", WebhookOptions(url=url, timeout=0.2))
        with pytest.raises(DeliveryError) as caught:
            channel.send(payload(), idempotency_key=KEY, now=NOW)
    assert not caught.value.permanent
    assert "did not answer within 0.2 s" in caught.value.message


def test_chat_errors_never_show_the_url() -> None:
    with WebhookReceiver([403], body=b"invalid_token") as receiver:
        url = receiver.url + "/T000/B000/XXXXsecretXXXX"
        with pytest.raises(DeliveryError) as caught:
            SlackChannel("team", ChatOptions(url=url)).send(payload(), idempotency_key=KEY, now=NOW)
    assert caught.value.permanent
    assert "secret" not in caught.value.message
    assert "slack channel 'team'" in caught.value.message
    assert "invalid_token" in caught.value.message


def test_slack_posts_its_shape() -> None:
    with WebhookReceiver([200]) as receiver:
        SlackChannel("team", ChatOptions(url=receiver.url)).send(
            many_changes(60, words=300), idempotency_key=KEY, now=NOW
        )
    body = json.loads(receiver.requests[0].body)
    assert body["text"].startswith(
        "[policywatch] Example Privacy Policy: data-sharing language changed (60 changes)"
    )
    assert body["blocks"][0]["type"] == "header"
    assert len(body["blocks"]) <= SLACK_BLOCKS
    assert "x-policywatch-signature" not in receiver.requests[0].headers


def test_discord_posts_its_shape_within_limits() -> None:
    with WebhookReceiver([204]) as receiver:
        DiscordChannel("mods", ChatOptions(url=receiver.url)).send(
            many_changes(60, words=2000), idempotency_key=KEY, now=NOW
        )
    body = json.loads(receiver.requests[0].body)
    (embed,) = body["embeds"]
    assert len(embed["fields"]) <= DISCORD_FIELDS
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    assert total + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]) <= DISCORD_TOTAL
    assert body["allowed_mentions"] == {"parse": []}


def test_parse_retry_after() -> None:
    assert parse_retry_after("30", NOW) == 30.0
    assert parse_retry_after(" 2.5 ", NOW) == 2.5
    assert parse_retry_after("Mon, 23 Nov 2026 09:04:00 GMT", NOW) == 0.0  # already past
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        (
            "webhook",
            {"url": "ftp://example.org/x"},
            "option 'url' must be an http:// or https:// URL",
        ),
        (
            "webhook",
            {"url": "https://example.org/x", "timeout": 0},
            "option 'timeout' must be a positive number",
        ),
        (
            "webhook",
            {"url": "https://example.org/x", "headers": {"Bad Name": "x"}},
            "invalid header name",
        ),
        ("slack", {"url": "https://hooks.example.org/x", "secret": "s"}, "unknown option 'secret'"),
        ("discord", {"url": "not a url"}, "option 'url' must be an http:// or https:// URL"),
    ],
)
def test_make_channel_rejects_bad_webhook_options(
    kind: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"{kind} channel 'hook'") as caught:
        make_channel(kind, "hook", values)
    assert message in str(caught.value)
    assert "not a url" not in str(caught.value)  # a chat URL is a secret


def test_make_channel_builds_each_http_kind() -> None:
    url = "https://hooks.example.org/x"
    assert isinstance(make_channel("webhook", "a", {"url": url, "secret": "s"}), WebhookChannel)
    assert isinstance(make_channel("slack", "b", {"url": url}), SlackChannel)
    assert isinstance(make_channel("discord", "c", {"url": url, "timeout": 3}), DiscordChannel)
    assert SECRET not in repr(WebhookOptions(url=url, secret=SECRET))
