"""The Apprise channel end to end: a real change reaches a real HTTP receiver through Apprise's
JSON webhook (`json://`), a receiver answering 500 is retried by the outbox, and a missing or
unparsable Apprise URL is a one-line configuration error before anything is written."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts import AppriseChannel, AppriseOptions, DeliveryError
from alerts.render import sample_payload
from monitor import config
from monitor.alerting.outbox import secret_forms
from monitor.cli.main import main
from monitor.config import channel_secrets
from monitor.daemon.runtime import make_outbox
from tests.pageserver import PageServer, fresh_page
from tests.sitegen import AI_SENTENCE_CHANGED, sample_policy
from tests.support import document, harness, write_config
from tests.webhookreceiver import WebhookReceiver

URL_ENV = "PW_TEST_APPRISE_URL"


def apprise_channel(name: str = "phone") -> str:
    return (
        f'[[channels]]\nname = "{name}"\nkind = "apprise"\nurl_env = "{URL_ENV}"\ntimeout = "5s"\n'
    )


def json_url(receiver: WebhookReceiver) -> str:
    """Apprise's JSON webhook pointed at the receiver (Apprise posts to http:// for json://)."""
    return f"json://127.0.0.1:{receiver.port}/hook"


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def test_a_change_reaches_the_receiver_through_apprise(
    tmp_path: Path,
    site: PageServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with WebhookReceiver([200]) as receiver:
        monkeypatch.setenv(URL_ENV, json_url(receiver))
        site.set("/policy", fresh_page())
        cfg = write_config(tmp_path, document("policy", site.url("/policy")) + apprise_channel())
        assert main(["--config", str(cfg), "check"]) == 0  # the first version alerts nobody
        assert receiver.requests == []
        site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
        assert main(["--config", str(cfg), "check"]) == 0
        assert "alert → phone: sent" in capsys.readouterr().out
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    body = json.loads(request.body)
    assert body["title"].startswith("[policywatch] Policy: ai-training")
    assert "Policy" in body["message"] and "train" in body["message"]
    assert "/documents/policy/versions/2/change" in body["message"]  # the link to the diff


def test_a_failing_receiver_is_retried_then_delivered(
    tmp_path: Path, site: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver([500, 200]) as receiver:
        monkeypatch.setenv(URL_ENV, json_url(receiver))
        site.set("/policy", fresh_page())
        cfg = write_config(tmp_path, document("policy", site.url("/policy")) + apprise_channel())
        with harness(cfg) as h:
            h.check("policy")
            site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
            h.check("policy")
            outbox = make_outbox(h.settings, h.store)
            outbox._rng = random.Random(0)
            now = h.clock.now()
            [first] = outbox.deliver_due(now)
            assert first.status == "failed" and first.retry_at is not None  # retryable
            assert first.error is not None and "apprise channel 'phone'" in first.error
            assert "500" in first.error
            [row] = h.repo.outbox.deliveries()
            assert (row.status, row.attempts, row.last_error) == ("failed", 1, first.error)
            assert outbox.deliver_due(now) == []  # not due yet
            [second] = outbox.deliver_due(first.retry_at)
            assert second.status == "sent"
            [row] = h.repo.outbox.deliveries()
            assert (row.status, row.attempts) == ("sent", 2)
    assert len(receiver.requests) == 2
    assert {json.loads(r.body)["title"] for r in receiver.requests} == {
        json.loads(receiver.requests[0].body)["title"]
    }


def test_notify_false_is_a_transient_delivery_error() -> None:
    with WebhookReceiver([503]) as receiver:
        channel = AppriseChannel("phone", AppriseOptions(url=json_url(receiver), timeout=5))
        now = datetime(2026, 5, 1, tzinfo=UTC)
        with pytest.raises(DeliveryError) as caught:
            channel.send(sample_payload(), idempotency_key="k", now=now)
    assert not caught.value.permanent
    assert "json:// notification failed" in caught.value.message


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (None, f"channels[0].url_env: environment variable {URL_ENV} is not set"),
        (
            "nosuchservice://tok-3f9a@example.org",
            f"channels[0].url_env: the value of {URL_ENV}: Apprise cannot parse the URL "
            "(nosuchservice://)",
        ),
        ("just words", "Apprise cannot parse the URL (a value without a scheme://)"),
    ],
    ids=["missing", "unknown-service", "not-a-url"],
)
def test_bad_apprise_url_is_a_config_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
    needle: str,
) -> None:
    if value is None:
        monkeypatch.delenv(URL_ENV, raising=False)
    else:
        monkeypatch.setenv(URL_ENV, value)
    cfg = write_config(tmp_path, document("a", "https://example.org/a") + apprise_channel())
    for command in (["check"], ["run", "--no-web"], ["test-alert", "phone"]):
        assert main(["--config", str(cfg), *command]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
        assert "tok-3f9a" not in err  # the URL's token is never shown
    assert list(tmp_path.iterdir()) == [cfg]  # nothing written


@pytest.mark.parametrize(
    ("channel", "needle"),
    [
        (
            '[[channels]]\nname = "p"\nkind = "apprise"\n',
            "channels[0].url_env: required key is missing",
        ),
        (
            '[[channels]]\nname = "p"\nkind = "apprise"\nurl = "json://h/x"\nurl_env = "X"\n',
            "channels[0].url: unknown key",
        ),
    ],
    ids=["no-url-env", "url-in-the-file"],
)
def test_apprise_url_only_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], channel: str, needle: str
) -> None:
    cfg = write_config(tmp_path, document("a", "https://example.org/a") + channel)
    assert main(["--config", str(cfg), "history", "a"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1, err


def test_retry_delay_comes_from_the_outbox(
    tmp_path: Path, site: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apprise gives no Retry-After: the outbox's own back-off decides the next attempt."""
    with WebhookReceiver([500]) as receiver:
        monkeypatch.setenv(URL_ENV, json_url(receiver))
        site.set("/policy", fresh_page())
        extra = '[alerts]\nbackoff = "10m"\nmax_attempts = 2\n'
        cfg = write_config(
            tmp_path, document("policy", site.url("/policy")) + apprise_channel(), extra
        )
        with harness(cfg) as h:
            h.check("policy")
            site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
            h.check("policy")
            outbox = make_outbox(h.settings, h.store)
            now = h.clock.now()
            [first] = outbox.deliver_due(now)
            assert first.retry_at is not None
            assert now + timedelta(minutes=5) <= first.retry_at <= now + timedelta(minutes=10)
            [last] = outbox.deliver_due(first.retry_at)
            assert last.status == "dead"  # max_attempts reached


def test_the_tokens_of_an_apprise_url_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV, "json://pw-user:tok-5be1c0ffee@127.0.0.1:9/hook/room-4a7d2f19")
    cfg = write_config(tmp_path, document("a", "https://example.org/a") + apprise_channel())
    settings = config.load(cfg)
    forms = secret_forms(settings, channel_secrets(settings), {URL_ENV: ""})
    for token in ("tok-5be1c0ffee", "room-4a7d2f19", "pw-user:tok-5be1c0ffee@127.0.0.1:9"):
        assert token in forms
    assert "hook" not in forms  # a short word of the path is not a secret
