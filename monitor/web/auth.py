"""The access token: when `[web] token` (or `token_env`) is set, every page, feed and API call
needs it, as a header (`Authorization: Bearer ...` or `X-Policywatch-Token`), as the cookie the
login form sets, or for feeds as `?token=` (feed readers cannot send headers).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.web.context import context

COOKIE = "policywatch_session"
HEADER = "x-policywatch-token"

router = APIRouter(include_in_schema=False)


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so the token itself is never stored in it,
    and changing the token logs everyone out."""
    return hmac.new(token.encode(), b"policywatch web session", hashlib.sha256).hexdigest()


def presented(conn: HTTPConnection, token: str) -> bool:
    """Whether the request carries the token in one of the accepted places."""
    auth = conn.headers.get("authorization", "")
    candidates = [conn.headers.get(HEADER, "")]
    if auth.lower().startswith("bearer "):
        candidates.append(auth[7:].strip())
    if conn.url.path.startswith("/feeds/"):
        candidates.append(conn.query_params.get("token", ""))
    if any(c and hmac.compare_digest(c.encode(), token.encode()) for c in candidates):
        return True
    cookie = conn.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, session_value(token))


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
        if path == "/login" or path.startswith("/static/") or presented(conn, self.token):
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
    return web.render("login.html", nav="login", next=safe_next(next), failed=False)


@router.post("/login")
def login(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    web = context(request)
    if web.token is None:
        return RedirectResponse("/", status_code=303)
    if not hmac.compare_digest(token.encode(), web.token.encode()):
        return web.render("login.html", status=401, nav="login", next=safe_next(next), failed=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        session_value(web.token),
        httponly=True,
        samesite="strict",
        secure=web.base_url.startswith("https://"),
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
