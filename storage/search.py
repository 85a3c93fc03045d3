"""Phrase search across every version: each distinct line's lifetimes (block_spans), kept as
versions are added, and the query that turns matching lines into "present from N until M" and
a timeline of how many times the phrase occurs, at each version where that number changed
(counted in the versions' texts, the same regular expression on SQLite and PostgreSQL).

Only distinct lines are indexed, never each version's full text: a line present in 300 versions
is one row in search_lines and one span. On SQLite with FTS5 the lines live in a contentless
full-text index (their text is already in the compressed versions); elsewhere (PostgreSQL, an
SQLite without FTS5) search_lines keeps the text and a LIKE query stands in for the index.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update
from sqlalchemy.orm import aliased

from storage import blobs
from storage.base import insert_or_skip
from storage.models import BlockSpan, Change, Page, SearchLine, Version

FTS_TABLE = "search_lines_fts"
TRIGRAM_INDEX = "ix_search_lines_trgm"
"""On PostgreSQL: a pg_trgm GIN index on lower(text), which serves the LIKE '%word%' filters."""
_CHUNK = 400  # bound parameters per IN (...): far below every database's limit
_TOKEN = re.compile(r"[^\W_]+")  # FTS5's unicode61 splits on everything but letters and digits
_LINK_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")


@dataclass(frozen=True)
class Presence:
    """A run of versions holding the phrase: from `since` to just before `until` (None: still).

    The change ids are the changes that led to those versions (None for the first version kept,
    or for a technical version, which has no change).
    """

    since: int
    since_at: datetime
    since_change: int | None
    until: int | None
    until_at: datetime | None
    until_change: int | None


@dataclass(frozen=True)
class Occurrence:
    """How many times the phrase occurs in `version`, one of the versions where that number
    changed (0: it disappeared there); `change` led to that version (None as in Presence)."""

    version: int
    at: datetime
    change: int | None
    count: int


@dataclass(frozen=True)
class PhraseHit:
    """Where a phrase appears in one document: its runs, oldest first, a line holding it, and
    its timeline: each version where the number of occurrences changed, oldest first."""

    slug: str
    name: str
    runs: list[Presence]
    example: str | None
    timeline: list[Occurrence] = field(default_factory=list)

    @property
    def present(self) -> bool:
        return bool(self.runs) and self.runs[-1].until is None


# ---- upkeep --------------------------------------------------------------------------------


def line_digest(line: str) -> bytes:
    """64 bits of SHA-256: a collision (about 1 in 10^12 at a million lines) merges two lines."""
    return hashlib.sha256(line.encode("utf-8")).digest()[:8]


def searchable(line: str) -> str:
    """The words of a line that search sees: link anchors stay, link targets go (they are most
    of the index and nobody searches a tracking-free URL by its words)."""
    return _LINK_TARGET.sub("]", line)


def has_fts(conn: Connection) -> bool:
    """True when the full-text index exists (SQLite with FTS5); else search uses LIKE."""
    if conn.dialect.name != "sqlite":
        return False
    found = conn.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": FTS_TABLE},
    ).first()
    return found is not None


def is_fts_table(name: str) -> bool:
    """Whether a table belongs to the FTS5 index (the virtual table or one of its shadows)."""
    return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")


def fts5_compiled(conn: Connection) -> bool:
    """Whether this SQLite can create an FTS5 table."""
    if conn.dialect.name != "sqlite":
        return False
    return bool(conn.execute(text("SELECT sqlite_compileoption_used('ENABLE_FTS5')")).scalar())


def create_fts(conn: Connection) -> bool:
    """Create the contentless FTS5 index over search_lines when SQLite has FTS5."""
    if not fts5_compiled(conn):
        return False
    # Contentless (the texts are in the versions) and without per-row sizes (no ranking).
    options = "text, content='', columnsize=0"
    conn.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({options})"))
    return True


def version_added(conn: Connection, page_id: int, number: int, version_text: str) -> None:
    """Bring a page's line lifetimes up to its new version `number` (called in its transaction).

    Lines that left close their span at `number`; lines that arrived open one. The page's open
    spans are the previous version's line set, so the previous text need not be decoded.
    """
    lines = {line_digest(line): line for line in version_text.split("\n") if line}
    open_rows = conn.execute(
        select(BlockSpan.id, SearchLine.digest)
        .join(SearchLine, SearchLine.id == BlockSpan.line_id)
        .where(BlockSpan.page_id == page_id, BlockSpan.until_version.is_(None))
    ).all()
    present = {row.digest for row in open_rows}
    gone = [row.id for row in open_rows if row.digest not in lines]
    for chunk in _chunks(gone):
        conn.execute(update(BlockSpan).where(BlockSpan.id.in_(chunk)).values(until_version=number))
    arrived = {digest: line for digest, line in lines.items() if digest not in present}
    if not arrived:
        return
    ids = _line_ids(conn, arrived)
    conn.execute(
        insert(BlockSpan),
        [
            {"page_id": page_id, "line_id": ids[d], "since_version": number, "until_version": None}
            for d in arrived
        ],
    )


def _line_ids(conn: Connection, lines: dict[bytes, str]) -> dict[bytes, int]:
    """The search_lines id of each line, inserting (and indexing) the ones never seen before.

    Two pages (or two processes) meeting the same new line at once: the insert skips a digest
    already there, and the ids are read back after it."""
    ids = _known_ids(conn, list(lines))
    new = [d for d in lines if d not in ids]
    if not new:
        return ids
    fts = has_fts(conn)
    rows = [{"digest": d, "text": None if fts else lines[d]} for d in new]
    inserted = conn.execute(
        insert_or_skip(conn, SearchLine, ["digest"]).returning(SearchLine.digest, SearchLine.id),
        rows,
    ).all()
    mine = {row.digest: row.id for row in inserted}
    ids.update(mine)
    if fts and mine:
        conn.execute(
            text(f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (:id, :text)"),
            [{"id": i, "text": searchable(lines[d])} for d, i in mine.items()],
        )
    missing = [d for d in new if d not in mine]  # written by another transaction meanwhile
    if missing:
        ids.update(_known_ids(conn, missing))
    return ids


def _known_ids(conn: Connection, digests: list[bytes]) -> dict[bytes, int]:
    ids: dict[bytes, int] = {}
    for chunk in _chunks(digests):
        query = select(SearchLine.digest, SearchLine.id).where(SearchLine.digest.in_(chunk))
        ids.update((row.digest, row.id) for row in conn.execute(query))
    return ids


def rebuild(conn: Connection) -> None:
    """Recompute every page's line lifetimes from its stored versions (the migration's backfill).

    Keeps the FTS index if it exists; without it, search_lines gets the texts for LIKE.
    """
    conn.execute(delete(BlockSpan))
    conn.execute(delete(SearchLine))
    if has_fts(conn):
        conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('delete-all')"))
    for page_id in conn.execute(select(Page.id).order_by(Page.id)).scalars():
        for number, version_text in _version_texts(conn, page_id):
            version_added(conn, page_id, number, version_text)
    if has_fts(conn):  # one pass of merging makes the index smaller and faster to query
        conn.execute(text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))


def rebuild_page(conn: Connection, page_id: int) -> None:
    """Recompute one page's line lifetimes from its versions (after versions were inserted
    ahead of others: storage.imports). Lines stay in search_lines; only the spans move."""
    conn.execute(delete(BlockSpan).where(BlockSpan.page_id == page_id))
    for number, version_text in _version_texts(conn, page_id):
        version_added(conn, page_id, number, version_text)


def _version_texts(conn: Connection, page_id: int) -> Iterator[tuple[int, str]]:
    """Each version of a page, oldest first, decoding each delta against the row before it."""
    rows = conn.execute(
        select(Version.id, Version.number, Version.base_id)
        .where(Version.page_id == page_id)
        .order_by(Version.number)
    ).all()
    last: tuple[int, bytes] | None = None
    for row in rows:
        if row.base_id is None:
            base = None
        elif last is not None and last[0] == row.base_id:
            base = last[1]
        else:
            base = _decode(conn, row.base_id)
        data = blobs.decode(_blob(conn, row.id), base)
        last = (row.id, data)
        yield row.number, data.decode("utf-8")


def _blob(conn: Connection, version_id: int) -> bytes:
    blob = conn.execute(select(Version.text).where(Version.id == version_id)).scalar_one()
    assert isinstance(blob, bytes)
    return blob


def _decode(conn: Connection, version_id: int) -> bytes:
    """A version's text, walking its delta chain (at most storage.values.FULL_EVERY rows)."""
    chain: list[tuple[bytes, int | None]] = []
    current: int | None = version_id
    while current is not None:
        row = conn.execute(select(Version.text, Version.base_id).where(Version.id == current)).one()
        chain.append((row.text, row.base_id))
        current = row.base_id
    data: bytes | None = None
    for blob, _ in reversed(chain):
        data = blobs.decode(blob, data)
    assert data is not None
    return data


# ---- search --------------------------------------------------------------------------------


def tokens(phrase: str) -> list[str]:
    """The words of a phrase, as the index sees them."""
    return _TOKEN.findall(phrase.lower())


def phrase_regex(phrase: str) -> re.Pattern[str] | None:
    """Case-insensitive: the words in order, any punctuation or space between them, starting on
    a word boundary; the last word may be the start of a longer one ("keystroke" finds
    "keystrokes")."""
    words = tokens(phrase)
    if not words:
        return None
    return re.compile(r"(?<![^\W_])" + r"[\W_]+".join(re.escape(w) for w in words), re.I)


def search(engine: Engine, phrase: str, *, limit: int = 100) -> list[PhraseHit]:
    """Each document where `phrase` appears in some version, with the runs of versions holding
    it, by document name."""
    words = tokens(phrase)
    if not words:
        return []
    with engine.connect() as conn:
        matches = _matching_spans(conn, words, phrase)
        pattern = phrase_regex(phrase)
        assert pattern is not None
        hits = [_hit(conn, page_id, spans, pattern) for page_id, spans in matches.items()]
    hits.sort(key=lambda hit: (hit.name.lower(), hit.slug))
    return hits[:limit]


@dataclass(frozen=True)
class _Span:
    line_id: int
    since: int
    until: int | None


def _matching_spans(conn: Connection, words: list[str], phrase: str) -> dict[int, list[_Span]]:
    spans: dict[int, list[_Span]] = defaultdict(list)
    if has_fts(conn):
        query = '"' + " ".join(words) + '"*'
        rows: Iterable[Any] = conn.execute(
            text(
                f"SELECT b.page_id, b.line_id, b.since_version, b.until_version "
                f"FROM block_spans AS b JOIN (SELECT rowid AS id FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH :query) AS m ON m.id = b.line_id"
            ),
            {"query": query},
        )
    else:
        rows = _like_spans(conn, words, phrase)
    for page_id, line_id, since, until in rows:
        spans[page_id].append(_Span(line_id, since, until))
    return spans


def _like_spans(conn: Connection, words: list[str], phrase: str) -> list[Any]:
    """Lines holding every word (LIKE), kept when the words are in order (regex), and spans."""
    pattern = phrase_regex(phrase)
    assert pattern is not None
    query = select(SearchLine.id, SearchLine.text)
    for word in words:
        query = query.where(func.lower(SearchLine.text).like(f"%{word}%"))
    line_ids = [
        row.id for row in conn.execute(query) if row.text and pattern.search(searchable(row.text))
    ]
    rows: list[Any] = []
    for chunk in _chunks(line_ids):
        rows.extend(
            conn.execute(
                select(
                    BlockSpan.page_id,
                    BlockSpan.line_id,
                    BlockSpan.since_version,
                    BlockSpan.until_version,
                ).where(BlockSpan.line_id.in_(chunk))
            )
        )
    return rows


def _hit(conn: Connection, page_id: int, spans: list[_Span], pattern: re.Pattern[str]) -> PhraseHit:
    runs = merge_runs([(s.since, s.until) for s in spans])
    # The count can change only where a line holding the phrase came or went.
    points = sorted({n for s in spans for n in (s.since, s.until) if n is not None})
    numbers = {n for since, until in runs for n in (since, until) if n is not None}
    info = _version_info(conn, page_id, numbers | set(points))
    page = conn.execute(select(Page.slug, Page.name).where(Page.id == page_id)).one()
    presences = [
        Presence(
            since,
            info[since][0],
            info[since][1],
            until,
            info[until][0] if until is not None else None,
            info[until][1] if until is not None else None,
        )
        for since, until in runs
    ]
    first = min(spans, key=lambda s: (s.since, s.line_id))
    timeline: list[Occurrence] = []
    for number in points:
        count = occurrences(_text_of(conn, page_id, number), pattern)
        if not timeline or timeline[-1].count != count:
            at, change = info[number]
            timeline.append(Occurrence(number, at, change, count))
    example = _example(conn, page_id, first)
    return PhraseHit(page.slug, page.name, presences, example, timeline)


def occurrences(version_text: str, pattern: re.Pattern[str]) -> int:
    """How many times the phrase occurs in a version's text, line by line as search reads it
    (link targets left out; a phrase never runs across two lines)."""
    return sum(len(pattern.findall(searchable(line))) for line in version_text.split("\n"))


def _text_of(conn: Connection, page_id: int, number: int) -> str:
    version_id = conn.execute(
        select(Version.id).where(Version.page_id == page_id, Version.number == number)
    ).scalar_one()
    return _decode(conn, version_id).decode("utf-8")


def merge_runs(spans: Sequence[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """Union of half-open version ranges [since, until), None meaning open-ended; oldest first."""
    out: list[tuple[int, int | None]] = []
    for since, until in sorted(spans, key=lambda s: s[0]):
        if out:
            last_since, last_until = out[-1]
            if last_until is None or since <= last_until:
                merged = None if last_until is None or until is None else max(last_until, until)
                out[-1] = (last_since, merged)
                continue
        out.append((since, until))
    return out


def _version_info(
    conn: Connection, page_id: int, numbers: set[int]
) -> dict[int, tuple[datetime, int | None]]:
    """For each version number: when it was created, and the change that led to it."""
    change = aliased(Change)
    out: dict[int, tuple[datetime, int | None]] = {}
    for chunk in _chunks(sorted(numbers)):
        query = (
            select(Version.number, Version.created_at, change.id)
            .outerjoin(change, change.to_version_id == Version.id)
            .where(Version.page_id == page_id, Version.number.in_(chunk))
        )
        out.update((row[0], (row[1], row[2])) for row in conn.execute(query))
    return out


def _example(conn: Connection, page_id: int, span: _Span) -> str | None:
    """The text of a matching line: stored for LIKE, else read from the version it arrived in."""
    stored = conn.execute(
        select(SearchLine.text, SearchLine.digest).where(SearchLine.id == span.line_id)
    ).one()
    if stored.text is not None:
        return str(stored.text)
    version_id = conn.execute(
        select(Version.id).where(Version.page_id == page_id, Version.number == span.since)
    ).scalar_one()
    version_text = _decode(conn, version_id).decode("utf-8")
    return next(
        (line for line in version_text.split("\n") if line_digest(line) == stored.digest), None
    )


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
