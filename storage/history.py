"""What a page said and when: snapshots, versions, changes, and the delta chains they are kept in.

Version texts and snapshot bodies are zstandard-compressed deltas against the previous row of
their page (a full copy every FULL_EVERY rows): a read decodes the chain with one recursive
query. Change sets are stored compressed, with one row per topic for filtering.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, func, select
from sqlalchemy.orm import Session, aliased

from storage import blobs, search
from storage.base import Store, aware
from storage.models import Change, ChangeTopic, Check, Page, Snapshot, Version
from storage.redact import redact
from storage.values import (
    FULL_EVERY,
    ChangeIn,
    ChangeOut,
    NotFound,
    SnapshotIn,
    SnapshotMeta,
    SnapshotOut,
    VersionIn,
    VersionMeta,
    VersionOut,
)
from storage.vocab import NOT_GOOD


class HistoryStore(Store):
    """Reads of versions, changes and snapshots (written by storage.checks, one check at a time)."""

    def latest_version(self, slug: str) -> VersionOut | None:
        return self._version(slug, None)

    def version(self, slug: str, number: int) -> VersionOut | None:
        return self._version(slug, number)

    def _version(self, slug: str, number: int | None) -> VersionOut | None:
        query = select(Version).join(Page, Page.id == Version.page_id).where(Page.slug == slug)
        if number is None:
            query = query.order_by(Version.number.desc()).limit(1)
        else:
            query = query.where(Version.number == number)
        with self._read() as s:
            row = s.scalars(query).first()
            if row is None:
                return None
            text = read_chain(s, Version.__table__, "text", row.id).decode("utf-8")
        return VersionOut(
            row.number,
            row.created_at,
            text,
            row.text_sha256,
            row.rules_hash,
            row.technical,
            row.words,
            row.snapshot_id,
            row.reverts_to,
            row.source,
            row.source_commit,
        )

    def version_count(self, slug: str) -> int:
        query = select(func.count(Version.id)).join(Page, Page.id == Version.page_id)
        with self._read() as s:
            return s.scalar(query.where(Page.slug == slug)) or 0

    def recent_versions(self, slug: str, limit: int) -> list[VersionMeta]:
        """Newest first, without the texts."""
        page = select(Page.id).where(Page.slug == slug).scalar_subquery()
        with self._read() as s:
            return recent_versions(s, Version.page_id == page, limit)

    def version_at(self, slug: str, when: datetime) -> VersionOut | None:
        """The version in force at `when`: seen by the last good check, or created, by then."""
        aware(when, "when")
        page_of = select(Page.id).where(Page.slug == slug).scalar_subquery()
        seen = (
            select(Check.started_at, Version.number)
            .join(Version, Version.id == Check.version_id)
            .where(Check.page_id == page_of, Check.started_at <= when)
            .where(Check.outcome.not_in(NOT_GOOD))
            .order_by(Check.started_at.desc(), Check.id.desc())
            .limit(1)
        )
        made = (
            select(Version.created_at, Version.number)
            .where(Version.page_id == page_of, Version.created_at <= when)
            .order_by(Version.created_at.desc(), Version.number.desc())
            .limit(1)
        )
        with self._read() as s:
            by_check, by_creation = s.execute(seen).first(), s.execute(made).first()
        if by_check is None and by_creation is None:
            return None
        # A version created after the last check saw one is the newer truth; otherwise the check
        # wins, which is what makes a flip back to an older version count.
        if by_creation is not None and (by_check is None or by_creation[0] > by_check[0]):
            return self.version(slug, by_creation[1])
        assert by_check is not None
        return self.version(slug, by_check[1])

    # -- changes

    def changes(self, slug: str, limit: int | None = None) -> list[ChangeOut]:
        """Newest first."""
        query = change_query().where(Page.slug == slug)
        query = query.order_by(Change.created_at.desc(), Change.id.desc()).limit(limit)
        with self._read() as s:
            return [change_out(*row) for row in s.execute(query)]

    def change(self, change_id: int) -> ChangeOut | None:
        with self._read() as s:
            row = s.execute(change_query().where(Change.id == change_id)).first()
        return change_out(*row) if row else None

    def snapshot(self, snapshot_id: int) -> SnapshotOut | None:
        with self._read() as s:
            row = s.execute(snapshot_query().where(Snapshot.id == snapshot_id)).first()
            return snapshot_out(s, *row) if row else None

    def latest_snapshot(self, slug: str) -> SnapshotOut | None:
        """The body the page served at its last check that stored or reused a snapshot."""
        query = (
            snapshot_query()
            .join(Check, Check.snapshot_id == Snapshot.id)
            .where(Page.slug == slug)
            .order_by(Check.started_at.desc(), Check.id.desc())
            .limit(1)
        )
        with self._read() as s:
            row = s.execute(query).first()
            return snapshot_out(s, *row) if row else None


# ---- writes, inside a check's transaction --------------------------------------------------


def add_snapshot(s: Session, page_id: int, snap: SnapshotIn) -> int:
    """Store the body once per page: an identical body reuses the row that has it."""
    digest = hashlib.sha256(snap.body).hexdigest()
    same = select(Snapshot.id).where(Snapshot.page_id == page_id, Snapshot.body_sha256 == digest)
    existing = s.scalar(same)
    if existing is not None:
        return existing
    last = s.execute(
        select(Snapshot.id, Snapshot.depth)
        .where(Snapshot.page_id == page_id)
        .order_by(Snapshot.id.desc())
        .limit(1)
    ).first()
    base_id, depth, blob = encode_after(s, Snapshot.__table__, "body", last, snap.body)
    row = Snapshot(
        page_id=page_id,
        fetched_at=snap.fetched_at,
        url=redact(snap.url),  # the evidence of where, never the credentials
        final_url=redact(snap.final_url),
        status=snap.status,
        headers=json.dumps(snap.headers, sort_keys=True),
        content_type=snap.content_type,
        body_sha256=digest,
        size=len(snap.body),
        body=blob,
        base_id=base_id,
        depth=depth,
    )
    s.add(row)
    s.flush()
    return row.id


def add_version(
    s: Session, page_id: int, new: VersionIn, snapshot_id: int | None, at: datetime
) -> Version:
    last = s.execute(
        select(Version.id, Version.depth, Version.number)
        .where(Version.page_id == page_id)
        .order_by(Version.number.desc())
        .limit(1)
    ).first()
    data = new.text.encode("utf-8")
    base_id, depth, blob = encode_after(s, Version.__table__, "text", last, data)
    row = Version(
        page_id=page_id,
        number=last.number + 1 if last else 1,
        snapshot_id=snapshot_id,
        created_at=at,
        text_sha256=new.text_sha256,
        text=blob,
        base_id=base_id,
        depth=depth,
        size=len(new.text),
        words=new.words,
        rules_hash=new.rules_hash,
        technical=new.technical,
        reverts_to=new.reverts_to,
    )
    s.add(row)
    s.flush()
    search.version_added(s.connection(), page_id, row.number, new.text)
    return row


def add_change(s: Session, page: Page, change: ChangeIn, new: Version | None, at: datetime) -> int:
    assert new is not None  # _validate guarantees it
    from_id = version_id(s, page, change.from_version)
    return insert_change(s, page.id, from_id, new.id, at, change)


def insert_change(
    s: Session, page_id: int, from_id: int, to_id: int, at: datetime, change: ChangeIn
) -> int:
    """The change row from version row `from_id` to `to_id`, with its topics; its id."""
    row = Change(
        page_id=page_id,
        from_version_id=from_id,
        to_version_id=to_id,
        created_at=at,
        significance=change.significance,
        topics=json.dumps(change.topics),
        flags=json.dumps(change.flags),
        changeset=blobs.encode(json.dumps(change.changeset, ensure_ascii=False).encode()),
        n_changes=len(change.changeset),
    )
    s.add(row)
    s.flush()
    s.add_all(ChangeTopic(change_id=row.id, topic=t) for t in dict.fromkeys(change.topics))
    return row.id


def version_id(s: Session, page: Page, number: int) -> int:
    query = select(Version.id).where(Version.page_id == page.id, Version.number == number)
    found = s.scalar(query)
    if found is None:
        raise NotFound(f"page {page.slug!r} has no version {number}")
    return found


def encode_after(
    s: Session, table: FromClause, column: str, last: Any, data: bytes
) -> tuple[int | None, int, bytes]:
    """(base id, depth, blob) for `data` stored after row `last` (id, depth) of its chain."""
    if last is None or last.depth + 1 >= FULL_EVERY:
        return None, 0, blobs.encode(data)
    base = read_chain(s, table, column, last.id)
    return last.id, last.depth + 1, blobs.encode(data, base)


def read_chain(s: Session, table: FromClause, column: str, row_id: int) -> bytes:
    """Decode a row's blob: one recursive query fetches it and its bases, then apply in order."""
    chain = (
        select(table.c.id, table.c.base_id, table.c[column].label("blob"))
        .where(table.c.id == row_id)
        .cte("chain", recursive=True)
    )
    link = table.alias("link")
    chain = chain.union_all(
        select(link.c.id, link.c.base_id, link.c[column]).where(link.c.id == chain.c.base_id)
    )
    rows = {r.id: r for r in s.execute(select(chain.c.id, chain.c.base_id, chain.c.blob))}
    path: list[Any] = []
    current: int | None = row_id
    while current is not None:
        path.append(rows[current])
        current = path[-1].base_id
    data: bytes | None = None
    for row in reversed(path):
        data = blobs.decode(row.blob, data)
    assert data is not None
    return data


# ---- reads ---------------------------------------------------------------------------------


def change_query() -> Select[Change, str, int, int]:
    older, newer = aliased(Version), aliased(Version)
    return (
        select(Change, Page.slug, older.number, newer.number)
        .join(Page, Page.id == Change.page_id)
        .join(older, older.id == Change.from_version_id)
        .join(newer, newer.id == Change.to_version_id)
    )


def change_out(c: Change, slug: str, from_number: int, to_number: int) -> ChangeOut:
    """A change row as the plain value readers get (queries and repo share it)."""
    return ChangeOut(
        c.id,
        slug,
        from_number,
        to_number,
        c.created_at,
        c.significance,
        json.loads(c.topics),
        json.loads(c.flags),
        json.loads(blobs.decode(c.changeset)),
        c.n_changes,
    )


def snapshot_query() -> Select[Snapshot, str]:
    return select(Snapshot, Page.slug).join(Page, Page.id == Snapshot.page_id)


def snapshot_meta(snap: Snapshot, slug: str) -> SnapshotMeta:
    """A stored page without its body: what the evidence says about it."""
    return SnapshotMeta(
        snap.id,
        slug,
        snap.fetched_at,
        snap.url,
        snap.final_url,
        snap.status,
        json.loads(snap.headers),
        snap.content_type,
        snap.body_sha256,
        snap.size,
    )


def snapshot_out(s: Session, snap: Snapshot, slug: str) -> SnapshotOut:
    body = read_chain(s, Snapshot.__table__, "body", snap.id)
    return SnapshotOut(**vars(snapshot_meta(snap, slug)), body=body)


def recent_versions(s: Session, where: ColumnElement[bool], limit: int) -> list[VersionMeta]:
    """Newest first, without the texts."""
    query = (
        select(
            Version.number,
            Version.created_at,
            Version.text_sha256,
            Version.technical,
            Version.words,
            Version.size,
            Version.reverts_to,
            Version.source,
            Version.source_commit,
        )
        .where(where)
        .order_by(Version.number.desc())
        .limit(limit)
    )
    return [VersionMeta(*row) for row in s.execute(query)]
