"""Export the replayed corpus as WARC and verify it against the database.

A database is built by replaying the first `--versions` versions of each document of the real
policy corpus through the real checker (bench.replay), then `export warc` of every stored page
and `verify` of the file are timed `--runs` times each (medians), and the WARC's size is set
against the database's. The default run (80 versions) takes about two minutes here.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import footer, peak_rss_mb, require_corpus, table
from bench.replay import replay
from bench.replay_server import ReplayServer
from monitor.daemon.runtime import open_store
from monitor.evidence.verify import verify_warc
from monitor.evidence.warc import export_warc

VERSIONS = 80
RUNS = 3


def database_size(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=VERSIONS, help="per document")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    require_corpus()
    with tempfile.TemporaryDirectory() as tmp, ReplayServer() as server:
        workdir = Path(tmp)
        print(f"replaying the first {args.versions} versions of each corpus document", flush=True)
        t0 = time.perf_counter()
        _, settings = asyncio.run(replay(workdir, server, args.versions))
        print(f"built the database in {time.perf_counter() - t0:.0f} s\n", flush=True)
        db_size = database_size(workdir / "replay.db")
        store = open_store(settings)
        evidence = store.repo.evidence
        ids = evidence.select()
        target = workdir / "corpus.warc.gz"
        exports, verifies = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            done = export_warc(evidence, ids, target, info={"software": "policywatch bench"})
            exports.append(time.perf_counter() - start)
            start = time.perf_counter()
            checked = verify_warc(target, evidence)
            verifies.append(time.perf_counter() - start)
            if not checked.ok:
                raise SystemExit(f"verify found a mismatch in a fresh export: {checked.error}")
        body_bytes = done.page_bytes
        store.engine.dispose()
    export_s, verify_s = statistics.median(exports), statistics.median(verifies)
    mb = body_bytes / 1e6
    rows = [
        ["stored pages", f"{done.snapshots} of {done.pages} documents ({done.records} records)"],
        ["their bytes, as stored (decoded)", f"{mb:.1f} MB"],
        ["database (SQLite: pages, versions, checks)", f"{db_size / 1e6:.1f} MB"],
        ["WARC file (gzip per record)", f"{done.size / 1e6:.1f} MB"],
        ["WARC / database", f"{done.size / db_size:.1f}x"],
        ["export warc, median", f"{export_s:.2f} s ({mb / export_s:.0f} MB/s of pages)"],
        ["verify, median", f"{verify_s:.2f} s ({mb / verify_s:.0f} MB/s of pages)"],
    ]
    print(table(["what", "measured"], rows))
    print(f"\npeak RSS: {peak_rss_mb():.0f} MB")
    footer(f".venv/bin/python -m bench.export --versions {args.versions} --runs {args.runs}")
    print(
        f"\nexport {done.snapshots} pages: {export_s:.2f} s, WARC {done.size / 1e6:.1f} MB = "
        f"{done.size / db_size:.1f}x the database ({db_size / 1e6:.1f} MB); "
        f"verify {verify_s:.2f} s, all {done.snapshots} match",
        flush=True,
    )


if __name__ == "__main__":
    main()
