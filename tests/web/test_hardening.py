"""The web UI against an attacker: foreign Host headers (DNS rebinding), stolen or stale session
cookies, guessed tokens; over a history recorded by real checks, the app in-process and on a
real uvicorn socket, time moved by the manual clock."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from monitor import config
from monitor.cli.main import main
from monitor.web import create_app, serve_web
from monitor.web.auth import COOKIE
from tests.websupport import History, history

TOKEN = "a-token-of-28-characters-Kq7"
WEB = f"""[web]
host = "0.0.0.0"
base_url = "https://policy.example.org"
token = "{TOKEN}"
allowed_hosts = ["*.intranet.example", "192.0.2.7"]
session_lifetime = "2h"
"""
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with history(tmp_path_factory.mktemp("hardening"), web=WEB) as recorded:
        yield recorded


def call(
    app: Any,
    method: str,
    path: str,
    *,
    host: str = "localhost",
    client: tuple[str, int] = ("127.0.0.1", 50000),
    **kwargs: Any,
) -> httpx.Response:
    """One request to the app in-process, with the Host header and client address given."""
    cookies = kwargs.pop("cookies", None)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{host}", cookies=cookies
        ) as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(run())


def login(app: Any, **kwargs: Any) -> httpx.Response:
    return call(app, "POST", "/login", data={"token": TOKEN, "next": "/"}, **kwargs)


ROUTES = [
    ("GET", "/"),
    ("GET", "/documents/policy"),
    ("GET", "/documents/policy/versions/2"),
    ("GET", "/search?q=training"),
    ("GET", "/deliveries"),
    ("GET", "/api/documents"),
    ("GET", "/api/checks"),
    ("GET", "/api/openapi.json"),
    ("GET", "/feeds/all.atom"),
    ("GET", "/static/style.css"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/no-such-page"),
]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost.evil.example"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_foreign_host_is_refused_on_every_route(
    h: History, method: str, path: str, host: str
) -> None:
    app = h.app()
    cookie = login(app).cookies[COOKIE]
    response = call(
        app,
        method,
        path,
        host=host,
        headers=BEARER,
        cookies={COOKIE: cookie},
        params={"token": TOKEN} if path.startswith("/feeds/") else None,
        data={"token": TOKEN} if method == "POST" else None,
    )
    assert response.status_code == 400, response.text
    assert "Invalid host header" in response.text
    assert "set-cookie" not in response.headers
    assert "content-security-policy" in response.headers  # still under the security headers


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "localhost:8080",
        "127.0.0.1:8080",
        "[::1]:8080",
        "policy.example.org",
        "wiki.intranet.example",
        "192.0.2.7:8443",
    ],
)
def test_the_hosts_the_ui_is_reached_by_are_served(h: History, host: str) -> None:
    response = call(h.app(), "GET", "/documents/policy", host=host, headers=BEARER)
    assert response.status_code == 200


def test_a_real_server_refuses_a_rebound_name(h: History) -> None:
    """On a uvicorn socket, as a browser tricked by DNS rebinding would send it."""

    async def scenario() -> list[int]:
        stop = asyncio.Event()
        urls: list[str] = []
        settings = h.harness.settings
        task = asyncio.create_task(
            serve_web(settings, h.engine, host="127.0.0.1", port=0, stop=stop, ready=urls.append)
        )
        while not urls:
            await asyncio.sleep(0)
        codes = []
        async with httpx.AsyncClient(base_url=urls[0], headers=BEARER) as client:
            for host in ("attacker.example", "127.0.0.1", "localhost"):
                response = await client.get("/api/documents", headers={"Host": host})
                codes.append(response.status_code)
        stop.set()
        await asyncio.wait_for(task, 10)
        return codes

    assert asyncio.run(scenario()) == [400, 200, 200]


def test_a_login_is_a_random_session_stored_as_a_digest(h: History) -> None:
    app = h.app()
    first, second = login(app), login(app)
    cookies = [r.cookies[COOKIE] for r in (first, second)]
    assert cookies[0] != cookies[1] and all(len(c) >= 40 for c in cookies)
    header = first.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "secure", "max-age=7200"):
        assert attribute in header, header
    with h.engine.connect() as db:
        stored = db.execute(text("SELECT digest FROM web_sessions")).scalars().all()
    assert stored and not {*cookies} & {*stored}
    assert all(TOKEN not in s and hashlib.sha256(TOKEN.encode()).hexdigest() != s for s in stored)
    for cookie in cookies:
        assert call(app, "GET", "/deliveries", cookies={COOKIE: cookie}).status_code == 200


def test_logout_revokes_the_session(h: History) -> None:
    app = h.app()
    cookie = login(app).cookies[COOKIE]
    assert call(app, "GET", "/", cookies={COOKIE: cookie}).status_code == 200
    out = call(app, "POST", "/logout", cookies={COOKIE: cookie})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # The cookie a thief copied before the logout opens nothing any more.
    again = call(app, "GET", "/", cookies={COOKIE: cookie})
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert call(app, "GET", "/api/documents", cookies={COOKIE: cookie}).status_code == 401


def test_an_expired_session_is_refused(h: History) -> None:
    app = h.app()
    cookie = login(app).cookies[COOKIE]
    h.harness.clock.advance(2 * 3600 - 1)
    assert call(app, "GET", "/", cookies={COOKIE: cookie}).status_code == 200
    h.harness.clock.advance(1)
    assert call(app, "GET", "/", cookies={COOKIE: cookie}).status_code == 303


def test_a_new_token_ends_every_session(h: History) -> None:
    cookie = login(h.app()).cookies[COOKIE]
    settings = h.harness.settings
    rotated = settings.web.model_copy(update={"token": "another-token-of-28-chars-Zx4"})
    app = create_app(replace(settings, web=rotated), h.engine, clock=h.harness.clock)
    assert call(app, "GET", "/", cookies={COOKIE: cookie}).status_code == 303


def test_failed_logins_are_limited_per_address(h: History) -> None:
    app = h.app()
    guesser, bystander = ("203.0.113.9", 40000), ("198.51.100.4", 40001)
    for _ in range(5):
        wrong = call(app, "POST", "/login", client=guesser, data={"token": "guess"})
        assert wrong.status_code == 401
    limited = call(app, "POST", "/login", client=guesser, data={"token": TOKEN})
    assert limited.status_code == 429 and COOKIE not in limited.cookies  # even the right token
    assert limited.headers["retry-after"] == "60"
    assert "try again in 60 seconds" in limited.text
    assert login(app, client=bystander).status_code == 303  # another address is not held up
    h.harness.clock.advance(45)
    assert (
        call(app, "POST", "/login", client=guesser, data={"token": TOKEN}).headers["retry-after"]
        == "15"
    )
    h.harness.clock.advance(15)
    assert login(app, client=guesser).status_code == 303


@pytest.mark.parametrize(("length", "code"), [(23, 2), (24, 0)])
def test_a_short_token_is_refused_off_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], length: int, code: int
) -> None:
    token = ("k7Q" * 10)[:length]
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "pw.db"}"\n[web]\nhost = "0.0.0.0"\n'
        f'token_env = "PW_HARDENING_TOKEN"\n'
        '[[documents]]\nslug = "a"\nname = "A"\nurl = "https://example.org/a"\n'
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PW_HARDENING_TOKEN", token)
        if code == 0:
            settings = config.load(path)
            config.check_web_ready(settings)
            return
        assert main(["--config", str(path), "serve"]) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "at least 24 characters, got 23" in err
    assert token not in err
    assert not (tmp_path / "pw.db").exists()
