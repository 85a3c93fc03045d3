"""The access token and the logins it opens.

When `[web] token` (or `token_env`) is set, every page, feed and API call needs it, as a header
(`Authorization: Bearer ...` or `X-Policywatch-Token`), for feeds as `?token=` (feed readers
cannot send headers), or as the session cookie the login form sets. A session is a random value
(secrets.token_urlsafe) whose keyed digest is stored with an expiry (`web.session_lifetime`);
logout revokes it, and changing the token ends every session (the digest is keyed by it). Failed
logins are limited per client address (monitor.web.throttle): past the limit, 429 with
Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.web.context import context

COOKIE = "policywatch_session"
HEADER = "x-policywatch-token"

router = APIRouter(include_in_schema=False)


def session_digest(token: str, session: str) -> str:
    """What the database keeps of a session cookie: keyed by the token, so a new token ends
    every session, and never the cookie itself."""
    return hmac.new(token.encode(), session.encode(), hashlib.sha256).hexdigest()


def presented(conn: HTTPConnection, token: str) -> bool:
    """Whether the request carries the token itself in one of the accepted places."""
    auth = conn.headers.get("authorization", "")
    candidates = [conn.headers.get(HEADER, "")]
    if auth.lower().startswith("bearer "):
        candidates.append(auth[7:].strip())
    if conn.url.path.startswith("/feeds/"):
        candidates.append(conn.query_params.get("token", ""))
    return any(c and hmac.compare_digest(c.encode(), token.encode()) for c in candidates)


def has_session(conn: HTTPConnection, token: str) -> bool:
    """Whether the request's cookie is an open session (not expired, not revoked)."""
    cookie = conn.cookies.get(COOKIE, "")
    if not cookie:
        return False
    web = context(conn)
    return web.repo.sessions.valid(session_digest(token, cookie), web.clock.now())


class TokenGate:
    """Refuses requests without the token: 401 for the API and feeds, the login form for pages."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        path = conn.url.path
        # The login form and its stylesheet are the only things shown without the token.
        if (
            path == "/login"
            or path.startswith("/static/")
            or presented(conn, self.token)
            or await run_in_threadpool(has_session, conn, self.token)
        ):
            await self.app(scope, receive, send)
            return
        response: Response
        if path.startswith("/api/"):
            response = JSONResponse(
                {"detail": "this server needs its access token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif path.startswith("/feeds/"):
            response = PlainTextResponse(
                "this feed needs the access token: add ?token=...", status_code=401
            )
        else:
            target = path + (f"?{conn.url.query}" if conn.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        await response(scope, receive, send)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another host ("//evil", "/\\evil", "https://...")."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    web = context(request)
    if web.token is None:
        return RedirectResponse("/", status_code=303)
    return web.render("login.html", nav="login", next=safe_next(next), failed=False, wait=0)


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    web = context(request)
    if web.token is None:
        return RedirectResponse("/", status_code=303)
    address = request.client.host if request.client else ""
    now = web.clock.now()
    wait = web.throttle.retry_after(address, now)
    if wait is not None:
        refused = web.render(
            "login.html", status=429, nav="login", next=safe_next(next), failed=False, wait=wait
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    if not hmac.compare_digest(token.encode(), web.token.encode()):
        web.throttle.failed(address, now)
        return web.render(
            "login.html", status=401, nav="login", next=safe_next(next), failed=True, wait=0
        )
    web.throttle.succeeded(address)
    session = secrets.token_urlsafe(32)
    lifetime = web.settings.web.session_lifetime
    web.repo.sessions.open(
        session_digest(web.token, session), now, now + timedelta(seconds=lifetime)
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        session,
        max_age=int(lifetime),
        httponly=True,
        samesite="strict",
        secure=web.base_url.startswith("https://"),
    )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    web = context(request)
    cookie = request.cookies.get(COOKIE, "")
    if cookie and web.token is not None:
        web.repo.sessions.revoke(session_digest(web.token, cookie), web.clock.now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
