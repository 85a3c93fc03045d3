"""Web pages over a document with 500 versions: timeline, change, compare, search, in-process.

Builds a project-written policy (about 60 KB of text) through 500 versions, each changing a few
blocks, recorded the way checks record them (real differ, topics and storage, no network), then
renders each page through the ASGI app (middleware and templates included) and prints medians.

    .venv/bin/python -m bench.web            # 500 versions, 30 requests a page
    .venv/bin/python -m bench.web --db PATH  # the same pages over an existing database
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import footer, table
from monitor import config
from monitor.analysis.assessment import classify
from monitor.analysis.differ import diff_documents
from monitor.analysis.topics import DEFAULT_TOPICS
from monitor.extract.document import Document, with_paths
from monitor.web import create_app
from storage.db import ensure_schema, make_engine
from storage.repo import Repo
from storage.values import ChangeIn, CheckIn, PageSpec, VersionIn

SLUG = "bench-policy"
VERSIONS = 500
RUNS = 30
WORDS = [
    *("account", "information", "device", "settings", "partners", "products", "services"),
    *("content", "people", "messages", "features", "safety", "security", "location"),
    *("contacts", "advertising", "measurement", "communities", "choices", "controls"),
    *("requests", "records", "purposes", "providers"),
]
TOPICAL = [
    "We may use how you interact with features, such as clicks and scrolling, to train "
    "artificial intelligence models.",
    "We study keystroke timing for research and development of new products.",
    "You can object to this use in Settings and opt out at any time.",
    "We share aggregated reports with partners and researchers.",
]


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(12, 28))
    return " ".join(words).capitalize() + "."


def first_document(rng: random.Random) -> list[tuple[str, str, int]]:
    blocks: list[tuple[str, str, int]] = [("heading", "Privacy Policy", 1)]
    for section in range(40):
        blocks.append(("heading", f"Section {section}: {sentence(rng)[:40]}", 2))
        blocks.extend(("paragraph", f"{sentence(rng)} {sentence(rng)}", 1) for _ in range(3))
        blocks.extend(("item", sentence(rng), 1) for _ in range(4))
    return blocks


def edit(blocks: list[tuple[str, str, int]], rng: random.Random) -> list[tuple[str, str, int]]:
    """A few blocks reworded, added or removed: what a policy update looks like."""
    out = list(blocks)
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(1, len(out))
        kind, text, level = out[i]
        if kind == "heading":
            continue
        roll = rng.random()
        if roll < 0.6:
            words = text.split()
            j = rng.randrange(len(words))
            words[j] = rng.choice([*WORDS, "not", "may", "will"])
            out[i] = (kind, " ".join(words), level)
        elif roll < 0.8:
            out.insert(i, ("paragraph", rng.choice([*TOPICAL, sentence(rng)]), 1))
        elif len(out) > 100:
            del out[i]
    return out


def document_of(blocks: list[tuple[str, str, int]]) -> Document:
    return Document(with_paths(blocks))  # type: ignore[arg-type]


def build(path: Path, versions: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    repo = Repo(engine)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    repo.pages.sync_pages(
        [PageSpec(SLUG, "Bench policy", "https://bench.test/", "http", "r")], start
    )
    rng = random.Random(500)
    blocks = first_document(rng)
    previous: Document | None = None
    for n in range(1, versions + 1):
        at = start + timedelta(days=n)
        doc = document_of(blocks)
        technical = n % 50 == 0
        version = VersionIn(doc.text, doc.sha256, "r", doc.words, technical=technical)
        change = None
        if previous is not None and not technical:
            assessment = classify(diff_documents(previous, doc), DEFAULT_TOPICS)
            data = assessment.to_json()
            change = ChangeIn(
                significance=assessment.significance or "cosmetic",
                topics=list(assessment.topics),
                flags=list(assessment.flags),
                changeset=data["changes"],  # type: ignore[arg-type]
                from_version=n - 1,
            )
        outcome = "new" if n == 1 else "technical" if technical else "changed"
        check = CheckIn(at, at, outcome, "http", 1.0, text_sha256=doc.sha256)
        repo.checks.record_check(SLUG, check, version=version, change=change)
        previous = doc
        blocks = edit(blocks, rng)
    engine.dispose()


def pages(change_ids: list[int], last: int, day: str) -> list[tuple[str, str]]:
    middle = change_ids[len(change_ids) // 2]
    return [
        ("dashboard", "/"),
        ("timeline, newest 100", f"/documents/{SLUG}"),
        ("timeline, page 4", f"/documents/{SLUG}?page=4"),
        ("timeline, topic filter", f"/documents/{SLUG}?topic=ai-training"),
        ("check errors tab", f"/documents/{SLUG}/checks?all=true"),
        ("change, inline", f"/changes/{middle}"),
        ("change, side by side", f"/changes/{middle}?mode=side"),
        ("version text", f"/documents/{SLUG}/versions/{last // 2}"),
        ("text at a date", f"/documents/{SLUG}/at/{day}"),
        ("compare v1 -> latest", f"/documents/{SLUG}/compare?from=1&to={last}"),
        ("search 'keystroke'", "/search?q=keystroke"),
        ("feed of the document", f"/feeds/documents/{SLUG}.atom"),
        ("API: versions", f"/api/documents/{SLUG}/versions"),
    ]


async def measure(db: Path, runs: int) -> list[list[object]]:
    settings = config.parse({}, db.parent / "config.toml")
    engine = make_engine(f"sqlite:///{db}")
    repo = Repo(engine)
    slug = SLUG if repo.pages.page(SLUG) else repo.pages.pages()[0].slug
    change_ids = sorted(c.id for c in repo.history.changes(slug))
    last = repo.history.version_count(slug)
    day = repo.history.recent_versions(slug, last)[last // 2].created_at.date().isoformat()
    app = create_app(settings, engine)
    rows: list[list[object]] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        for name, template in pages(change_ids, last, day):
            path = template.replace(SLUG, slug)
            response = await client.get(path)  # warm: templates compiled, caches filled
            assert response.status_code == 200, (path, response.status_code)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                await client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
            rows.append([name, statistics.median(times), max(times), len(response.content) // 1024])
    engine.dispose()
    return rows


def sizes(db: Path) -> list[list[object]]:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        per = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    groups = {
        "versions (compressed texts)": ["versions"],
        "search: lines, spans, indexes": [
            "search_lines",
            "sqlite_autoindex_search_lines_1",
            "block_spans",
            "ix_block_spans_line_id",
            "ix_block_spans_open",
        ],
        "search: FTS5 index": [n for n in per if n.startswith("search_lines_fts")],
    }
    return [[name, sum(per.get(t, 0) for t in tables) / 1024] for name, tables in groups.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="measure an existing database instead")
    parser.add_argument("--versions", type=int, default=VERSIONS)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        if args.db is None:
            t0 = time.perf_counter()
            build(db, args.versions)
            print(f"built {args.versions} versions in {time.perf_counter() - t0:.1f} s\n")
        rows = asyncio.run(measure(db, args.runs))
        print(table(["page", "median ms", "max ms", "KB"], rows))
        print()
        print(table(["storage", "KB"], sizes(db)))
    footer(".venv/bin/python -m bench.web" + (f" --db {args.db}" if args.db else ""))


if __name__ == "__main__":
    main()
