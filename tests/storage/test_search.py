"""storage.search: line lifetimes kept up as versions are added, phrase search over them (the FTS5
index and the LIKE fallback answer alike), and the migration's backfill, on real SQLite files."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect, select, text

from storage import search
from storage.db import make_engine, migrate, upgrade
from storage.models import BlockSpan, SearchLine
from storage.repo import Repo
from storage.values import ChangeIn, CheckIn, PageSpec, VersionIn
from tests.pg import database_url

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(database_url(tmp_path))
    upgrade(engine)
    Repo(engine).pages.sync_pages(
        [PageSpec(slug, slug.upper(), f"https://{slug}.test/", "http", "r") for slug in "ab"], T0
    )
    yield engine
    engine.dispose()


def record(engine: Engine, slug: str, body: str, number: int) -> None:
    """Version `number` of page `slug`, with a change from the one before it."""
    at = T0 + timedelta(days=number)
    check = CheckIn(at, at, "new" if number == 1 else "changed", "http", 1.0)
    version = VersionIn(body, hashlib.sha256(body.encode()).hexdigest(), "r", len(body.split()))
    change = ChangeIn("minor", [], [], [], number - 1) if number > 1 else None
    Repo(engine).checks.record_check(slug, check, version=version, change=change)


def use_like(engine: Engine) -> None:
    """Turn a SQLite database into one without FTS5, as PostgreSQL is: LIKE over stored lines
    (on PostgreSQL with its trigram index). On PostgreSQL, nothing to do."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {search.FTS_TABLE}"))
        search.rebuild(conn)


MODES = [pytest.param("fts5", marks=pytest.mark.sqlite_only("SQLite's FTS5 index")), "like"]


def spans(engine: Engine, slug_id: int = 1) -> set[tuple[str, int, int | None]]:
    """(line, since, until) of every span of a page, the lines read back from the versions."""
    repo = Repo(engine)
    slug = "ab"[slug_id - 1]
    texts = {
        search.line_digest(line): line
        for n in range(1, repo.history.version_count(slug) + 1)
        for line in (repo.history.version(slug, n) or pytest.fail("missing")).text.split("\n")
    }
    with engine.connect() as conn:
        rows = conn.execute(
            select(SearchLine.digest, BlockSpan.since_version, BlockSpan.until_version)
            .join(SearchLine, SearchLine.id == BlockSpan.line_id)
            .where(BlockSpan.page_id == slug_id)
        ).all()
    return {(texts[digest], since, until) for digest, since, until in rows}


V1 = "# Title\nAlpha line.\nBeta line about keystroke logging."
V2 = "# Title\nAlpha line.\nGamma line."
V3 = "# Title\nAlpha line.\nBeta line about keystroke logging.\nGamma line."


def test_lifetimes_follow_the_versions(engine: Engine) -> None:
    for number, body in enumerate((V1, V2, V3), 1):
        record(engine, "a", body, number)
    assert spans(engine) == {
        ("# Title", 1, None),
        ("Alpha line.", 1, None),
        ("Beta line about keystroke logging.", 1, 2),
        ("Beta line about keystroke logging.", 3, None),
        ("Gamma line.", 2, None),
    }


@pytest.mark.parametrize("mode", MODES)
def test_search_gives_runs_with_their_changes(engine: Engine, mode: str) -> None:
    for number, body in enumerate((V1, V2, V3), 1):
        record(engine, "a", body, number)
    if mode == "like":
        use_like(engine)
    changes = {c.to_version: c.id for c in Repo(engine).history.changes("a")}
    [hit] = search.search(engine, "keystroke logging")
    assert (hit.slug, hit.name, hit.present) == ("a", "A", True)
    assert [(r.since, r.since_change, r.until, r.until_change) for r in hit.runs] == [
        (1, None, 2, changes[2]),
        (3, changes[3], None, None),
    ]
    assert hit.runs[0].since_at == T0 + timedelta(days=1)
    assert hit.example == "Beta line about keystroke logging."


@pytest.mark.parametrize("mode", MODES)
def test_timeline_counts_occurrences_where_their_number_changes(engine: Engine, mode: str) -> None:
    """1, then 8 (one line rewritten to hold it twice, six lines added), the same 8 with an
    unrelated line edited, then 0; a second document keeps the phrase all along."""
    one = "# Data\nWe record click timing on buttons.\nOther text."
    eight = "\n".join(
        ["# Data", "We record click timing, and click timing again.", "Other text."]
        + [f"Item {i}: click timing of kind {i}." for i in range(6)]
    )
    eight_edited = eight.replace("Other text.", "Other words.")
    none = "# Data\nWe record nothing about how you tap.\nOther words."
    for number, body in enumerate((one, eight, eight_edited, none), 1):
        record(engine, "a", body, number)
    record(engine, "b", "# B\nClick timing, a short note.", 1)
    if mode == "like":
        use_like(engine)
    changes = {c.to_version: c.id for c in Repo(engine).history.changes("a")}
    hit_a, hit_b = search.search(engine, "click timing")
    assert [(p.version, p.count, p.change) for p in hit_a.timeline] == [
        (1, 1, None),
        (2, 8, changes[2]),
        (4, 0, changes[4]),
    ]
    assert hit_a.timeline[1].at == T0 + timedelta(days=2)
    assert [(p.version, p.count) for p in hit_b.timeline] == [(1, 1)]
    assert (
        search.occurrences(
            "See [click timing](https://click.test/click-timing).", re_of("click timing")
        )
        == 1
    )


def re_of(phrase: str) -> re.Pattern[str]:
    pattern = search.phrase_regex(phrase)
    assert pattern is not None
    return pattern


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("phrase", "found"),
    [
        ("keystroke", True),
        ("KEYSTROKE   Logging", True),
        ("keystroke, logging!", True),  # punctuation between words does not matter
        ("keystrokes", False),
        ("keystr", True),  # the last word may be the start of a longer one
        ("ystroke", False),  # but the first starts a word
        ("logging about", False),  # words in order
        ("line about keystroke", True),
        ("example.test", False),  # link targets are not searched
        ("privacy form", True),  # link anchors are
        ("", False),
        ("!!!", False),
    ],
)
def test_phrase_matching(engine: Engine, mode: str, phrase: str, found: bool) -> None:
    record(engine, "a", V1 + "\nSee the [privacy form](https://example.test/form).", 1)
    if mode == "like":
        use_like(engine)
    assert bool(search.search(engine, phrase)) is found


def test_a_line_shared_by_two_pages_is_stored_once(engine: Engine) -> None:
    record(engine, "a", V1, 1)
    record(engine, "b", "# Other\nBeta line about keystroke logging.", 1)
    with engine.connect() as conn:
        lines = conn.execute(select(SearchLine.id)).all()
        if search.has_fts(conn):  # the texts live in the index and the versions only
            assert not conn.execute(
                select(SearchLine.text).where(SearchLine.text.is_not(None))
            ).all()
    assert len(lines) == 4
    assert [hit.slug for hit in search.search(engine, "keystroke")] == ["a", "b"]


def test_fallback_keeps_the_texts(engine: Engine) -> None:
    record(engine, "a", V1, 1)
    use_like(engine)
    with engine.connect() as conn:
        stored = set(conn.execute(select(SearchLine.text)).scalars())
        assert not search.has_fts(conn)
    assert stored == set(V1.split("\n"))
    record(engine, "a", V2, 2)  # upkeep in fallback mode stores the new line's text too
    with engine.connect() as conn:
        assert "Gamma line." in set(conn.execute(select(SearchLine.text)).scalars())


def test_random_histories_match_brute_force_and_rebuild(engine: Engine) -> None:
    rng = random.Random(7)
    pool = [f"Line {i} about {rng.choice(['clicks', 'research', 'cookies'])}." for i in range(12)]
    bodies = ["\n".join(rng.sample(pool, rng.randint(1, 8))) for _ in range(25)]
    for number, body in enumerate(bodies, 1):
        record(engine, "a", body, number)
    incremental = spans(engine)
    for line in pool:
        holding = {n for n, body in enumerate(bodies, 1) if line in body.split("\n")}
        covered = {
            n
            for text_, since, until in incremental
            if text_ == line
            for n in range(since, (until or len(bodies) + 1))
        }
        assert covered == holding, line
    with engine.begin() as conn:
        search.rebuild(conn)
    assert spans(engine) == incremental


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30) | st.none()), max_size=12))
def test_merge_runs_covers_exactly_the_spans(raw: list[tuple[int, int | None]]) -> None:
    spans_ = [(a, b if b is None else a + b) for a, b in raw]
    merged = search.merge_runs(spans_)

    def covers(ranges: list[tuple[int, int | None]], n: int) -> bool:
        return any(a <= n and (b is None or n < b) for a, b in ranges)

    assert all(covers(merged, n) == covers(spans_, n) for n in range(1, 70))
    assert all(b is None or a < b for a, b in merged)
    assert all(
        (merged[i][1] is not None) and merged[i][1] < merged[i + 1][0]  # type: ignore[operator]
        for i in range(len(merged) - 1)
    )


def test_migration_backfills_existing_versions(engine: Engine) -> None:
    for number, body in enumerate((V1, V2, V3), 1):
        record(engine, "a", body, number)
    before = spans(engine)
    migrate(engine, "0001", down=True)
    assert "block_spans" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert spans(engine) == before
    assert [h.slug for h in search.search(engine, "keystroke")] == ["a"]
