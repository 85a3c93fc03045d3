"""The stored page behind each version, as evidence: its bytes as a download (never rendered in
our origin: an attachment, `application/octet-stream`, `nosniff`, a sandboxing CSP) and, under
/api/, its URL, fetch time, status, headers and SHA-256 as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from monitor.evidence.describe import SCHEMA, download_name, no_page, snapshot_info
from monitor.web.context import WebContext, context
from monitor.web.routes_html import page_or_404
from storage.values import SnapshotMeta, SnapshotOut

router = APIRouter()

SANDBOX_CSP = (
    "sandbox; default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
"""A page opened anyway (a browser that ignores the attachment) runs no script, loads nothing
and counts as another origin."""


class SnapshotModel(BaseModel):
    """The page a version was extracted from (schema policywatch.snapshot/1)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: str = Field(default=SCHEMA, alias="schema")
    document: str
    version: int
    url: str
    final_url: str
    fetched_at: datetime
    status: int
    content_type: str
    size: int
    sha256: str = Field(description="SHA-256 (hex) of the page's bytes as stored and served here")
    headers: dict[str, str]
    download: str = Field(description="where the bytes are (this API's raw endpoint)")


def raw_response(snap: SnapshotOut, number: int) -> Response:
    """The stored bytes as a download that no browser renders in this origin."""
    name = download_name(snap, number)
    return Response(
        snap.body,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": SANDBOX_CSP,
            "X-Policywatch-Sha256": snap.body_sha256,
            "Cache-Control": "private, no-transform",
        },
    )


def _snapshot(web: WebContext, slug: str, number: int) -> SnapshotOut:
    found = web.repo.evidence.version_snapshot(slug, number)
    return found if found is not None else _missing(web, slug, number)


def _meta(web: WebContext, slug: str, number: int) -> SnapshotMeta:
    found = web.repo.evidence.version_snapshot_meta(slug, number)
    return found if found is not None else _missing(web, slug, number)


def _missing(web: WebContext, slug: str, number: int) -> NoReturn:
    """404: no such document, no such version, or a version with no stored page (and why)."""
    page_or_404(web, slug)
    if web.repo.history.version_count(slug) < number or number < 1:
        raise HTTPException(404, f"{slug!r} has no version {number}")
    raise HTTPException(404, no_page(slug, number, web.repo.history.version(slug, number)))


@router.get("/documents/{slug}/versions/{number}/snapshot", include_in_schema=False)
def download(request: Request, slug: str, number: int) -> Response:
    """The stored page, for the version page's download link."""
    return raw_response(_snapshot(context(request), slug, number), number)


@router.get(
    "/api/documents/{slug}/versions/{number}/snapshot",
    response_model=SnapshotModel,
    tags=["history"],
)
def snapshot(request: Request, slug: str, number: int) -> SnapshotModel:
    """The page version `number` was extracted from: URL, fetch time, status, headers, SHA-256."""
    meta = _meta(context(request), slug, number)
    raw = f"/api/documents/{slug}/versions/{number}/snapshot/raw"
    return SnapshotModel(**snapshot_info(meta, number), download=raw)


@router.get(
    "/api/documents/{slug}/versions/{number}/snapshot/raw",
    response_class=Response,
    tags=["history"],
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def snapshot_raw(request: Request, slug: str, number: int) -> Response:
    """The page's bytes, exactly as stored: their SHA-256 is the metadata's `sha256`."""
    return raw_response(_snapshot(context(request), slug, number), number)
