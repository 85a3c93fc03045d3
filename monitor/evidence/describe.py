"""What the evidence of one version says, as the API, the UI and `policywatch snapshot` show
it: the page's URL, fetch time, status, headers, size and SHA-256, and a file name for it."""

from __future__ import annotations

import re
from typing import Any

from storage.values import SnapshotMeta, SnapshotOut, VersionOut

SCHEMA = "policywatch.snapshot/1"
_EXTENSIONS = {
    "text/html": "html",
    "application/xhtml+xml": "xhtml",
    "text/plain": "txt",
    "application/pdf": "pdf",
    "application/json": "json",
}


def snapshot_info(meta: SnapshotMeta | SnapshotOut, version: int) -> dict[str, Any]:
    """The JSON shape of a version's stored page (schema policywatch.snapshot/1)."""
    return {
        "schema": SCHEMA,
        "document": meta.slug,
        "version": version,
        "url": meta.url,
        "final_url": meta.final_url,
        "fetched_at": meta.fetched_at.isoformat(),
        "status": meta.status,
        "content_type": meta.content_type,
        "size": meta.size,
        "sha256": meta.body_sha256,
        "headers": meta.headers,
    }


def download_name(meta: SnapshotMeta | SnapshotOut, version: int) -> str:
    """`slug-v3-20260301T090000Z.html`: which page, which version, when it was fetched."""
    stamp = meta.fetched_at.strftime("%Y%m%dT%H%M%SZ")
    extension = _EXTENSIONS.get(meta.content_type.lower(), "bin")
    slug = re.sub(r"[^a-z0-9-]", "-", meta.slug.lower())
    return f"{slug}-v{version}-{stamp}.{extension}"


def no_page(slug: str, number: int, version: VersionOut | None) -> str:
    """Why a version has no stored page to show: imported from an archive (its text only; the
    archive keeps the captures), else a version recorded without one."""
    if version is not None and version.source:
        commit = f" (commit {version.source_commit[:12]})" if version.source_commit else ""
        return (
            f"version {number} of {slug} was imported from {version.source}{commit}: its text "
            "only, no page stored here (the archive keeps its captures)"
        )
    return f"version {number} of {slug} has no stored page"
