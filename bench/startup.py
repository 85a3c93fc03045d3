"""What one `policywatch` command costs as a fresh process: CPU seconds (user + sys) and peak RSS.

Rows, each the median of N runs of a new process (after one warm-up run that is not counted):

- `policywatch --help`;
- `policywatch compare a.html b.html` of two small project-written pages written to a temp dir;
- `policywatch check`, one-shot, of 4 unchanged pages (about 30 KB each) served by a local HTTP
  server (127.0.0.1, port 0, in a thread of this process); a first `check` records the versions,
  so the measured runs see unchanged pages (`[fetch] min_gap = "0s"`, a temporary database);
- `urlwatch` doing the same job on the same 4 pages with its own temporary urls, config and
  cache files (a first run fills the cache), for scale: the target is policywatch <= 2x urlwatch;
- the libraries alone: a Python that only imports what any check needs (SQLAlchemy's ORM, httpx,
  BeautifulSoup and lxml, pydantic, zstandard, asyncio, sqlite3): the floor under that ratio.

Runs have their bytecode cached, as an installed tool has (PYTHONDONTWRITEBYTECODE is removed
from the environment of the runs).

CPU is the delta of `resource.getrusage(RUSAGE_CHILDREN)` around each run (the child and every
process it waited for); peak RSS is that child's own `ru_maxrss` from `os.wait4` (the
RUSAGE_CHILDREN maximum is over all children so far, not per run). Wall-clock is not used.

urlwatch is installed, on first use, in its own virtual environment outside the work tree:
`<system temp dir>/policywatch-bench-urlwatch-venv` (`python -m venv` + `pip install urlwatch`),
so nothing of it lands in git; delete that folder to reinstall. When pip cannot install it, the
urlwatch row and the ratio say "skipped" and why.

    .venv/bin/python -m bench.startup          # 9 runs a row
    FULL=1 .venv/bin/python -m bench.startup   # 25 runs a row
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/startup.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import FULL, footer, table
from tests.pageserver import PageServer, Response
from tests.sitegen import AI_SENTENCE_CHANGED, Section, noisy_page, render_sections, sample_policy

RUNS = 25 if FULL else 9
PAGES = 4
PAGE_BYTES = 30_000
URLWATCH_VENV = Path(tempfile.gettempdir()) / "policywatch-bench-urlwatch-venv"
TARGET_SECONDS = 0.3  # --help and compare
TARGET_RATIO = 2.0  # check / urlwatch
FLOOR_IMPORTS = (
    "import asyncio, sqlite3, bs4, httpx, lxml.html, pydantic, sqlalchemy.orm, zstandard"
)
"""What any `check` must import, whatever the code around it: the libraries the project is built
on (SQLAlchemy, httpx, BeautifulSoup, pydantic for the config, zstd for the evidence). Its row is
the floor: the CPU a one-shot check costs before it reads its config."""


@dataclass
class Case:
    """One command to measure: how to run it, where, and what its runs cost."""

    label: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    last_output: str = ""


def run_once(case: Case) -> tuple[float, float]:
    """Run the command once as a fresh process: (CPU seconds user + sys, peak RSS MB)."""
    with tempfile.TemporaryFile() as output:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(
            case.command, cwd=case.cwd, env=case.env, stdout=output, stderr=subprocess.STDOUT
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        case.last_output = output.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(
            f"{case.label} exited {proc.returncode}:\n{case.last_output[-2000:]}\n"
            f"command: {' '.join(case.command)}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, usage.ru_maxrss / 1024  # ru_maxrss is in KB on Linux


def measure(cases: Sequence[Case], runs: int) -> None:
    """One warm-up run each, then `runs` rounds, the cases interleaved so drift hits all alike."""
    for case in cases:
        run_once(case)
    for _ in range(runs):
        for case in cases:
            cpu, rss = run_once(case)
            case.cpu.append(cpu)
            case.rss.append(rss)


# -- the pages -------------------------------------------------------------------------------


def page(number: int, size: int = PAGE_BYTES) -> str:
    """A project-written policy of about `size` bytes; the same bytes on every request."""
    sections: list[Section] = []
    part = 0
    while len(render_sections(sections)) < size - 3000:
        part += 1
        sections += [
            Section(f"Part {part}: {s.heading}", [*s.paragraphs, f"Kept {part * 7} days."], s.items)
            for s in sample_policy()
        ]
    return noisy_page(
        render_sections(sections), title=f"Policy {number}", rng=random.Random(number)
    )


def write_compare_inputs(folder: Path) -> None:
    rng = random.Random(1)
    (folder / "a.html").write_text(noisy_page(render_sections(sample_policy()), rng=rng))
    changed = render_sections(sample_policy(AI_SENTENCE_CHANGED))
    (folder / "b.html").write_text(noisy_page(changed, rng=rng))


def write_policywatch_config(folder: Path, urls: Sequence[str]) -> Path:
    path = folder / "config.toml"
    documents = "".join(
        f'[[documents]]\nslug = "page-{i}"\nname = "Page {i}"\nurl = "{url}"\n'
        for i, url in enumerate(urls, 1)
    )
    path.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "policywatch.db"}"\n'
        f'[fetch]\nmin_gap = "0s"\nretries = 0\n{documents}',
        encoding="utf-8",
    )
    return path


# -- the commands ----------------------------------------------------------------------------


def policywatch() -> list[str]:
    """The installed `policywatch` script of this virtualenv (else `python -m monitor.cli`)."""
    script = Path(sys.executable).with_name("policywatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment, less what would make the runs unlike an installed tool's: a config
    path, and PYTHONDONTWRITEBYTECODE (set on some machines), which makes every run compile
    the project's modules from source where an installation reads their cached bytecode; the
    pip-installed urlwatch has its bytecode compiled at install time."""
    drop = {"POLICYWATCH_CONFIG", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, **extra}


def urlwatch() -> Path | str:
    """The urlwatch script of the bench's own venv, installed on first use; or why it is not."""
    script = URLWATCH_VENV / "bin" / "urlwatch"
    if script.exists():
        return script
    print(f"installing urlwatch into {URLWATCH_VENV} (first run only)...", flush=True)
    steps = {
        "python -m venv": [sys.executable, "-m", "venv", "--clear", str(URLWATCH_VENV)],
        "pip install urlwatch": [
            *(str(URLWATCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"),
            "urlwatch",
        ],
    }
    for name, step in steps.items():
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(URLWATCH_VENV, ignore_errors=True)
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"{name} failed: {last[0]}"
    return script


def urlwatch_case(script: Path, folder: Path, urls: Sequence[str]) -> Case:
    (folder / "urls.yaml").write_text(
        "---\n".join(f"name: page-{i}\nurl: {url}\n" for i, url in enumerate(urls, 1))
    )
    # Its defaults, spelled out: a report on stdout only when something changed or failed.
    (folder / "urlwatch.yaml").write_text(
        "display:\n  new: true\n  error: true\n  unchanged: false\n"
        "report:\n  stdout:\n    enabled: true\n    color: false\n"
    )
    command = [str(script), "--urls", "urls.yaml", "--config", "urlwatch.yaml"]
    command += ["--cache", "cache.db", "--hooks", "hooks.py"]
    # Its config, cache and hooks directories default to the home directory: keep them here.
    env = clean_env(XDG_CONFIG_HOME=str(folder), XDG_CACHE_HOME=str(folder), HOME=str(folder))
    return Case(f"urlwatch (same {len(urls)} pages, unchanged)", command, folder, env)


def urlwatch_version(script: Path) -> str:
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "urlwatch"


# -- report ----------------------------------------------------------------------------------


def row(case: Case, target: str, met: bool | None) -> list[object]:
    return [
        case.label,
        len(case.cpu),
        f"{statistics.median(case.cpu):.3f}",
        f"{max(case.cpu):.3f}",
        f"{statistics.median(case.rss):.0f}",
        target,
        "-" if met is None else ("yes" if met else "NO"),
    ]


def report(cases: Sequence[Case], urlwatch_case: Case | None, skipped: str) -> None:
    """The table, then the ratio of policywatch check to urlwatch (or why it is skipped)."""
    check_case = cases[2]
    target = f"<= {TARGET_SECONDS:g} s"
    rows = [row(c, target, statistics.median(c.cpu) <= TARGET_SECONDS) for c in cases[:2]]
    floor = cases[3]
    check_target = f"<= {TARGET_RATIO:g}x urlwatch"
    if urlwatch_case is None:
        rows += [row(check_case, check_target, None), row(floor, "-", None)]
        verdict = f"skipped: {skipped}"
    else:
        ratio = statistics.median(check_case.cpu) / statistics.median(urlwatch_case.cpu)
        floor_ratio = statistics.median(floor.cpu) / statistics.median(urlwatch_case.cpu)
        rows += [
            row(check_case, check_target, ratio <= TARGET_RATIO),
            row(floor, f"{floor_ratio:.2f}x urlwatch", None),
            row(urlwatch_case, "-", None),
        ]
        verdict = (
            f"{ratio:.2f} (target <= {TARGET_RATIO:g}; "
            f"importing the libraries alone: {floor_ratio:.2f})"
        )
    headers = ("command", "runs", "CPU median s", "CPU max s", "peak RSS MB", "target", "met")
    print()
    print(table(headers, rows))
    if urlwatch_case is None:
        print(f"\nurlwatch: skipped: {skipped}")
    print(f"\nCPU of policywatch check / urlwatch: {verdict}")


def policywatch_cases(root: Path, urls: Sequence[str]) -> list[Case]:
    """--help, compare and check, each in a folder of its own; the first check is run here."""
    pw = policywatch()
    for name in ("help", "compare", "check"):
        (root / name).mkdir()
    write_compare_inputs(root / "compare")
    config = write_policywatch_config(root / "check", urls)
    check = Case(
        f"policywatch check ({len(urls)} pages, unchanged)",
        [*pw, "--config", str(config), "check"],
        root / "check",
        clean_env(),
    )
    run_once(check)  # records the first versions: the measured runs see them unchanged
    return [
        Case("policywatch --help", [*pw, "--help"], root / "help", clean_env()),
        Case(
            "policywatch compare a.html b.html",
            [*pw, "compare", "a.html", "b.html"],
            root / "compare",
            clean_env(),
        ),
        check,
        Case(
            "the libraries alone (python -c 'import ...')",
            [sys.executable, "-c", FLOOR_IMPORTS],
            root / "help",
            clean_env(),
        ),
    ]


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="policywatch-bench-startup-") as tmp,
        PageServer() as server,
    ):
        root = Path(tmp)
        paths = [f"/policy-{number}" for number in range(1, PAGES + 1)]
        for number, path in enumerate(paths, 1):
            server.set(path, Response(body=page(number)))
        urls = [server.url(path) for path in paths]
        cases = policywatch_cases(root, urls)
        found = urlwatch()
        watcher = None
        if isinstance(found, Path):
            (root / "urlwatch").mkdir()
            watcher = urlwatch_case(found, root / "urlwatch", urls)
            run_once(watcher)  # fills its cache
            print(f"urlwatch: {urlwatch_version(found)} in {URLWATCH_VENV}", flush=True)
        print(f"{RUNS} runs a row, each a fresh process, after one warm-up run", flush=True)
        before = len(server.requests)
        measure([*cases, *([watcher] if watcher else [])], RUNS)
        fetched = len(server.requests) - before
    expected = (RUNS + 1) * PAGES * (2 if watcher else 1)
    if fetched != expected or cases[2].last_output.count("unchanged") != PAGES:
        raise SystemExit(f"expected {expected} fetches and {PAGES} unchanged pages, got {fetched}")
    report(cases, watcher, found if isinstance(found, str) else "")
    command = ".venv/bin/python -m bench.startup"
    footer(f"FULL=1 {command}" if FULL else command)


if __name__ == "__main__":
    main()
