"""create_app(): the web UI, Atom feeds and JSON API over the history, as one FastAPI app.

Every page is rendered on the server from Jinja2 templates with autoescaping (all text shown
comes from pages on the internet); no JavaScript is served, so the Content-Security-Policy can
forbid scripts outright. A request whose Host header is not one of monitor.web.hosts is refused
(400) before any route or the token gate runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config import Settings
from monitor.fetch.http import Clock, SystemClock
from monitor.web import auth, controls, feeds, routes_api, routes_evidence, routes_html
from monitor.web.context import WebContext, context, templates, web_token
from monitor.web.hosts import allowed_hosts
from storage.queries import Queries
from storage.repo import Repo

log = logging.getLogger("policywatch.web")

STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] = os.environ,
    host: str | None = None,
) -> FastAPI:
    """The application over `engine` (already migrated); `clock` gives "now" for the pages and
    the sessions; `host` is the address served when not web.host (`serve --host`)."""
    app = FastAPI(
        title="policywatch",
        summary="The history of watched privacy policies: versions, changes, search, checks.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    token = web_token(settings, environ)
    app.state.web = WebContext(
        settings, engine, Repo(engine), Queries(engine), clock or SystemClock(), token, templates()
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(auth.router)
    app.include_router(routes_html.router)
    app.include_router(routes_api.router)
    app.include_router(routes_evidence.router)
    app.include_router(feeds.router)
    app.include_router(controls.router)
    app.include_router(controls.api)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _crash)
    app.add_middleware(auth.TokenGate, token=token)
    # Outside the token gate: a foreign Host header is refused before anything else runs.
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings, host), www_redirect=False
    )
    app.add_middleware(SecurityHeaders)
    return app


class SecurityHeaders:
    """Adds the CSP and its companions to every response, errors and redirects included; a
    response that sets one of them itself (a stricter CSP: the stored pages') keeps its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {bytes(name).lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in own]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    if request.url.path.startswith("/feeds/"):
        return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")
    return context(request).render(
        "error.html", status=exc.status_code, status_code=exc.status_code, message=exc.detail
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
    )
    if wants_json(request):
        return JSONResponse({"detail": exc.errors()}, status_code=422)
    return context(request).render(
        "error.html", status=400, status_code=400, message=f"Bad request ({problems})."
    )


async def _crash(request: Request, exc: Exception) -> Response:
    # The web error handler is one of the few places allowed to catch everything: a page that
    # fails must not take the daemon down, and users never see a traceback.
    log.exception("error serving %s", request.url.path)
    if wants_json(request):
        return JSONResponse({"detail": "internal error"}, status_code=500)
    return context(request).render(
        "error.html", status=500, status_code=500, message="Something went wrong on our side."
    )
