"""The raw pages as evidence: a version's snapshot, a snapshot found by its digest, and the
stream of snapshots (each with the versions extracted from it) that a WARC export writes.

Bodies are delta chains (storage.history): the stream decodes each page's snapshots in the
order they were stored, each against the one before, so an export decodes every body once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import defer

from storage import blobs
from storage.base import Store, aware
from storage.history import read_chain, snapshot_meta, snapshot_out
from storage.models import Page, Snapshot, Version
from storage.values import Evidence, SnapshotMeta, SnapshotOut, VersionRef


class EvidenceStore(Store):
    """Reads of snapshots as evidence (they are written by storage.checks with their version)."""

    def version_snapshot(self, slug: str, number: int) -> SnapshotOut | None:
        """The page version `number` was extracted from, body included."""
        query = _version_snapshot(slug, number)
        with self._read() as s:
            row = s.execute(query).first()
            return snapshot_out(s, *row) if row else None

    def version_snapshot_meta(self, slug: str, number: int) -> SnapshotMeta | None:
        """The same page without decoding its body."""
        query = _version_snapshot(slug, number).options(defer(Snapshot.body))
        with self._read() as s:
            row = s.execute(query).first()
        return snapshot_meta(*row) if row else None

    def snapshot_by_digest(self, slug: str, body_sha256: str) -> SnapshotOut | None:
        """The page of `slug` whose stored body has this SHA-256 (hex), body included."""
        query = (
            select(Snapshot, Page.slug)
            .join(Page, Page.id == Snapshot.page_id)
            .where(Page.slug == slug, Snapshot.body_sha256 == body_sha256.lower())
        )
        with self._read() as s:
            row = s.execute(query).first()
            return snapshot_out(s, *row) if row else None

    def versions_of(self, snapshot_id: int) -> list[VersionRef]:
        """The versions extracted from a snapshot, oldest first."""
        query = _version_refs(Version.snapshot_id == snapshot_id)
        with self._read() as s:
            return [VersionRef(*row[1:]) for row in s.execute(query)]

    def select(
        self,
        slugs: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[int]:
        """Ids of the snapshots of `slugs` (all pages when empty) fetched in [since, until), or
        read again for a version created then (a technical version, a return to a page), in the
        order `stream` wants them: by page, then as stored."""
        fetched, created = [], []
        if since is not None:
            aware(since, "since")
            fetched.append(Snapshot.fetched_at >= since)
            created.append(Version.created_at >= since)
        if until is not None:
            aware(until, "until")
            fetched.append(Snapshot.fetched_at < until)
            created.append(Version.created_at < until)
        query = select(Snapshot.id).join(Page, Page.id == Snapshot.page_id)
        if slugs:
            query = query.where(Page.slug.in_(list(slugs)))
        if fetched:
            read_again = exists().where(Version.snapshot_id == Snapshot.id, *created)
            query = query.where(or_(and_(*fetched), read_again))
        with self._read() as s:
            return list(s.scalars(query.order_by(Page.slug, Snapshot.id)))

    def stream(self, ids: Sequence[int]) -> Iterator[Evidence]:
        """Each snapshot of `ids` with its versions, decoding one body at a time."""
        with self._read() as s:
            refs: dict[int, list[VersionRef]] = defaultdict(list)
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                for row in s.execute(_version_refs(Version.snapshot_id.in_(chunk))):
                    refs[row[0]].append(VersionRef(*row[1:]))
            previous: tuple[int, bytes] | None = None
            for snapshot_id in ids:
                row = s.execute(
                    select(Snapshot, Page.slug)
                    .join(Page, Page.id == Snapshot.page_id)
                    .where(Snapshot.id == snapshot_id)
                ).one()
                snap, slug = row
                try:
                    if previous is not None and snap.base_id == previous[0]:
                        body = blobs.decode(snap.body, previous[1])
                    else:
                        body = read_chain(s, Snapshot.__table__, "body", snap.id)
                except blobs.BlobError as exc:
                    when = snap.fetched_at.isoformat()
                    raise blobs.BlobError(
                        f"the page of {slug!r} fetched {when} (snapshot {snap.id}): {exc}"
                    ) from exc
                previous = (snap.id, body)
                out = SnapshotOut(**vars(snapshot_meta(snap, slug)), body=body)
                s.expunge(snap)  # the body blob is not kept in the session for the whole run
                yield Evidence(out, refs.get(snapshot_id, []))


def _version_snapshot(slug: str, number: int) -> Any:
    return (
        select(Snapshot, Page.slug)
        .join(Page, Page.id == Snapshot.page_id)
        .join(Version, Version.snapshot_id == Snapshot.id)
        .where(Page.slug == slug, Version.number == number, Version.page_id == Page.id)
    )


def _version_refs(where: ColumnElement[bool]) -> Any:
    return (
        select(
            Version.snapshot_id,
            Version.number,
            Version.created_at,
            Version.text_sha256,
            Version.rules_hash,
            Version.technical,
        )
        .where(where)
        .order_by(Version.number)
    )
