"""1,000 documents on a local server: one full daemon cycle at the configured concurrency.

Measures checks per second when every page is unchanged (fresh noise on every request), when
10% of them changed, and the monitor's memory. The server runs in its own process; pages are
project-written policy variants of about 2,400 characters (4 KB pages), served under six names
of the loopback address (127.0.0.1, localhost, 127.1, ...): policywatch sends one request at a
time per host, so with one name the number would be the local server's latency, not the
monitor's throughput."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from bench.common import FULL, footer, peak_rss_mb, table
from monitor import config
from monitor.check.checker import CheckResult
from monitor.daemon.runtime import open_checker, open_store
from tests.sitegen import Section, noisy_page, render_sections, sample_policy

DOCUMENTS = 1000
HOSTS = ("127.0.0.1", "localhost", "127.1", "127.0.1", "2130706433", "0x7f000001")


def variant(index: int, generation: int) -> list[Section]:
    """A policy of about 2,400 characters (real policy and help pages are longer still)."""
    sections = sample_policy()
    rng = random.Random(index)
    for section in sections:
        section.paragraphs.append(
            f"Document {index} keeps records for {rng.randint(2, 90)} days "
            f"in region {rng.randint(1, 40)}."
        )
    sections.append(
        Section(
            "How long do we keep information?",
            [
                f"Category {n} of document {index} is kept for {rng.randint(2, 90)} days, "
                f"then deleted or anonymised unless the law asks us to keep it longer."
                for n in range(12)
            ],
        )
    )
    if generation:
        sections[1].paragraphs.append(
            f"Revision {generation}: we may use research data from studies."
        )
    return sections


def _serve(conn: Connection) -> None:
    generation = [0] * DOCUMENTS
    counter = iter(range(10**12))
    lock = threading.Lock()
    bodies: dict[tuple[int, int], str] = {}  # the document; the noise around it is per request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body in two writes cost a delayed ACK

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            index = int(self.path.rsplit("/", 1)[-1])
            with lock:
                seed, gen = next(counter), generation[index]
            if (index, gen) not in bodies:
                bodies[index, gen] = render_sections(variant(index, gen))
            body = noisy_page(bodies[index, gen], rng=random.Random(seed)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            share = float(self.path.rsplit("/", 1)[-1])
            with lock:
                for index in random.Random(len(generation)).sample(
                    range(DOCUMENTS), int(DOCUMENTS * share)
                ):
                    generation[index] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    conn.send(server.server_address[1])
    server.serve_forever()


async def cycle(settings: config.Settings, store: object) -> tuple[float, list[CheckResult]]:
    limit = asyncio.Semaphore(settings.schedule.concurrency)
    async with open_checker(settings, store) as checker:  # type: ignore[arg-type]
        await checker.prepare()

        async def one(doc: config.DocumentSettings) -> CheckResult:
            async with limit:
                return await checker.check(doc)

        start = time.perf_counter()
        results = await asyncio.gather(*(one(d) for d in settings.documents))
        return time.perf_counter() - start, list(results)


def main() -> None:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(child,), daemon=True
    )
    process.start()
    port = parent.recv()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            docs = "".join(
                f'[[documents]]\nslug = "doc-{i}"\nname = "Document {i}"\n'
                f'url = "http://{HOSTS[i % len(HOSTS)]}:{port}/doc/{i}"\n'
                for i in range(DOCUMENTS)
            )
            path = Path(tmp) / "config.toml"
            path.write_text(
                f'[storage]\nurl = "sqlite:///{Path(tmp) / "scale.db"}"\n'
                f'[schedule]\nconcurrency = 8\n[fetch]\nmin_gap = "0s"\nretries = 0\n{docs}',
                encoding="utf-8",
            )
            settings = config.load(path)
            store = open_store(settings)
            phases = [("first check (all new)", 0.0), ("all unchanged", 0.0), ("10% changed", 0.1)]
            if FULL:
                phases.append(("all unchanged again", 0.0))
            for label, share in phases:
                if share:
                    request = urllib.request.Request(
                        f"http://127.0.0.1:{port}/bump/{share}", method="POST"
                    )
                    urllib.request.urlopen(request, timeout=10).close()
                elapsed, results = asyncio.run(cycle(settings, store))
                outcomes = sorted({r.outcome for r in results})
                rows.append(
                    [
                        label,
                        len(results),
                        f"{elapsed:.1f} s",
                        f"{len(results) / elapsed:.0f}",
                        ", ".join(outcomes),
                        f"{peak_rss_mb():.0f} MB",
                    ]
                )
                print(f"  {label}: {len(results) / elapsed:.0f} checks/s", flush=True)
            store.engine.dispose()
    finally:
        process.terminate()
    print(f"\none daemon cycle over {DOCUMENTS} documents, concurrency 8, {len(HOSTS)} hosts:\n")
    print(table(["cycle", "checks", "time", "checks/s", "outcomes", "peak RSS"], rows))
    footer("FULL=1 .venv/bin/python -m bench.scale" if FULL else ".venv/bin/python -m bench.scale")


if __name__ == "__main__":
    main()
