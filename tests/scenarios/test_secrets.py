"""Secrets (the SMTP password, the webhook secret, the web token, a chat webhook URL) never appear
in logs, in error messages, in the database or in the web UI, even when a receiver echoes them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from alerts import DeliveryError
from monitor import config
from monitor.alerting.outbox import MaskedChannel, secret_forms
from monitor.cli.main import main
from monitor.config import channel_secrets
from monitor.daemon.runtime import open_store
from monitor.web import create_app
from tests.pageserver import PageServer, fresh_page
from tests.sitegen import AI_SENTENCE_CHANGED, sample_policy
from tests.smtpserver import SmtpServer
from tests.support import document, run_cli, write_config
from tests.webhookreceiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]
HTML = {"Content-Type": "text/html; charset=utf-8"}
SMTP_PASSWORD = "smtp-pa55word-Zq81"
HOOK_SECRET = "hook-secret-Kx93"
WEB_TOKEN = "web-token-Vb27-long-enough"
CHAT_URL_PATH = "/services/T0SECRET/B0SECRET/chatsecretXy56"
SECRETS = (SMTP_PASSWORD, HOOK_SECRET, WEB_TOKEN, "chatsecretXy56")
ENV = {
    "PW_SMTP_PASSWORD": SMTP_PASSWORD,
    "PW_HOOK_SECRET": HOOK_SECRET,
    "PW_WEB_TOKEN": WEB_TOKEN,
}


def leaked(text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return [s for s in SECRETS if s.encode() in data]


def fresh(ai_sentence: str | None = None) -> object:
    return fresh_page(sample_policy(ai_sentence) if ai_sentence else sample_policy())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, PageServer]]:
    """A page, an SMTP server that refuses our password, and a webhook receiver and a chat
    endpoint that answer 500 with what they know of our secrets in their error pages."""
    hook_echo = f"signature mismatch: we sign with {HOOK_SECRET}, you did not".encode()
    chat_echo = f"<pre>Cannot POST {CHAT_URL_PATH}</pre>".encode()  # a proxy's error page
    with (
        PageServer() as site,
        SmtpServer(credentials=("alice", "not-the-password")) as smtp,
        WebhookReceiver([500], body=hook_echo) as hook,
        WebhookReceiver([500], body=chat_echo) as chat,
    ):
        site.set("/policy", fresh())  # type: ignore[arg-type]
        channels = f"""
[[channels]]
name = "mail"
kind = "email"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
security = "none"
username = "alice"
password_env = "PW_SMTP_PASSWORD"
from = "alerts@example.org"
to = ["desk@example.org"]
min_significance = "cosmetic"
timeout = "5s"
[[channels]]
name = "hook"
kind = "webhook"
url = "{hook.url}"
secret_env = "PW_HOOK_SECRET"
min_significance = "cosmetic"
timeout = "5s"
[[channels]]
name = "chat"
kind = "slack"
url_env = "PW_CHAT_URL"
min_significance = "cosmetic"
timeout = "5s"
[web]
token_env = "PW_WEB_TOKEN"
"""
        env = {**ENV, "PW_CHAT_URL": f"http://127.0.0.1:{chat.port}{CHAT_URL_PATH}"}
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            yield write_config(tmp_path, document("policy", site.url("/policy")) + channels), site


def cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(config_path, *args)


def test_failed_deliveries_keep_secrets_out_of_logs_errors_and_the_database(
    world: tuple[Path, PageServer], tmp_path: Path
) -> None:
    config_path, site = world
    outputs = [cli(config_path, "check")]
    site.set("/policy", fresh(AI_SENTENCE_CHANGED))  # type: ignore[arg-type]
    outputs.append(cli(config_path, "check"))
    outputs.append(cli(config_path, "alerts", "list", "--json"))
    outputs += [cli(config_path, "test-alert", name) for name in ("mail", "hook", "chat")]
    for output in outputs:
        assert leaked(output.stdout) == [], (output.args, output.stdout)
        # The log: every line policywatch writes itself (httpx's own lines: see the next test).
        ours = [line for line in output.stderr.splitlines() if "HTTP Request:" not in line]
        assert leaked("\n".join(ours)) == [], (output.args, output.stderr)

    listing = outputs[2].stdout
    assert '"status": "dead"' in listing and '"status": "failed"' in listing  # they did fail
    assert "***" in listing  # an echoed secret was there, and was masked
    assert [o.returncode for o in outputs[3:]] == [1, 1, 1]

    for path in tmp_path.glob("pw.db*"):  # the database file, its WAL and shared memory
        assert leaked(path.read_bytes()) == [], path


def test_the_log_never_holds_a_chat_webhook_url(world: tuple[Path, PageServer]) -> None:
    config_path, _site = world
    output = cli(config_path, "test-alert", "chat")
    assert output.returncode == 1 and "answered HTTP 500" in output.stderr
    assert leaked(output.stderr) == [], output.stderr


def _get(app: object, path: str, **kwargs: object) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(run())


def test_the_web_ui_never_shows_the_token_or_a_secret(world: tuple[Path, PageServer]) -> None:
    config_path, site = world
    assert main(["--config", str(config_path), "check"]) == 0
    site.set("/policy", fresh(AI_SENTENCE_CHANGED))  # type: ignore[arg-type]
    main(["--config", str(config_path), "check"])  # deliveries fail: last_error is shown
    settings = config.load(config_path)
    store = open_store(settings)
    try:
        app = create_app(settings, store.engine)
        header = {"x-policywatch-token": WEB_TOKEN}
        pages = ["/", "/deliveries", "/documents/policy", "/documents/policy/checks"]
        pages += ["/api/deliveries", "/api/checks", "/api/documents"]
        for path in pages:
            response = _get(app, path, headers=header)
            assert response.status_code == 200, path
            assert leaked(response.text) == [], path
            assert leaked(str(response.headers)) == [], path
        assert _get(app, "/login").status_code == 200
        assert leaked(_get(app, "/login").text) == []
        feed = _get(app, "/feeds/all.atom", params={"token": WEB_TOKEN})
        assert feed.status_code == 200 and leaked(feed.text) == []
    finally:
        store.engine.dispose()


def test_a_mistyped_token_is_not_echoed_in_the_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, "[web]\ntoken = 31415926535897932\n")
    assert main(["--config", str(cfg), "check"]) == 2
    err = capsys.readouterr().err
    assert "web.token" in err and "31415926535897932" not in err, err


def test_every_form_a_receiver_may_echo_is_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PW_CHAT_URL", f"https://chat.example{CHAT_URL_PATH}?key=chatkey77")
    settings = config.parse(
        {
            "web": {"token_env": "PW_WEB_TOKEN"},
            "channels": [
                {
                    "name": "mail",
                    "kind": "email",
                    "smtp_host": "mail.example",
                    "username": "alice",
                    "password_env": "PW_SMTP_PASSWORD",
                    "from": "a@example.org",
                    "to": ["b@example.org"],
                },
                {"name": "chat", "kind": "slack", "url_env": "PW_CHAT_URL"},
            ],
        },
        Path("config.toml"),
    )
    plain = base64.b64encode(f"\0alice\0{SMTP_PASSWORD}".encode()).decode()
    login = base64.b64encode(SMTP_PASSWORD.encode()).decode()
    echoes = [
        f"535 rejected AUTH PLAIN {plain}",
        f"535 rejected password {login}",
        f"535 rejected password {SMTP_PASSWORD}",
        f"404 Cannot POST {CHAT_URL_PATH}?key=chatkey77",
        f"404 no such hook {CHAT_URL_PATH.strip('/')}",
        f"401 bad token {WEB_TOKEN}",
    ]

    class Echo:
        name, kind = "echo", "webhook"

        def __init__(self, text: str) -> None:
            self.text = text

        def send(self, payload: object, *, idempotency_key: str, now: datetime) -> None:
            raise DeliveryError(self.text, permanent=True)

    forms = secret_forms(settings, channel_secrets(settings), dict(os.environ))
    for echo in echoes:
        with pytest.raises(DeliveryError) as info:
            MaskedChannel(Echo(echo), forms).send({}, idempotency_key="k", now=datetime.now(UTC))
        assert "***" in info.value.message and leaked(info.value.message) == [], echo
        assert info.value.permanent
