"""Alerts end to end: a real page changes, the email reaches a real SMTP server and the webhook a
real receiver; subscriptions filter; the outbox retries, gives up, and never sends twice;
incidents alert once on opening and once on closing; digests group a period's alerts."""

from __future__ import annotations

import json
import mailbox
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.webhook import verify_signature
from monitor import config
from monitor.cli.main import main
from monitor.daemon.runtime import make_outbox
from tests.pageserver import PageServer, Response, fresh_page
from tests.sitegen import AI_SENTENCE_CHANGED, LOGIN_WALL, sample_policy
from tests.smtpserver import SmtpServer
from tests.support import document, harness, write_config
from tests.webhookreceiver import WebhookReceiver

HTML = {"Content-Type": "text/html; charset=utf-8"}
SECRET = "hook-secret-value-7f3a"


def email_channel(smtp: SmtpServer, **extra: str) -> str:
    lines = [
        "[[channels]]",
        'name = "newsroom"',
        'kind = "email"',
        'topics = ["ai-training", "research"]',
        f'smtp_host = "{smtp.host}"',
        f"smtp_port = {smtp.port}",
        'security = "none"',
        'from = "policywatch <alerts@example.org>"',
        'to = ["desk@example.org"]',
        'timeout = "5s"',
    ] + [f'{k} = "{v}"' for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def webhook_channel(receiver: WebhookReceiver, name: str = "hook", **extra: str) -> str:
    lines = ["[[channels]]", f'name = "{name}"', 'kind = "webhook"', f'url = "{receiver.url}"']
    lines += ['secret_env = "PW_TEST_HOOK_SECRET"', 'timeout = "5s"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_TEST_HOOK_SECRET", SECRET)


def test_ai_training_change_reaches_email_and_webhook(
    tmp_path: Path, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with SmtpServer() as smtp, WebhookReceiver([200]) as receiver:
        site.set("/policy", fresh_page())
        extra = '[web]\nbase_url = "http://127.0.0.1:9999"\n'
        cfg = write_config(
            tmp_path,
            document("policy", site.url("/policy"))
            + email_channel(smtp)
            + webhook_channel(receiver),
        )
        cfg.write_text(cfg.read_text() + extra)
        assert main(["--config", str(cfg), "check"]) == 0  # first version: nothing to report
        assert smtp.messages == [] and receiver.requests == []

        site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
        assert main(["--config", str(cfg), "check"]) == 0
        out = capsys.readouterr().out
        assert "alert → newsroom: sent" in out and "alert → hook: sent" in out

    [mail] = smtp.messages
    message = mail.message
    assert message["Subject"] == (
        "[policywatch] Policy: ai-training and behavioral-data language changed (1 change)"
    )
    assert list(mail.rcpt_tos) == ["desk@example.org"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert (
        "We [-do not use the content of your private messages-]{+may use information about how "
        "you interact with our products, such as clicks and scrolling,+} to train" in text
    )
    assert "## Privacy Policy › How do we use your information?" in text
    assert "<ins" in html and "<del" in html
    assert "http://127.0.0.1:9999/documents/policy/versions/2/change" in text

    [hook] = receiver.requests
    body = hook.body
    assert verify_signature(
        SECRET,
        hook.headers["x-policywatch-timestamp"],
        body,
        hook.headers["x-policywatch-signature"],
        now=datetime.now(UTC),
    )
    payload = json.loads(body)
    assert payload["schema"] == "policywatch.alert/1" and payload["kind"] == "change"
    assert payload["change"]["to_version"] == 2 and "ai-training" in payload["change"]["topics"]
    assert payload["ids"]["version"] == 2
    assert hook.headers["x-policywatch-delivery"] != message["X-Policywatch-Delivery"]


def test_subscriptions_filter_by_topic_and_significance(tmp_path: Path, site: PageServer) -> None:
    with (
        WebhookReceiver([200]) as everything,
        WebhookReceiver([200]) as default,
        WebhookReceiver([200]) as research_only,
    ):
        site.set("/policy", fresh_page())
        channels = webhook_channel(everything, "all", min_significance='"cosmetic"')
        channels += webhook_channel(default, "default")
        channels += webhook_channel(research_only, "research", topics='["research"]')
        cfg = write_config(tmp_path, document("policy", site.url("/policy")) + channels)
        with harness(cfg) as h:
            outbox = make_outbox(h.settings, h.store)
            h.check("policy")
            # A cosmetic change: straight quotes become curly ones, a heading loses its "?".
            sections = sample_policy()
            sections[0].paragraphs[0] = 'We collect what you "post" and "share".'
            site.set("/policy", fresh_page(sections))
            h.check("policy")
            sections[0].paragraphs[0] = "We collect what you “post” and “share”."
            site.set("/policy", fresh_page(sections))
            cosmetic = h.check("policy")
            assert cosmetic.outcome == "changed"
            assert cosmetic.significance == "cosmetic"
            # An ai-training change, not about research.
            site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
            assert h.check("policy").outcome == "changed"
            outbox.deliver_due(h.clock.now())
        assert len(everything.requests) == 3  # the minor change, the cosmetic one, the AI one
        assert len(default.requests) == 2  # not the cosmetic one
        assert research_only.requests == []  # none of them is about research


def test_outbox_retries_then_delivers_once_with_a_stable_key(
    tmp_path: Path, site: PageServer
) -> None:
    with WebhookReceiver([500, 503, 200], retry_after="120") as receiver:
        site.set("/policy", fresh_page())
        cfg = write_config(
            tmp_path, document("policy", site.url("/policy")) + webhook_channel(receiver)
        )
        with harness(cfg) as h:
            h.check("policy")
            site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
            h.check("policy")
            outbox = make_outbox(h.settings, h.store)
            outbox._rng = random.Random(0)
            now = h.clock.now()
            [first] = outbox.deliver_due(now)
            assert first.status == "failed" and first.retry_at is not None
            assert first.retry_at >= now + timedelta(seconds=120)  # Retry-After wins over back-off
            assert outbox.deliver_due(now) == []  # not due yet: nothing is sent early
            [second] = outbox.deliver_due(first.retry_at)
            assert second.status == "failed"
            [third] = outbox.deliver_due(second.retry_at + timedelta(seconds=1))
            assert third.status == "sent"
            assert outbox.deliver_due(third.retry_at or second.retry_at + timedelta(days=1)) == []
            [row] = h.repo.outbox.deliveries()
            assert (row.status, row.attempts) == ("sent", 3)
        keys = {r.headers["x-policywatch-delivery"] for r in receiver.requests}
        assert len(receiver.requests) == 3 and len(keys) == 1


def test_permanent_failure_goes_dead_and_can_be_retried(
    tmp_path: Path, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with WebhookReceiver([400, 200]) as receiver:
        site.set("/policy", fresh_page())
        cfg = write_config(
            tmp_path, document("policy", site.url("/policy")) + webhook_channel(receiver)
        )
        assert main(["--config", str(cfg), "check"]) == 0
        site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
        assert main(["--config", str(cfg), "check"]) == 0
        assert "alert → hook: dead" in capsys.readouterr().out
        assert main(["--config", str(cfg), "alerts", "list", "--status", "dead", "--json"]) == 0
        [dead] = json.loads(capsys.readouterr().out)
        assert dead["status"] == "dead" and "400" in dead["last_error"]
        assert main(["--config", str(cfg), "alerts", "retry", str(dead["id"])]) == 0
        assert "sent" in capsys.readouterr().out
        assert main(["--config", str(cfg), "alerts", "retry", str(dead["id"])]) == 2
        assert "never sent twice" in capsys.readouterr().err
        assert len(receiver.requests) == 2


def test_mail_server_down_delays_but_never_loses(tmp_path: Path, site: PageServer) -> None:
    smtp = SmtpServer().start()
    try:
        site.set("/policy", fresh_page())
        cfg = write_config(tmp_path, document("policy", site.url("/policy")) + email_channel(smtp))
        with harness(cfg) as h:
            h.check("policy")
            site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
            h.check("policy")
            smtp.stop()
            outbox = make_outbox(h.settings, h.store)
            [down] = outbox.deliver_due(h.clock.now())
            assert down.status == "failed" and down.retry_at is not None
            smtp.start()
            [up] = outbox.deliver_due(down.retry_at)
            assert up.status == "sent"
        assert len(smtp.messages) == 1
    finally:
        smtp.stop()


def test_incident_alerts_once_on_opening_and_once_on_closing(
    tmp_path: Path, site: PageServer
) -> None:
    with WebhookReceiver([200]) as receiver:
        site.set("/policy", fresh_page())
        cfg = write_config(
            tmp_path, document("policy", site.url("/policy")) + webhook_channel(receiver)
        )
        with harness(cfg) as h:
            outbox = make_outbox(h.settings, h.store)
            assert h.check("policy").outcome == "new"
            site.set("/policy", Response(body=LOGIN_WALL, headers=HTML))
            for _ in range(5):
                assert h.check("policy").error_kind == "login_wall"
                outbox.deliver_due(h.clock.now())
            [incident] = h.repo.checks.incidents("policy")
            assert incident.closed_at is None and incident.failures == 5
            site.set("/policy", fresh_page())
            assert h.check("policy").outcome == "unchanged"
            outbox.deliver_due(h.clock.now())
            assert h.repo.checks.open_incident("policy") is None
        kinds = [json.loads(r.body)["kind"] for r in receiver.requests]
        assert kinds == ["incident_opened", "incident_closed"]
        opened = json.loads(receiver.requests[0].body)["incident"]
        assert opened["kind"] == "login_wall" and opened["failures"] == 3


def test_daily_digest_sends_one_message_for_the_period(tmp_path: Path, site: PageServer) -> None:
    with WebhookReceiver([200]) as receiver:
        site.set("/policy", fresh_page())
        channel = webhook_channel(receiver, digest='"daily"')
        cfg = write_config(tmp_path, document("policy", site.url("/policy")) + channel)
        with harness(cfg) as h:
            outbox = make_outbox(h.settings, h.store)
            h.check("policy")
            site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
            h.check("policy")
            site.set(
                "/policy", fresh_page(sample_policy("We train artificial intelligence models."))
            )
            h.check("policy")
            assert outbox.deliver_due(h.clock.now()) == []  # the day is not over
            [sent] = outbox.deliver_due(h.clock.now() + timedelta(days=1))
            assert sent.status == "sent"
        [request] = receiver.requests
        digest = json.loads(request.body)
        assert digest["kind"] == "digest" and digest["digest"]["period"] == "daily"
        assert [a["change"]["to_version"] for a in digest["digest"]["alerts"]] == [2, 3]


def test_test_alert_through_mbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = tmp_path / "alerts.mbox"
    cfg = write_config(
        tmp_path,
        document("a", "https://example.org/a")
        + f'[[channels]]\nname = "box"\nkind = "mbox"\npath = "{box}"\n',
    )
    assert main(["--config", str(cfg), "test-alert", "box"]) == 0
    assert "sent a test alert" in capsys.readouterr().out
    stored = mailbox.mbox(box)
    [message] = list(stored)
    stored.close()
    assert "test alert" in message["Subject"]
    assert main(["--config", str(cfg), "test-alert", "nope"]) == 2


@pytest.mark.parametrize(
    ("channel", "needle"),
    [
        ('[[channels]]\nname = "x"\nkind = "pager"\n', "channels[0]"),
        (
            '[[channels]]\nname = "x"\nkind = "webhook"\nurl = "https://e.org/h"\ntopics = ["ai"]\n',
            "unknown topic 'ai'",
        ),
        (
            '[[channels]]\nname = "x"\nkind = "webhook"\nurl = "https://e.org/h"\nsecret_env = "PW_NOT_SET_ANYWHERE"\n',
            "PW_NOT_SET_ANYWHERE is not set",
        ),
        (
            '[[channels]]\nname = "x"\nkind = "webhook"\nurl = "https://e.org/h"\nsmtp_host = "m"\n',
            "channels[0].smtp_host: unknown key",
        ),
        (
            '[[channels]]\nname = "x"\nkind = "webhook"\nurl = "https://e.org/h"\ndocuments = ["nope"]\n',
            "unknown document 'nope'",
        ),
        (
            '[[channels]]\nname = "x"\nkind = "email"\nsmtp_host = "m"\nfrom = "a@b.org"\nto = []\n',
            "channels[0].to",
        ),
    ],
    ids=[
        "unknown-kind",
        "unknown-topic",
        "missing-secret",
        "key-of-other-kind",
        "unknown-document",
        "no-recipients",
    ],
)
def test_bad_channel_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], channel: str, needle: str
) -> None:
    cfg = write_config(tmp_path, document("a", "https://example.org/a") + channel)
    assert main(["--config", str(cfg), "check"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pw.db").exists()


def test_settings_parse_channels(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        document("a", "https://example.org/a")
        + '[[channels]]\nname = "box"\nkind = "mbox"\npath = "x.mbox"\n',
    )
    [channel] = config.load(cfg).channels
    assert (channel.kind, channel.min_significance, channel.digest) == (
        "mbox",
        "minor",
        "immediate",
    )
