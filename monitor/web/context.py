"""The state every route shares (settings, reads, clock, token, templates, the login throttle)
and how to reach it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from starlette.requests import HTTPConnection

from monitor.analysis.controlmap import MapCache
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.fetch.http import Clock
from monitor.web import views
from monitor.web.throttle import LoginThrottle
from storage.queries import Queries
from storage.repo import Repo

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class WebContext:
    """What every route needs: the reads, the settings, the clock and the templates."""

    settings: Settings
    engine: Engine
    repo: Repo
    queries: Queries
    clock: Clock
    token: str | None
    templates: jinja2.Environment
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    control_maps: MapCache = field(default_factory=MapCache)

    @property
    def base_url(self) -> str:
        return self.settings.web.base_url.rstrip("/")

    def next_checks(self) -> dict[str, datetime | None]:
        """When each watched document is checked next (None: never checked, due now): from the
        database's watch list and last checks, so a web process of its own agrees with the
        daemon (Settings.next_check)."""
        return self.settings.next_checks(
            self.repo.pages.watch_list(), self.repo.checks.last_check_times()
        )

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        template = self.templates.get_template(name)
        shared = {"auth": self.token is not None, "now": self.clock.now(), "nav": ""}
        page = template.render({**shared, **values})
        return HTMLResponse(page, status_code=status)


def context(request: HTTPConnection) -> WebContext:
    web = request.app.state.web
    assert isinstance(web, WebContext)
    return web


def web_token(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The access token, or None when the UI is open; a token_env naming an unset variable is a
    configuration error rather than an open door."""
    web = settings.web
    token = web.resolved_token(environ)
    if web.token_env and not token:
        raise ConfigError(f"environment variable {web.token_env!r} is not set", key="web.token_env")
    return token


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=views.when, iso=views.iso, sig=views.significance, colour=views.chip_colour
    )
    env.globals.update(
        ago=views.ago, until=views.until, kind_labels=views.KIND_LABELS, rich=views.rich_spans
    )
    return env
