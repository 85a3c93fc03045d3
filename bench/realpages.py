"""Replay every real capture of nine Meta pages through the whole program, and judge the result.

`../shared/realpages` holds months of Open Terms Archive's raw captures of each page, with OTA's
own text versions beside them. Each document is replayed capture after capture through the real
`Checker` (HTTP from a page server in its own process, a fresh SQLite database per document and
run), twice: with the document's selectors translated from OTA's declaration, and with no
selector at all. A step is judged by the visible words of OTA's text in force before and after
it (link targets and images left out: OTA's versions are often link-token churn):

- a false version is a version made at a step whose visible text did not change;
- a change is caught when a step whose text changed gives a version, a flip back to a known
  variant, or a pending shrink confirmed by the next capture.

It also compares extraction with OTA's text of the same capture: headings, list items,
paragraphs and word similarity. Prints per document and run, then, last:
`false versions X/Y, changes caught A/B, errors E`.

    .venv/bin/python -m bench.realpages [--doc NAME ...] [--run ota|none]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType

import httpx

from bench.common import footer, table
from monitor import config
from monitor.check.checker import CheckResult
from monitor.daemon.runtime import open_checker, open_store
from monitor.errors import ExtractError
from monitor.extract.document import Document
from monitor.extract.html import normalize_html
from monitor.extract.markdown import normalize_markdown
from monitor.extract.regions import Selector, to_json
from monitor.extract.rules import ExtractRules
from storage.values import ChangeOut
from tests import realpages
from tests.realpages import RealDocument

RUNS = ("ota", "none")
VERSION_OUTCOMES = frozenset({"new", "changed"})


# -- the page server, in its own process so the monitor's CPU time is its own -----------------


def _serve(conn: Connection, names: list[str]) -> None:
    documents = {d.name: d for d in realpages.load(names)}
    current: dict[str, bytes] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            name = self.path.strip("/").split("/")[0]
            with lock:
                body = current.get(name)
            self._send(200, body) if body is not None else self._send(404, b"not found")

        def do_POST(self) -> None:
            _, name, n = self.path.strip("/").split("/")
            with lock:
                current[name] = documents[name].html(int(n))
            self._send(204, b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    conn.send(server.server_address[1])
    server.serve_forever()


class PageServer:
    """`GET /<doc>/...` serves the current capture of a document; `show(doc, n)` sets it."""

    def __init__(self, names: list[str]) -> None:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, names), daemon=True)
        self.process.start()
        self.port = parent.recv()
        self.client = httpx.Client(timeout=60)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}/page"

    def show(self, name: str, n: int) -> None:
        self.client.post(f"http://127.0.0.1:{self.port}/control/{name}/{n}").raise_for_status()

    def __enter__(self) -> PageServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.client.close()
        self.process.terminate()
        self.process.join()


# -- the replay ---------------------------------------------------------------------------------


@dataclass
class Step:
    n: int
    changed: bool  # by the judge
    result: CheckResult
    wall_ms: float
    cpu_ms: float


@dataclass
class Run:
    document: str
    run: str
    steps: list[Step] = field(default_factory=list)
    changes_made: list[ChangeOut] = field(default_factory=list)

    def outcomes(self) -> Counter[str]:
        return Counter(step.result.outcome for step in self.steps)

    def false_versions(self) -> list[Step]:
        return [s for s in self.steps[1:] if not s.changed and s.result.outcome in VERSION_OUTCOMES]

    def changes(self) -> list[Step]:
        return [s for s in self.steps[1:] if s.changed]

    def caught(self) -> list[Step]:
        following = {s.n: s for s in self.steps}
        out = []
        for step in self.changes():
            outcome = step.result.outcome
            after = following.get(step.n + 1)
            confirmed = (
                outcome == "pending"
                and after is not None
                and after.result.outcome in VERSION_OUTCOMES
            )
            if outcome in VERSION_OUTCOMES or outcome == "flip" or confirmed:
                out.append(step)
        return out

    def errors(self) -> list[Step]:
        return [s for s in self.steps if s.result.outcome == "failed"]


def _selectors_toml(key: str, selectors: tuple[Selector, ...]) -> str:
    if not selectors:
        return ""
    items = []
    for selector in selectors:
        value = to_json(selector)
        if isinstance(value, str):
            items.append(_toml_string(value))
        else:
            items.append(
                "{ " + ", ".join(f"{k} = {_toml_string(v)}" for k, v in value.items()) + " }"
            )
    return f"{key} = [{', '.join(items)}]\n"


def _toml_string(value: str) -> str:
    return "'" + value + "'" if "'" not in value else '"' + value.replace('"', '\\"') + '"'


async def replay(document: RealDocument, run: str, server: PageServer, workdir: Path) -> Run:
    select, remove = (document.ota_select(), document.ota_remove()) if run == "ota" else ((), ())
    path = workdir / f"{document.name}-{run}.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{workdir / f"{document.name}-{run}.db"}"\n'
        f'[fetch]\nmin_gap = "0s"\nretries = 0\n'
        f'[[documents]]\nslug = "{document.name}"\nname = "{document.name}"\n'
        f'url = "{server.url(document.name)}"\n'
        + _selectors_toml("select", select)
        + _selectors_toml("remove", remove),
        encoding="utf-8",
    )
    settings = config.load(path)
    store = open_store(settings)
    out = Run(document.name, run)
    doc = settings.documents[0]
    async with open_checker(settings, store) as checker:
        for n in range(1, document.captures + 1):
            server.show(document.name, n)
            cpu, wall = time.process_time(), time.perf_counter()
            result = await checker.check(doc)
            wall_ms = (time.perf_counter() - wall) * 1000
            cpu_ms = (time.process_time() - cpu) * 1000
            changed = n > 1 and document.text_changed(n)
            out.steps.append(Step(n, changed, result, wall_ms, cpu_ms))
    out.changes_made = list(reversed(store.repo.history.changes(doc.slug)))
    store.engine.dispose()
    return out


# -- extraction against OTA's text --------------------------------------------------------------


@dataclass
class Agreement:
    document: str
    run: str
    compared: int = 0
    ours: list[tuple[int, int, int]] = field(default_factory=list)
    theirs: list[tuple[int, int, int]] = field(default_factory=list)
    similarity: list[float] = field(default_factory=list)
    errors: int = 0


def _counts(doc: Document) -> tuple[int, int, int]:
    kinds = Counter(b.kind for b in doc.blocks if any(ch.isalnum() for ch in b.text))
    return kinds["heading"], kinds["item"], kinds["paragraph"]


def _similarity(a: list[str], b: list[str]) -> float:
    ca, cb = Counter(w.lower() for w in a), Counter(w.lower() for w in b)
    return 2 * (ca & cb).total() / max(1, ca.total() + cb.total())


def _markdown_words(doc: Document) -> list[str]:
    return realpages.visible_words("\n".join(block.text for block in doc.blocks))


def agreement(document: RealDocument, run: str) -> Agreement:
    rules = (
        ExtractRules(document.ota_select(), document.ota_remove(), min_chars=0)
        if run == "ota"
        else ExtractRules(min_chars=0)
    )
    out = Agreement(document.name, run)
    for version in document.versions:
        theirs = normalize_markdown(version.text)
        try:
            ours = normalize_html(document.html(version.snapshot_n), rules, base_url=document.url)
        except ExtractError:
            out.errors += 1
            continue
        ours = _undoubled(ours)
        theirs = _undoubled(theirs)
        out.compared += 1
        out.ours.append(_counts(ours))
        out.theirs.append(_counts(theirs))
        out.similarity.append(_similarity(_markdown_words(ours), _markdown_words(theirs)))
    return out


def _undoubled(doc: Document) -> Document:
    """One copy of a text captured twice (OTA's `hr+div` matched two elements on some days)."""
    half = len(doc.blocks) // 2
    if half and len(doc.blocks) % 2 == 0 and doc.blocks[:half] == doc.blocks[half:]:
        return Document(doc.blocks[:half], doc.title)
    return doc


def _median_counts(rows: list[tuple[int, int, int]]) -> tuple[int, ...]:
    return tuple(int(statistics.median(col)) for col in zip(*rows, strict=True)) if rows else ()


# -- reports ------------------------------------------------------------------------------------


def report_agreement(rows: list[Agreement]) -> None:
    print("\nextraction against OTA's text of the same capture (medians over OTA's versions):\n")
    body = []
    for a in rows:
        ours, theirs = _median_counts(a.ours), _median_counts(a.theirs)
        if not ours:
            body.append([a.document, a.run, a.compared, "-", "-", "-", "-", a.errors])
            continue
        body.append(
            [
                a.document,
                a.run,
                a.compared,
                f"{ours[0]} / {theirs[0]}",
                f"{ours[1]} / {theirs[1]}",
                f"{ours[0] + ours[2]} / {theirs[0] + theirs[2]}",
                f"{min(a.similarity):.3f}",
                a.errors,
            ]
        )
    print(
        table(
            [
                "document",
                "run",
                "captures",
                "headings ours / OTA",
                "items",
                "headings + paragraphs",
                "min word similarity",
                "errors",
            ],
            body,
        )
    )


def report_runs(runs: list[Run]) -> None:
    print("\nreplay of every capture (a step is a capture after the first):\n")
    body = []
    for r in runs:
        wall = [s.wall_ms for s in r.steps]
        cpu_changed = [s.cpu_ms for s in r.steps if s.result.outcome in VERSION_OUTCOMES]
        cpu = [s.cpu_ms for s in r.steps]
        outcomes = r.outcomes()
        body.append(
            [
                r.document,
                r.run,
                len(r.steps),
                outcomes["new"] + outcomes["changed"],
                len(r.false_versions()),
                f"{len(r.caught())}/{len(r.changes())}",
                outcomes["flip"],
                len(r.errors()),
                f"{statistics.median(wall):.0f} / {max(wall):.0f}",
                f"{statistics.median(cpu):.0f} / {max(cpu):.0f}",
                f"{statistics.median(cpu_changed):.0f} / {max(cpu_changed):.0f}"
                if cpu_changed
                else "-",
            ]
        )
    print(
        table(
            [
                "document",
                "run",
                "captures",
                "versions",
                "false versions",
                "changes caught",
                "flips",
                "errors",
                "check ms median / max",
                "CPU ms median / max",
                "CPU ms of a changed check",
            ],
            body,
        )
    )
    details = (
        [(r, s, "false version") for r in runs for s in r.false_versions()]
        + [(r, s, "missed change") for r in runs for s in r.changes() if s not in r.caught()]
        + [(r, s, "error") for r in runs for s in r.errors()]
    )
    if details:
        print("\nsteps to look at:\n")
        for r, s, what in details:
            print(f"  {r.document} [{r.run}] capture {s.n}: {what}; {_describe(s.result)}")


def _describe(result: CheckResult) -> str:
    parts = [result.outcome]
    if result.error_kind:
        parts.append(result.error_kind)
    if result.message:
        parts.append(result.message)
    if result.changes:
        parts.append(f"{result.changes} changes, {result.significance}")
    return "; ".join(parts)


def report_changes(runs: list[Run]) -> None:
    """Every change recorded, with each changed block's significance and its words."""
    print("\nchanges recorded:")
    for r in runs:
        for change in r.changes_made:
            print(
                f"\n{r.document} [{r.run}] v{change.from_version} -> v{change.to_version}: "
                f"{change.significance}, topics {', '.join(change.topics) or '-'}, "
                f"flags {', '.join(change.flags) or '-'}, {change.n_changes} blocks"
            )
            for block in change.changeset[:12]:
                edits = " ".join(
                    f"[{op}{text.strip()[:60]}]" for op, text in block["spans"] if op != "="
                )
                print(f"    {block['significance']:>11} {block['kind']:>8}: {edits[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realpages")
    parser.add_argument("--doc", action="append", choices=realpages.DOCUMENTS)
    parser.add_argument("--run", action="append", choices=RUNS)
    parser.add_argument(
        "--changes", action="store_true", help="print every change recorded, block by block"
    )
    args = parser.parse_args()
    if realpages.archive_path() is None:
        print("skipped: ../shared/realpages/meta-real-pages.tar.xz is not present", flush=True)
        sys.exit(0)
    names = args.doc or list(realpages.DOCUMENTS)
    runs_wanted = args.run or list(RUNS)
    print(f"loading {len(names)} documents from the archive...", flush=True)
    documents = realpages.load(names)
    agreements = [agreement(d, run) for d in documents for run in runs_wanted]
    report_agreement(agreements)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, PageServer(names) as server:
        for document in documents:
            for run in runs_wanted:
                start = time.perf_counter()
                runs.append(asyncio.run(replay(document, run, server, Path(tmp))))
                print(
                    f"  replayed {document.name} [{run}]: {document.captures} captures in "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )
    report_runs(runs)
    if args.changes:
        report_changes(runs)
    command = "python -m bench.realpages" + "".join(f" --doc {n}" for n in args.doc or ())
    footer(f".venv/bin/{command}")
    unchanged = sum(len(r.steps) - 1 - len(r.changes()) for r in runs)
    print(
        f"false versions {sum(len(r.false_versions()) for r in runs)}/{unchanged}, "
        f"changes caught {sum(len(r.caught()) for r in runs)}/"
        f"{sum(len(r.changes()) for r in runs)}, errors {sum(len(r.errors()) for r in runs)}"
    )


if __name__ == "__main__":
    main()
