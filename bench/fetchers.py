"""The browser fetcher against the HTTP fetcher on the same ~100 KB local policy page: time per
fetch (median / p95 of N) and memory (Chromium's process tree, Playwright's driver, Python).

Chromium's memory is sampled every 100 ms from /proc while the fetches run: VmRSS summed over the
browser's process tree (it counts pages shared between processes once per process, so it
overstates), and Pss (shared pages split between their users: what the tree really costs).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/fetchers.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import FULL, footer, pct, table
from monitor.config import BrowserSettings
from monitor.fetch.browser import BrowserFetcher, find_chromium
from monitor.fetch.http import USER_AGENT, FetchOptions, FetchResult, HttpFetcher
from tests.pageserver import PageServer, Response
from tests.sitegen import Section, noisy_page, render_sections, sample_policy

N = 100 if FULL else 20
PAGE_BYTES = 100_000
ACCEPT_LANGUAGE = "en-US,en;q=0.9"


# -- pages ---------------------------------------------------------------------------------------


def long_policy(target: int = PAGE_BYTES) -> str:
    """Project-written sections, repeated with numbered variations up to about `target` bytes."""
    sections: list[Section] = []
    part = 0
    while len(render_sections(sections)) < target - 4000:
        part += 1
        for section in sample_policy():
            sections.append(
                Section(
                    f"Part {part}: {section.heading}",
                    [*section.paragraphs, f"Records for part {part} are kept for {part * 7} days."],
                    section.items,
                )
            )
    return render_sections(sections)


def static_page(body: str) -> str:
    return noisy_page(body)


def js_page(body: str) -> str:
    escaped = body.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
    return f"""<!DOCTYPE html><html><head><title>Privacy Policy</title></head>
<body><div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript>
<script>
setTimeout(() => {{ document.getElementById("root").innerHTML = `{escaped}`; }}, 50);
</script>
</body></html>"""


# -- /proc -----------------------------------------------------------------------------------


def _status_kb(pid: int, field: str, name: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _status_kb(int(entry), "PPid")
            parents[int(entry)] = ppid
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _driver_pid() -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _status_kb(int(entry), "PPid") == os.getpid():
            try:
                if b"run-driver" in Path(f"/proc/{entry}/cmdline").read_bytes():
                    return int(entry)
            except OSError:
                continue
    return None


class TreeSampler:
    """Samples the memory of a process tree every 100 ms in a thread; keeps the peaks (kB)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_rss = self.peak_pss = self.processes = self.last_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> None:
        pids = _tree(self.root)
        self.peak_rss = max(self.peak_rss, sum(_status_kb(p, "VmRSS") for p in pids))
        self.last_pss = sum(_status_kb(p, "Pss", "smaps_rollup") for p in pids)
        self.peak_pss = max(self.peak_pss, self.last_pss)
        self.processes = max(self.processes, len(pids))


# -- runs ----------------------------------------------------------------------------------------


async def timed(fetch: Callable[[], Awaitable[FetchResult]], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        result = await fetch()
        times.append((time.perf_counter() - started) * 1000)
        assert result.status == 200 and len(result.body) > PAGE_BYTES // 2
    return times


async def http_run(url: str) -> list[float]:
    async with HttpFetcher(FetchOptions(min_gap=0, retries=0)) as http:
        return await timed(lambda: http.fetch(url), N)


async def browser_run(
    url: str, select: tuple[str, ...], settle: str
) -> tuple[list[float], dict[str, float]]:
    settings = BrowserSettings.model_validate({"settle": settle})
    async with BrowserFetcher(
        settings, user_agent=USER_AGENT, accept_language=ACCEPT_LANGUAGE
    ) as browser:
        started = time.perf_counter()
        await browser.fetch(url, wait_for=select)
        first = (time.perf_counter() - started) * 1000
        (root,) = [pid for pid, kind in (await browser.processes()).items() if kind == "browser"]
        driver = _driver_pid()
        with TreeSampler(root) as chromium:
            times = await timed(lambda: browser.fetch(url, wait_for=select), N)
        memory = {
            "first": first,
            "rss": chromium.peak_rss / 1024,
            "pss": chromium.peak_pss / 1024,
            "idle": chromium.last_pss / 1024,  # sampled after the last context closed
            "processes": float(chromium.processes),
            "driver": (_status_kb(driver, "VmRSS") / 1024) if driver else float("nan"),
        }
    return times, memory


HEADERS = (
    "fetcher",
    "page",
    "waits for",
    "median ms",
    "p95 ms",
    "launch + first ms",
    "Chromium peak RSS MB",
    "Chromium peak PSS MB",
    "idle PSS MB",
    "processes",
    "driver RSS MB",
    "Python RSS MB",
)
CASES = (  # page label, path, selectors, settle
    ("static", "/static", ("main",), "0s"),
    ("static", "/static", ("main",), "1s"),
    ("static", "/static", (), "0s"),
    ("JS-rendered", "/js", ("#root",), "0s"),
)


def python_rss_mb() -> float:
    return _status_kb(os.getpid(), "VmRSS") / 1024


def measure(server: PageServer) -> list[list[object]]:
    http_times = asyncio.run(http_run(server.url("/static")))
    dash = ["-"] * 6
    rows: list[list[object]] = [
        ["http", "static", "-", *_times(http_times), *dash, f"{python_rss_mb():.0f}"]
    ]
    for label, path, select, settle in CASES:
        times, memory = asyncio.run(browser_run(server.url(path), select, settle))
        wait = " or ".join(select) if select else "network idle"
        columns = ("first", "rss", "pss", "idle", "processes", "driver")
        rows.append(
            [
                f"browser, settle {settle}",
                label,
                wait,
                *_times(times),
                *(f"{memory[c]:.0f}" for c in columns),
                f"{python_rss_mb():.0f}",
            ]
        )
        print(f"  {rows[-1][0]} ({label}, {wait}): median {pct(times, 50):.0f} ms", flush=True)
    return rows


def _times(times: list[float]) -> list[str]:
    return [f"{pct(times, 50):.0f}", f"{pct(times, 95):.0f}"]


def main() -> None:
    if find_chromium(None) is None:
        print("skipped: no Chromium found (install the Debian package chromium)", flush=True)
        return
    body = long_policy()
    static = static_page(body)
    with PageServer() as server:
        server.set("/static", Response(body=static))
        server.set("/js", Response(body=js_page(body)))
        size = len(static.encode()) / 1000
        print(f"page: {size:.0f} KB of HTML, {N} fetches per row, one at a time", flush=True)
        rows = measure(server)
    print()
    print(table(HEADERS, rows))
    peak = _status_kb(os.getpid(), "VmHWM") / 1024
    print(f"\nPython process peak RSS (whole run): {peak:.0f} MB; load average {_load()}")
    command = ".venv/bin/python bench/fetchers.py"
    footer(f"FULL=1 {command}" if FULL else command)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
