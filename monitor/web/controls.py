"""The opt-out map on the web: `/controls` (every control the watched pages describe: where it
lives today, its label and link, since which version, its moves and renames, and the latest
control changes) and `/api/controls` (the same as JSON); the feed of control changes is
monitor.web.feeds'. The map is monitor.analysis.controlmap's, as for `policywatch controls`;
"since" links to the change that made the version (the evidence page)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from alerts.controls import control_phrases
from monitor.analysis.controlmap import (
    ControlEvent,
    DocumentControls,
    document_controls,
    latest_events,
    versions_of,
)
from monitor.web.context import WebContext, context

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["controls"])
ENTRIES = 50
"""Control changes in the feed and on the page."""


def the_map(web: WebContext, document: str | None = None) -> list[DocumentControls]:
    """The map of every watched document (or of one: 404 when there is no such document)."""
    docs = list(web.settings.documents)
    if document:
        docs = [d for d in docs if d.slug == document]
        if not docs:
            raise HTTPException(404, f"There is no document {document!r}.")
    return [_document_map(web, d.slug) for d in docs]


def _document_map(web: WebContext, slug: str) -> DocumentControls:
    """A document's map, walked again only when its newest version changed (MapCache)."""
    newest = web.repo.history.recent_versions(slug, 1)
    key = (newest[0].number, newest[0].created_at, newest[0].text_sha256) if newest else None
    history = web.repo.history
    return web.control_maps.get(
        slug, key, lambda: document_controls(slug, versions_of(history, slug))
    )


def evidence_link(web: WebContext, slug: str, version: int) -> str:
    """The page that shows why: the change that made `version` (or the version itself)."""
    return f"{web.base_url}/documents/{slug}/versions/{version}/change"


@router.get("/controls", response_class=HTMLResponse)
def controls_page(request: Request, document: str = "") -> Response:
    web = context(request)
    maps = the_map(web, document or None)
    names = {d.slug: d.name for d in web.settings.documents}
    events = latest_events(maps, ENTRIES)
    return web.render(
        "controls.html",
        nav="controls",
        maps=[m for m in maps if m.today],
        names=names,
        document=document,
        events=[(event, headline(event)) for event in events],
    )


class ControlModel(BaseModel):
    document: str
    path: list[str]
    label: str | None
    link: str | None
    sentence: str
    since_version: int
    since: str
    first_version: int
    first_seen: str
    evidence: str
    history: list[dict[str, Any]]


@api.get("/controls", response_model=list[ControlModel])
def controls_api(request: Request, document: str | None = None) -> list[ControlModel]:
    """Every control the watched pages describe today: where it lives (path), its label, its
    link, since which version it reads so (`evidence`: the change that made that version), and
    its history of moves, renames and form links."""
    web = context(request)
    return [
        ControlModel(
            **mapped.to_json(), evidence=evidence_link(web, m.document, mapped.since_version)
        )
        for m in the_map(web, document)
        for mapped in m.today
    ]


def headline(event: ControlEvent) -> str:
    """The move, as alerts say it: "'A' is now 'B'"."""
    return control_phrases([event.to_json()])[0]
