"""A document URL with credentials and a token, whose server fails: neither the password nor the
token reaches a check message, an incident, the database, the log, the web UI, the API or the
incident email (storage.redact at each boundary)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from monitor import config
from monitor.cli.main import main
from monitor.daemon.runtime import open_store
from monitor.web import create_app
from tests.pageserver import PageServer, Response
from tests.smtpserver import SmtpServer
from tests.support import document, run_cli, write_config

PASSWORD = "Hv7-pass-Wq2k"
TOKEN = "e4f0c1a9b2d84c7f9a31"  # hex: a shape, not a word, gives it away
SIGNATURE = "q9ZxT2mR8vK4pL6nB3hJ"
SECRETS = (PASSWORD, TOKEN, SIGNATURE)


def leaked(value: str | bytes) -> list[str]:
    data = value if isinstance(value, str) else value.decode("utf-8", "replace")
    return [s for s in SECRETS if s in data]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, SmtpServer]]:
    with PageServer() as site, SmtpServer() as smtp:
        site.set("/members/policy", Response(status=503, body=b"<h1>down for maintenance</h1>"))
        failing = (
            f"http://editor:{PASSWORD}@127.0.0.1:{site.port}/members/policy?access_token={TOKEN}"
        )
        refused = (
            f"http://reader:{PASSWORD}@127.0.0.1:{closed_port()}/terms?X-Goog-Signature={SIGNATURE}"
        )
        docs = document("members", failing) + document("terms", refused)
        extra = f"""
[alerts]
incident_after = 1
[[channels]]
name = "desk"
kind = "email"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
security = "none"
from = "alerts@example.org"
to = ["desk@example.org"]
min_significance = "cosmetic"
timeout = "5s"
"""
        yield write_config(tmp_path, docs, extra), smtp


def test_credentials_and_tokens_never_leave_the_config(
    world: tuple[Path, SmtpServer], caplog: pytest.LogCaptureFixture
) -> None:
    path, smtp = world
    # In process: the records policywatch logs (caplog sees them before any formatter).
    with caplog.at_level(logging.DEBUG, logger="policywatch"):
        assert main(["--config", str(path), "check"]) == 1
    assert caplog.records and leaked(caplog.text) == [], caplog.text
    # In a process of its own: every line it writes (the redacting formatter).
    outputs = [run_cli(path, "check")]
    outputs += [run_cli(path, "checks", "--json"), run_cli(path, "alerts", "list", "--json")]
    for output in outputs:
        assert leaked(output.stdout + output.stderr) == [], (output.args, output.stderr)
    checks = json.loads(outputs[1].stdout)
    messages = [c["message"] for c in checks]
    assert any("HTTP 503" in m and "editor:***@" in m for m in messages), messages
    assert any("access_token=***" in m for m in messages), messages
    assert any("reader:***@" in m and "X-Goog-Signature=***" in m for m in messages), messages

    # The incident emails: opened for both documents, with the redacted error.
    mails = [r.message for r in smtp.messages]
    assert len(mails) == 2
    for mail in mails:
        assert leaked(mail.as_bytes()) == []
        body = mail.get_body(("plain",))
        assert body is not None and "***" in body.get_content()

    settings = config.load(path)
    store = open_store(settings)
    try:
        with store.engine.connect() as db:
            rows = [
                *db.execute(text("SELECT message FROM checks")).scalars(),
                *db.execute(text("SELECT last_error FROM incidents")).scalars(),
                *db.execute(text("SELECT payload FROM alerts")).scalars(),
                *db.execute(text("SELECT last_error FROM deliveries")).scalars(),
                *db.execute(text("SELECT url FROM pages")).scalars(),
            ]
        assert len(rows) > 8 and leaked("\n".join(str(r) for r in rows)) == []
        app = create_app(settings, store.engine)
        paths = ["/", "/documents/members", "/documents/members/checks", "/documents/terms"]
        paths += ["/api/documents", "/api/checks", "/api/documents/members"]
        for url in paths:
            response = _get(app, url)
            assert response.status_code == 200, url
            assert leaked(response.text) == [], url
        assert "editor:***@" in _get(app, "/documents/members/checks").text
    finally:
        store.engine.dispose()


def _get(app: object, path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.get(path)

    return asyncio.run(run())
