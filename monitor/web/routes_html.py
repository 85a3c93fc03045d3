"""The HTML pages: dashboard, document timeline and check errors, change view, compare, version
text (by number or in force at a date), search, deliveries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.analysis.assessment import assess
from monitor.extract.document import Document
from monitor.web import views
from monitor.web.context import WebContext, context
from storage import search as search_mod
from storage.queries import LEVELS
from storage.values import PageOut

router = APIRouter(include_in_schema=False)

PER_PAGE = 100
PART = 200  # changes shown on one page of a change view; a rewrite can have thousands
MODES = ("inline", "side")

Mode = Annotated[str, Query(pattern="^(inline|side)$")]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]


def page_or_404(web: WebContext, slug: str) -> PageOut:
    page = web.repo.pages.page(slug)
    if page is None:
        raise HTTPException(404, f"There is no document {slug!r}.")
    return page


def level_or_none(value: str | None) -> str | None:
    if not value:
        return None
    if value not in LEVELS:
        raise HTTPException(400, f"Unknown significance {value!r}.")
    return value


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    web = context(request)
    return web.render(
        "dashboard.html",
        nav="dashboard",
        documents=web.queries.dashboard(),
        next_checks=web.next_checks(),
    )


@router.get("/documents/{slug}", response_class=HTMLResponse)
def timeline(
    request: Request,
    slug: str,
    topic: str | None = None,
    significance: str | None = None,
    page: PageNumber = 1,
) -> Response:
    web = context(request)
    doc = page_or_404(web, slug)
    level = level_or_none(significance)
    entries = web.queries.timeline(
        slug, topic=topic or None, significance=level, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    return web.render(
        "timeline.html",
        nav="documents",
        tab="history",
        doc=doc,
        incident=web.repo.checks.open_incident(slug),
        entries=entries,
        page=page,
        topic=topic or "",
        significance=level or "",
        topics=web.queries.topics(slug),
        levels=LEVELS,
        errors=web.queries.checks(slug, errors_only=True, limit=1).total,
    )


@router.get("/documents/{slug}/checks", response_class=HTMLResponse)
def checks(
    request: Request,
    slug: str,
    every: Annotated[bool, Query(alias="all")] = False,
    page: PageNumber = 1,
) -> Response:
    web = context(request)
    doc = page_or_404(web, slug)
    rows = web.queries.checks(
        slug, errors_only=not every, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
    )
    return web.render(
        "checks.html",
        nav="documents",
        tab="checks",
        doc=doc,
        incident=web.repo.checks.open_incident(slug),
        checks=rows,
        show_all=every,
        page=page,
        errors=rows.total if not every else web.queries.checks(slug, errors_only=True).total,
    )


@router.get("/changes/{change_id}", response_class=HTMLResponse)
def change(
    request: Request, change_id: int, mode: Mode = "inline", part: PageNumber = 1
) -> Response:
    web = context(request)
    found = web.repo.history.change(change_id)
    if found is None:
        raise HTTPException(404, f"There is no change {change_id}.")
    doc = page_or_404(web, found.slug)
    parts = max(1, -(-len(found.changeset) // PART))
    part = min(part, parts)
    earlier, later = web.queries.neighbours(change_id)
    return web.render(
        "change.html",
        nav="documents",
        tab="history",
        doc=doc,
        incident=None,
        errors=0,
        change=found,
        sections=views.sections(found.changeset, (part - 1) * PART, part * PART),
        mode=mode,
        part=part,
        parts=parts,
        earlier=earlier,
        later=later,
        evidence=web.repo.evidence.version_snapshot_meta(doc.slug, found.to_version),
    )


@router.get("/documents/{slug}/versions/{number}/change")
def change_into(request: Request, slug: str, number: int) -> Response:
    """The link alerts carry: the change that produced a version (or the version itself)."""
    web = context(request)
    page_or_404(web, slug)
    change_id = web.queries.change_into(slug, number)
    if change_id is not None:
        return RedirectResponse(f"/changes/{change_id}", status_code=303)
    return RedirectResponse(f"/documents/{slug}/versions/{number}", status_code=303)


@router.get("/documents/{slug}/changes/{change_id}")
def document_change(request: Request, slug: str, change_id: int) -> Response:
    return RedirectResponse(f"/changes/{change_id}", status_code=303)


@router.get("/documents/{slug}/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    slug: str,
    from_: Annotated[int | None, Query(alias="from", ge=1)] = None,
    to: Annotated[int | None, Query(ge=1)] = None,
    mode: Mode = "inline",
) -> Response:
    web = context(request)
    doc = page_or_404(web, slug)
    versions = web.repo.history.recent_versions(slug, 1_000_000)
    latest = versions[0].number if versions else 0
    to = to if to is not None else latest
    from_ = from_ if from_ is not None else max(1, to - 1)
    values: dict[str, Any] = {}
    if versions and from_ != to:
        values = compared(web, slug, from_, to)
    return web.render(
        "compare.html",
        nav="documents",
        tab="compare",
        doc=doc,
        incident=None,
        errors=0,
        versions=versions,
        from_=from_,
        to=to,
        mode=mode,
        **values,
    )


def compared(web: WebContext, slug: str, old_number: int, new_number: int) -> dict[str, Any]:
    """Decompress two versions and diff them: the one page that does real work per request."""
    old, new = (
        web.repo.history.version(slug, old_number),
        web.repo.history.version(slug, new_number),
    )
    if old is None or new is None:
        missing = old_number if old is None else new_number
        raise HTTPException(404, f"{slug!r} has no version {missing}.")
    doc = web.settings.document(slug)
    assessment = assess(
        Document.from_text(old.text),
        Document.from_text(new.text),
        web.settings.topics,
        doc.topics if doc else (),
    )
    data = assessment.to_json()
    changes = data["changes"]
    assert isinstance(changes, list)
    return {
        "old": old,
        "new": new,
        "assessment": data,
        "sections": views.sections(changes, 0, PART),
        "truncated": max(0, len(changes) - PART),
    }


@router.get("/documents/{slug}/versions/{number}", response_class=HTMLResponse)
def version(request: Request, slug: str, number: int) -> Response:
    web = context(request)
    doc = page_or_404(web, slug)
    found = web.repo.history.version(slug, number)
    if found is None:
        raise HTTPException(404, f"{doc.name} has no version {number}.")
    return version_page(web, doc, found, at=None)


@router.get("/documents/{slug}/at", response_class=HTMLResponse)
def at_form(request: Request, slug: str, date: str = "") -> Response:
    web = context(request)
    doc = page_or_404(web, slug)
    if date:
        return RedirectResponse(f"/documents/{doc.slug}/at/{parse_day(date).isoformat()}", 303)
    return web.render(
        "version.html",
        nav="documents",
        tab="at",
        doc=doc,
        incident=None,
        errors=0,
        version=None,
        at=None,
        change_id=None,
        evidence=None,
        blocks=[],
    )


@router.get("/documents/{slug}/at/{day}", response_class=HTMLResponse)
def at_day(request: Request, slug: str, day: str) -> Response:
    web = context(request)
    doc = page_or_404(web, slug)
    when = parse_day(day)
    end = datetime.combine(when, time.max, UTC)
    found = web.repo.history.version_at(slug, end)
    if found is None:
        raise HTTPException(404, f"No version of {doc.name} had been recorded by {when}.")
    return version_page(web, doc, found, at=when)


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{value!r} is not a date like 2025-06-01.") from None


def version_page(web: WebContext, doc: PageOut, found: Any, at: date | None) -> Response:
    return web.render(
        "version.html",
        nav="documents",
        tab="at" if at else "history",
        doc=doc,
        incident=None,
        errors=0,
        version=found,
        at=at,
        change_id=web.queries.change_into(doc.slug, found.number),
        evidence=web.repo.evidence.version_snapshot_meta(doc.slug, found.number),
        blocks=views.blocks(found.text),
    )


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    web = context(request)
    hits = search_mod.search(web.engine, q) if q.strip() else []
    marker = search_mod.phrase_regex(q)
    examples = {hit.slug: views.excerpt(hit.example or "", marker) for hit in hits}
    charts = {hit.slug: views.timeline_bars(hit.timeline) for hit in hits}
    return web.render(
        "search.html",
        nav="search",
        q=q,
        hits=hits,
        examples=examples,
        charts=charts,
        chart_size=(views.CHART_WIDTH, views.CHART_HEIGHT),
        searched=bool(q.strip()),
    )


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries(request: Request) -> Response:
    web = context(request)
    return web.render("deliveries.html", nav="deliveries", rows=web.queries.deliveries(200))
