"""Versions imported from an archive (an Open Terms Archive versions repository, the corpus):
history from before policywatch watched a page, written in one transaction, never alerted on.

Imported versions go in one place of a page's history: after the newest version imported
before, ahead of every version policywatch's own checks recorded. Version numbers follow
dates, so the page's own versions are renumbered (shifted by the number imported); their
changes, checks and snapshots keep pointing at them by row id. The change into the first own
version is recomputed from the newest imported one. Each archive commit is imported once per
page (`versions.source_commit`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage import blobs, search
from storage.base import Store, aware, require
from storage.history import insert_change, read_chain
from storage.models import Change, ChangeTopic, Page, Version
from storage.values import FULL_EVERY, ChangeIn, NotFound, VersionIn
from storage.vocab import SIGNIFICANCES


class HistoryMoved(RuntimeError):
    """The page's history changed between the plan of an import and its writing."""


@dataclass(frozen=True)
class ImportAnchor:
    """Where an import goes, as read before it was planned: after version `after` (0: first),
    whose text has `after_sha256`; the page's first own version is `own_first` (None: none)."""

    after: int
    after_sha256: str | None
    own_first: int | None
    own_first_sha256: str | None
    imported_commits: frozenset[str]
    own_first_at: datetime | None


@dataclass(frozen=True)
class ImportedVersionIn:
    """One archived version: its text, its date, where it came from, and the change that led to
    it from the version before (None for the first version of a page, or a technical one)."""

    version: VersionIn
    created_at: datetime
    source: str
    source_commit: str
    change: ChangeIn | None


class ImportStore(Store):
    """Reads what an import needs, and writes one import in one transaction."""

    def anchor(self, slug: str) -> ImportAnchor:
        with self._read() as s:
            page = _page(s, slug)
            return _anchor(s, page.id)

    def import_versions(
        self,
        slug: str,
        anchor: ImportAnchor,
        versions: Sequence[ImportedVersionIn],
        bridge: ChangeIn | None,
    ) -> int:
        """Insert `versions` (oldest first) after `anchor.after`, shifting the page's own
        versions up; `bridge` is the change from the last of them into the first own version
        (it replaces the one there, keeping its id, so alerts that point at it stay valid).
        Returns how many versions were written; raises HistoryMoved if the page's history is no
        longer what `anchor` says."""
        for item in versions:
            aware(item.created_at, "imported version created_at")
            _check_text(item.version)
            if item.change is not None:
                require(item.change.significance, SIGNIFICANCES, "significance")
        if not versions:
            return 0
        with self._write.begin() as s:
            page = s.scalars(select(Page).where(Page.slug == slug).with_for_update()).one_or_none()
            if page is None:
                raise NotFound(f"no page with slug {slug!r}")
            now = _anchor(s, page.id)
            if (now.after, now.after_sha256, now.own_first, now.own_first_sha256) != (
                anchor.after,
                anchor.after_sha256,
                anchor.own_first,
                anchor.own_first_sha256,
            ):
                raise HistoryMoved(f"{slug}: its history changed during the import; run it again")
            count = len(versions)
            _shift(s, page.id, anchor.after, count)
            rows = _insert(s, page.id, anchor.after, versions)
            if anchor.own_first is not None and bridge is not None:
                _bridge(s, page.id, rows[-1], anchor.own_first + count, bridge)
            search.rebuild_page(s.connection(), page.id)
        return count


def _page(s: Session, slug: str) -> Page:
    page = s.scalars(select(Page).where(Page.slug == slug)).one_or_none()
    if page is None:
        raise NotFound(f"no page with slug {slug!r}")
    return page


def _anchor(s: Session, page_id: int) -> ImportAnchor:
    imported = s.execute(
        select(Version.number, Version.text_sha256)
        .where(Version.page_id == page_id, Version.source.is_not(None))
        .order_by(Version.number.desc())
        .limit(1)
    ).first()
    own = s.execute(
        select(Version.number, Version.text_sha256, Version.created_at)
        .where(Version.page_id == page_id, Version.source.is_(None))
        .order_by(Version.number)
        .limit(1)
    ).first()
    commits = s.scalars(
        select(Version.source_commit).where(
            Version.page_id == page_id, Version.source_commit.is_not(None)
        )
    ).all()
    return ImportAnchor(
        after=imported.number if imported else 0,
        after_sha256=imported.text_sha256 if imported else None,
        own_first=own.number if own else None,
        own_first_sha256=own.text_sha256 if own else None,
        imported_commits=frozenset(c for c in commits if c),
        own_first_at=own.created_at if own else None,
    )


def _check_text(version: VersionIn) -> None:
    digest = hashlib.sha256(version.text.encode("utf-8")).hexdigest()
    if digest != version.text_sha256:
        raise ValueError(f"text_sha256 {version.text_sha256!r} is not the text's ({digest})")


def _shift(s: Session, page_id: int, after: int, count: int) -> None:
    """Move the versions numbered above `after` up by `count` (through negative numbers, so
    the unique (page, number) holds at every row on every database)."""
    later = (Version.page_id == page_id) & (Version.number > after)
    s.execute(update(Version).where(later).values(number=-(Version.number + count)))
    s.execute(
        update(Version)
        .where(Version.page_id == page_id, Version.number < 0)
        .values(number=-Version.number)
    )
    s.execute(
        update(Version)
        .where(Version.page_id == page_id, Version.reverts_to > after)
        .values(reverts_to=Version.reverts_to + count)
    )


def _insert(
    s: Session, page_id: int, after: int, versions: Sequence[ImportedVersionIn]
) -> list[Version]:
    """The versions numbered after+1..., each a delta against the one before it."""
    previous = s.execute(
        select(Version.id, Version.depth).where(Version.page_id == page_id, Version.number == after)
    ).first()
    base: tuple[int, int, bytes] | None = None  # id, depth, text
    if previous is not None:
        text = read_chain(s, Version.__table__, "text", previous.id)
        base = (previous.id, previous.depth, text)
    rows: list[Version] = []
    for offset, item in enumerate(versions, start=1):
        data = item.version.text.encode("utf-8")
        if base is None or base[1] + 1 >= FULL_EVERY:
            base_id, depth, blob = None, 0, blobs.encode(data)
        else:
            base_id, depth, blob = base[0], base[1] + 1, blobs.encode(data, base[2])
        row = Version(
            page_id=page_id,
            number=after + offset,
            snapshot_id=None,
            created_at=item.created_at,
            text_sha256=item.version.text_sha256,
            text=blob,
            base_id=base_id,
            depth=depth,
            size=len(item.version.text),
            words=item.version.words,
            rules_hash=item.version.rules_hash,
            technical=item.version.technical,
            reverts_to=None,
            source=item.source,
            source_commit=item.source_commit,
        )
        s.add(row)
        s.flush()
        if item.change is not None:
            if previous is None and not rows:
                raise ValueError("the first version of a page has no change")
            from_id = rows[-1].id if rows else previous.id  # type: ignore[union-attr]
            insert_change(s, page_id, from_id, row.id, item.created_at, item.change)
        rows.append(row)
        base = (row.id, depth, data)
    return rows


def _bridge(s: Session, page_id: int, last: Version, own_first: int, change: ChangeIn) -> None:
    """The change from the newest imported version into the first own one: the row already
    there keeps its id (an alert may point at it) and gets the new assessment."""
    target = s.scalars(
        select(Version).where(Version.page_id == page_id, Version.number == own_first)
    ).one()
    existing = s.scalars(select(Change).where(Change.to_version_id == target.id)).first()
    if existing is None:
        insert_change(s, page_id, last.id, target.id, target.created_at, change)
        return
    existing.from_version_id = last.id
    existing.significance = change.significance
    existing.topics = json.dumps(change.topics)
    existing.flags = json.dumps(change.flags)
    existing.changeset = blobs.encode(json.dumps(change.changeset, ensure_ascii=False).encode())
    existing.n_changes = len(change.changeset)
    s.execute(delete(ChangeTopic).where(ChangeTopic.change_id == existing.id))
    s.flush()
    s.add_all(ChangeTopic(change_id=existing.id, topic=t) for t in dict.fromkeys(change.topics))
