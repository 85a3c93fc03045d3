"""Shared helpers of the benchmarks: statistics, tables, the corpus, quick or full mode."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
from collections.abc import Sequence

from tests import corpus

FULL = os.environ.get("FULL", "") not in ("", "0")


def require_corpus() -> None:
    """Exit with a clear message (and status 0) when ../shared/corpus is not there."""
    if corpus.archive_path() is None:
        print("skipped: ../shared/corpus/meta-policy-history.tar.xz is not present", flush=True)
        sys.exit(0)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": float(len(values)),
        "total": sum(values),
        "median": statistics.median(values) if values else float("nan"),
        "p95": pct(values, 95),
        "max": max(values) if values else float("nan"),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (the README quotes these as they are printed)."""
    cells = [[str(c) for c in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def footer(command: str) -> None:
    print(f"\nmachine: {machine()}\nreproduce: {command}", flush=True)
