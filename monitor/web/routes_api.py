"""The JSON API under /api/ (schema at /api/openapi.json): documents, versions and their texts,
changes with their change sets, compare, search, checks, deliveries. Fields are only ever added.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from monitor.web.context import WebContext, context
from monitor.web.routes_html import compared, level_or_none, page_or_404, parse_day
from storage import search as search_mod
from storage.queries import ChangeBrief
from storage.values import IncidentOut, PageOut, VersionOut

router = APIRouter(prefix="/api", tags=["history"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
Level = Annotated[
    str | None, Query(description="cosmetic, minor or substantive: this level or above")
]


class _FromValues(BaseModel):
    """Built from the storage dataclass of the same fields (`Model.model_validate(value)`)."""

    model_config = ConfigDict(from_attributes=True)


class CheckModel(_FromValues):
    id: int
    document: str = Field(validation_alias="slug")
    started_at: datetime
    finished_at: datetime
    outcome: str
    error_kind: str | None
    message: str | None
    http_status: int | None
    fetcher: str
    duration_ms: float
    version: int | None


class IncidentModel(BaseModel):
    kind: str
    opened_at: datetime
    failures: int
    last_error: str | None


class ChangeSummary(_FromValues):
    id: int
    from_version: int
    to_version: int
    created_at: datetime
    significance: str
    topics: list[str]
    flags: list[str]
    n_changes: int


class DocumentModel(BaseModel):
    slug: str
    name: str
    url: str
    fetcher: str
    active: bool
    versions: int
    last_check: CheckModel | None
    open_incident: IncidentModel | None = None
    latest_change: ChangeSummary | None = None
    next_check_at: datetime | None = None  # null: never checked (due now), or not watched

    @classmethod
    def of(
        cls,
        p: PageOut,
        incident: IncidentOut | None,
        latest: ChangeBrief | None,
        next_check_at: datetime | None = None,
    ) -> DocumentModel:
        return cls(
            next_check_at=next_check_at,
            slug=p.slug,
            name=p.name,
            url=p.url,
            fetcher=p.fetcher,
            active=p.active,
            versions=p.versions,
            last_check=CheckModel.model_validate(p.last_check) if p.last_check else None,
            open_incident=IncidentModel(
                kind=incident.kind,
                opened_at=incident.opened_at,
                failures=incident.failures,
                last_error=incident.last_error,
            )
            if incident
            else None,
            latest_change=ChangeSummary.model_validate(latest) if latest else None,
        )


class VersionModel(BaseModel):
    number: int
    created_at: datetime
    technical: bool
    words: int
    text_sha256: str
    change_id: int | None = None


class VersionText(BaseModel):
    document: str
    number: int
    created_at: datetime
    technical: bool
    words: int
    text_sha256: str
    text: str
    source: str | None = None  # set on a version imported from an archive
    source_commit: str | None = None

    @classmethod
    def of(cls, slug: str, v: VersionOut) -> VersionText:
        return cls(
            document=slug,
            number=v.number,
            created_at=v.created_at,
            technical=v.technical,
            words=v.words,
            text_sha256=v.text_sha256,
            text=v.text,
            source=v.source,
            source_commit=v.source_commit,
        )


class ChangeModel(ChangeSummary):
    document: str = Field(validation_alias="slug")
    changes: list[dict[str, Any]] = Field(validation_alias="changeset")


class CompareModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: str = Field(default="policywatch.changeset/1", alias="schema")
    document: str
    from_version: int
    to_version: int
    significance: str | None
    topics: list[str]
    flags: list[str]
    changes: list[dict[str, Any]]


class RunModel(BaseModel):
    since: int
    since_at: datetime
    since_change: int | None
    until: int | None
    until_at: datetime | None
    until_change: int | None


class OccurrenceModel(BaseModel):
    version: int
    at: datetime
    change: int | None
    count: int


class SearchHitModel(BaseModel):
    document: str
    name: str
    present: bool
    runs: list[RunModel]
    example: str | None
    timeline: list[OccurrenceModel]


class DeliveryModel(BaseModel):
    id: int
    alert_id: int
    alert_kind: str
    document: str | None
    change_id: int | None
    channel: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


@router.get("/documents", response_model=list[DocumentModel])
def documents(request: Request) -> list[DocumentModel]:
    """Every document, with its last check, open incident and latest change."""
    web = context(request)
    due = web.next_checks()
    rows = web.queries.dashboard()
    return [
        DocumentModel.of(d.page, d.incident, d.latest_change, due.get(d.page.slug)) for d in rows
    ]


@router.get("/documents/{slug}", response_model=DocumentModel)
def document(request: Request, slug: str) -> DocumentModel:
    web = context(request)
    found = next((d for d in web.queries.dashboard() if d.page.slug == slug), None)
    if found is None:
        raise HTTPException(404, f"no document {slug!r}")
    due = web.next_checks().get(slug)
    return DocumentModel.of(found.page, found.incident, found.latest_change, due)


@router.get("/documents/{slug}/versions", response_model=list[VersionModel])
def versions(
    request: Request, slug: str, limit: Limit = 100, offset: Offset = 0
) -> list[VersionModel]:
    """Versions newest first, without their texts."""
    web = context(request)
    page_or_404(web, slug)
    entries = web.queries.timeline(slug, offset=offset, limit=limit).rows
    return [
        VersionModel(
            number=e.number,
            created_at=e.created_at,
            technical=e.technical,
            words=e.words,
            text_sha256=e.text_sha256,
            change_id=e.change.id if e.change else None,
        )
        for e in entries
    ]


def _version(web: WebContext, slug: str, number: int) -> VersionOut:
    found = web.repo.history.version(slug, number)
    if found is None:
        page_or_404(web, slug)
        raise HTTPException(404, f"{slug!r} has no version {number}")
    return found


@router.get("/documents/{slug}/versions/{number}", response_model=VersionText)
def version(request: Request, slug: str, number: int) -> VersionText:
    """One version with its canonical text."""
    return VersionText.of(slug, _version(context(request), slug, number))


@router.get("/documents/{slug}/versions/{number}/text", response_class=PlainTextResponse)
def version_text(request: Request, slug: str, number: int) -> PlainTextResponse:
    """The canonical text alone, as text/plain."""
    return PlainTextResponse(_version(context(request), slug, number).text)


@router.get("/documents/{slug}/at/{day}", response_model=VersionText)
def version_at(request: Request, slug: str, day: str) -> VersionText:
    """The version in force at the end of `day` (YYYY-MM-DD, UTC)."""
    web = context(request)
    page_or_404(web, slug)
    found = web.repo.history.version_at(slug, datetime.combine(parse_day(day), time.max, UTC))
    if found is None:
        raise HTTPException(404, f"no version of {slug!r} was recorded by {day}")
    return VersionText.of(slug, found)


@router.get("/changes", response_model=list[ChangeModel])
def changes(
    request: Request,
    document: str | None = None,
    topic: str | None = None,
    significance: Level = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[ChangeModel]:
    """Changes newest first, each with its change set; filter by document, topic, significance."""
    web = context(request)
    if document is not None:
        page_or_404(web, document)
    found = web.queries.changes(
        slug=document,
        topic=topic,
        significance=level_or_none(significance),
        offset=offset,
        limit=limit,
    )
    return [ChangeModel.model_validate(c) for c in found]


@router.get("/changes/{change_id}", response_model=ChangeModel)
def change(request: Request, change_id: int) -> ChangeModel:
    found = context(request).repo.history.change(change_id)
    if found is None:
        raise HTTPException(404, f"no change {change_id}")
    return ChangeModel.model_validate(found)


@router.get("/documents/{slug}/compare", response_model=CompareModel)
def compare(
    request: Request,
    slug: str,
    from_: Annotated[int, Query(alias="from", ge=1)],
    to: Annotated[int, Query(ge=1)],
) -> CompareModel:
    """Diff any two versions now (the same differ and topic rules as the checks)."""
    web = context(request)
    page_or_404(web, slug)
    data = compared(web, slug, from_, to)["assessment"]
    return CompareModel(
        document=slug,
        from_version=from_,
        to_version=to,
        significance=data["significance"],
        topics=data["topics"],
        flags=data["flags"],
        changes=data["changes"],
    )


@router.get("/search", response_model=list[SearchHitModel])
def search(
    request: Request, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> list[SearchHitModel]:
    """Documents where a phrase appears in some version, the runs of versions holding it, and
    its timeline: each version where the number of occurrences changed, with that number."""
    hits = search_mod.search(context(request).engine, q)
    return [
        SearchHitModel(
            document=h.slug,
            name=h.name,
            present=h.present,
            runs=[RunModel(**vars(r)) for r in h.runs],
            example=h.example,
            timeline=[OccurrenceModel(**vars(o)) for o in h.timeline],
        )
        for h in hits
    ]


@router.get("/checks", response_model=list[CheckModel])
def checks(
    request: Request,
    document: str | None = None,
    errors: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[CheckModel]:
    """Checks newest first; `errors=true` keeps failed and pending ones."""
    web = context(request)
    if document is not None:
        page_or_404(web, document)
    rows = web.queries.checks(document, errors_only=errors, offset=offset, limit=limit).rows
    return [CheckModel.model_validate(c) for c in rows]


@router.get("/deliveries", response_model=list[DeliveryModel])
def deliveries(request: Request, limit: Limit = 100) -> list[DeliveryModel]:
    """Recent deliveries of alerts to channels, newest first."""
    return [
        DeliveryModel(**{**vars(d), "document": d.slug})
        for d in context(request).queries.deliveries(limit)
    ]
