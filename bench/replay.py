"""Replay the real history of four Meta privacy policies through the whole program.

A fresh database is stepped through every version of each document with the real check
pipeline (the same `Checker` the daemon runs, over HTTP against bench.replay_server), plus one
noise-only refetch after each step. Prints what each kind of step was and what policywatch did
with it, per-check timings, storage size against git, read-back time, topics and significance.
Quick mode replays the first 120 versions of each document; FULL=1 replays all 673.
"""

from __future__ import annotations

import asyncio
import gc
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import FULL, footer, peak_rss_mb, require_corpus, summary, table
from bench.replay_server import ReplayServer
from monitor import config
from monitor.check.checker import CheckResult, Fetcher
from monitor.daemon.runtime import open_checker, open_store
from monitor.extract.urls import canonical_url
from monitor.fetch.http import FetchResult
from tests import corpus

QUICK_VERSIONS = 120
BASE = "https://www.facebook.com/"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]*)[^)]*\)")  # an image: no words, its source is no link
_TARGET = re.compile(r"\]\(([^)\s]*)[^)]*\)")
_LINK = re.compile(r"\[([^\[\]]*)\]\(([^)\s]*)[^)]*\)")
_BARE_URL = re.compile(r"https?://[^\s)\]>\"']+")
_MARKUP = re.compile(r"[*_`#>|\\\[\]]+|^\s*[-+]\s|^\s*\d+\.\s", re.M)
WANTED = {
    "text": "a version (or a flip back to a recent one)",
    "link": "a version",
    "token churn": "no version",
    "formatting": "no version",
    "near-empty": "a check error",
    "recovery": "no version",
    "first": "a version",
}


def visible_words(markdown: str) -> list[str]:
    """What a reader sees: link targets dropped, URLs printed as text in canonical form."""
    text = _TARGET.sub("]", _IMAGE.sub(" ", markdown))
    text = _BARE_URL.sub(lambda m: canonical_url(m.group(0), BASE), text)
    return _MARKUP.sub(" ", text).split()


def link_targets(markdown: str, canonical: bool) -> list[str]:
    """Targets of links with words (a link around an image alone is not extracted)."""
    links = _LINK.findall(_IMAGE.sub(" ", markdown))
    targets = [target for anchor, target in links if anchor.strip()]
    return [canonical_url(t, BASE) for t in targets] if canonical else targets


def classify_step(previous: str | None, current: str) -> str:
    if len(current.strip()) < 500:
        return "near-empty"
    if previous is None:
        return "first"
    if len(previous.strip()) < 500:
        return "recovery"
    if visible_words(previous) != visible_words(current):
        return "text"
    if link_targets(previous, True) != link_targets(current, True):
        return "link"
    if (
        link_targets(previous, False) != link_targets(current, False)
        or _BARE_URL.findall(previous) != _BARE_URL.findall(current)
        or _IMAGE.findall(previous) != _IMAGE.findall(current)
    ):
        return "token churn"  # rotating redirect hashes, signed CDN sources of images
    return "formatting"


class TimedFetcher:
    """Wraps the HTTP fetcher to time the fetch alone (the rest of a check is ours)."""

    def __init__(self, inner: Fetcher) -> None:
        self.inner = inner
        self.last_ms = 0.0

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        start = time.perf_counter()
        try:
            return await self.inner.fetch(url, etag=etag, last_modified=last_modified)
        finally:
            self.last_ms = (time.perf_counter() - start) * 1000


@dataclass
class Sample:
    name: str
    n: int
    kind: str  # step class, or "refetch"
    result: CheckResult
    wall_ms: float
    cpu_ms: float
    after_fetch_ms: float


@dataclass
class Replay:
    samples: list[Sample] = field(default_factory=list)
    raw_bytes: int = 0


async def replay(
    workdir: Path, server: ReplayServer, versions: int | None = None
) -> tuple[Replay, config.Settings]:
    """Replay each document's history into workdir/replay.db: its first `versions` versions
    (default: QUICK_VERSIONS, or all with FULL=1)."""
    docs = "".join(
        f'[[documents]]\nslug = "{n}"\nname = "{n}"\nurl = "{server.url(n)}"\n'
        for n in corpus.DOCUMENTS
    )
    path = workdir / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{workdir / "replay.db"}"\n'
        f'[fetch]\nmin_gap = "0s"\nretries = 0\n{docs}',
        encoding="utf-8",
    )
    settings = config.load(path)
    store = open_store(settings)
    out = Replay()
    async with open_checker(settings, store) as checker:
        timed = TimedFetcher(checker.http)
        checker.http = timed
        for doc in settings.documents:
            history = corpus.versions(doc.slug)
            if versions is not None:
                history = history[:versions]
            elif not FULL:
                history = history[:QUICK_VERSIONS]
            previous: str | None = None
            for version in history:
                out.raw_bytes += len(version.markdown.encode())
                server.show(doc.slug, version.n)
                kind = classify_step(previous, version.markdown)
                for label in (kind, "refetch"):
                    cpu, wall = time.process_time(), time.perf_counter()
                    result = await checker.check(doc)
                    wall_ms = (time.perf_counter() - wall) * 1000
                    cpu_ms = (time.process_time() - cpu) * 1000
                    out.samples.append(
                        Sample(
                            doc.slug,
                            version.n,
                            label,
                            result,
                            wall_ms,
                            cpu_ms,
                            wall_ms - timed.last_ms,
                        )
                    )
                previous = version.markdown
            print(f"  replayed {doc.slug}: {len(history)} versions", flush=True)
    store.engine.dispose()
    return out, settings


def report_steps(samples: list[Sample]) -> None:
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for s in samples:
        outcome = s.result.outcome
        label = {"new": "version", "changed": "version", "technical": "version"}.get(outcome)
        by_kind[s.kind][label or outcome] += 1
    rows = []
    for kind in (
        "first",
        "text",
        "link",
        "token churn",
        "formatting",
        "near-empty",
        "recovery",
        "refetch",
    ):
        c = by_kind.get(kind)
        if not c:
            continue
        rows.append(
            [
                kind,
                sum(c.values()),
                c["version"],
                c["flip"],
                c["pending"],
                c["unchanged"] + c["not_modified"],
                c["failed"],
                WANTED.get(kind, "no version"),
            ]
        )
    print("\nwhat each step was, and what policywatch did with it:\n")
    print(
        table(
            ["step", "steps", "versions", "flips", "pending", "unchanged", "errors", "wanted"],
            rows,
        )
    )


def report_timings(samples: list[Sample]) -> None:
    groups = {
        "changed (new version)": [s for s in samples if s.result.outcome in ("changed", "new")],
        "unchanged": [s for s in samples if s.result.outcome == "unchanged"],
    }
    rows = []
    for label, group in groups.items():
        wall, cpu, after = (
            summary([getattr(s, f) for s in group]) for f in ("wall_ms", "cpu_ms", "after_fetch_ms")
        )
        rows.append(
            [
                label,
                len(group),
                wall["median"],
                wall["p95"],
                wall["max"],
                cpu["median"],
                after["median"],
                after["p95"],
            ]
        )
    print(
        "\nper check, ms (wall = fetch + everything; "
        "after fetch = parse, normalise, diff, topics, store):\n"
    )
    print(
        table(
            [
                "checks",
                "n",
                "wall median",
                "wall p95",
                "wall max",
                "cpu median",
                "after-fetch median",
                "after-fetch p95",
            ],
            rows,
        )
    )
    slowest = sorted(samples, key=lambda s: s.wall_ms, reverse=True)[:5]
    print("\nslowest checks:\n")
    print(
        table(
            ["document", "version", "step", "outcome", "wall ms", "changes"],
            [[s.name, s.n, s.kind, s.result.outcome, s.wall_ms, s.result.changes] for s in slowest],
        )
    )


def git_packed_size(raw: dict[str, list[str]]) -> int | None:
    """Bytes of `git gc --aggressive` packs of the same texts, one file per document."""
    if shutil.which("git") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:

        def run(*args: str, **kw: Any) -> None:
            subprocess.run(["git", *args], cwd=tmp, check=True, capture_output=True, **kw)

        run("init", "-q")
        stream = []
        mark = 0
        for name, texts in raw.items():
            for text in texts:
                data = text.encode()
                mark += 1
                stream.append(f"blob\nmark :{mark}\ndata {len(data)}\n".encode() + data + b"\n")
                message = f"{name} {mark}".encode()
                stream.append(
                    b"commit refs/heads/main\ncommitter bench <bench@localhost> 0 +0000\n"
                    + f"data {len(message)}\n".encode()
                    + message
                    + b"\n"
                    + f"M 100644 :{mark} {name}.md\n\n".encode()
                )
        run("fast-import", "--quiet", input=b"".join(stream))
        run("gc", "--aggressive", "--prune=now", "-q")
        return sum(
            p.stat().st_size for p in (Path(tmp) / ".git" / "objects" / "pack").glob("*.pack")
        )


def report_storage(workdir: Path, replayed: Replay, settings: config.Settings) -> None:
    import sqlite3

    db = workdir / "replay.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            tables = conn.execute(
                "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
            ).fetchall()
        except sqlite3.OperationalError:  # SQLite built without dbstat
            tables = []
    size = db.stat().st_size
    raw = {
        name: [v.markdown for v in corpus.versions(name)][: None if FULL else QUICK_VERSIONS]
        for name in corpus.DOCUMENTS
    }
    packed = git_packed_size(raw)
    store = open_store(settings)
    picks = [(s.name, s.result.version) for s in replayed.samples if s.result.version]
    rng = random.Random(7)
    reads = []
    # The first read opens the connection and compiles the query.
    store.repo.history.version(*picks[0])
    # The replay leaves a heap of ~450 MB: a full garbage collection during a read would time
    # the heap, not the storage (it showed as a 59 ms maximum); freeze it first.
    gc.collect()
    gc.freeze()
    for name, number in rng.sample(picks, min(200, len(picks))):
        start = time.perf_counter()
        store.repo.history.version(name, number)
        reads.append((time.perf_counter() - start) * 1000)
    versions = sum(store.repo.history.version_count(n) for n in corpus.DOCUMENTS)
    print("\nstorage:\n")
    rows = [
        ["raw text of the replayed versions", f"{replayed.raw_bytes / 1e6:.1f} MB"],
        [
            f"policywatch database ({versions} versions, their pages, all checks)",
            f"{size / 1024:,.0f} KiB",
        ],
    ]
    if packed is not None:
        rows.append(["git gc --aggressive of the same texts", f"{packed / 1024:,.0f} KiB"])
        rows.append(["database / git", f"{size / packed:.2f}x"])
    read = summary(reads)
    rows.append(
        [
            "read back a random version (median / max)",
            f"{read['median']:.1f} / {read['max']:.1f} ms",
        ]
    )
    print(table(["what", "size"], rows))
    if tables:
        print(
            "\nlargest tables and indexes: "
            + ", ".join(f"{n} {s / 1024:,.0f} KiB" for n, s in tables)
        )
    topics: Counter[str] = Counter()
    significance: Counter[str] = Counter()
    for name in corpus.DOCUMENTS:
        for change in store.repo.history.changes(name):
            significance[change.significance] += 1
            topics.update(change.topics)
    print(
        "\nchanges per significance: "
        + ", ".join(f"{k} {v}" for k, v in significance.most_common())
    )
    print("changes per topic: " + ", ".join(f"{k} {v}" for k, v in topics.most_common()))
    store.engine.dispose()


def main() -> None:
    require_corpus()
    mode = "all versions" if FULL else f"the first {QUICK_VERSIONS} versions of each document"
    print(f"replaying {mode} of the Meta policy corpus, with a noise-only refetch after each step")
    with tempfile.TemporaryDirectory() as tmp, ReplayServer() as server:
        workdir = Path(tmp)
        replayed, settings = asyncio.run(replay(workdir, server))
        report_steps(replayed.samples)
        report_timings(replayed.samples)
        report_storage(workdir, replayed, settings)
    print(f"\npeak RSS of the monitor process: {peak_rss_mb():.0f} MB")
    footer(
        "FULL=1 .venv/bin/python -m bench.replay" if FULL else ".venv/bin/python -m bench.replay"
    )


if __name__ == "__main__":
    main()
