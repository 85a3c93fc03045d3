"""The differ alone on every consecutive pair of the four real policy histories.

Reports total, median, p95 and max per document, checks word precision and exact reconstruction
on every pair, and for scale runs the same pairs through difflib (lines only) and
diff-match-patch in character mode on the largest pairs (with a timeout).
"""

from __future__ import annotations

import difflib
import itertools
import time

from diff_match_patch import diff_match_patch

from bench.common import FULL, footer, require_corpus, summary, table
from monitor.analysis.differ import diff_documents
from monitor.extract.document import Document, parse_line
from monitor.extract.markdown import normalize_markdown
from tests import corpus


def main() -> None:
    require_corpus()
    rows, line_rows, pairs = [], [], []
    exact = total_pairs = 0
    for name in corpus.DOCUMENTS:
        docs = [normalize_markdown(v.markdown) for v in corpus.versions(name)]
        times, line_times = [], []
        for old, new in itertools.pairwise(docs):
            start = time.perf_counter()
            changes = diff_documents(old, new)
            times.append((time.perf_counter() - start) * 1000)
            exact += changes.apply(old).text == new.text and _words_exact(changes)
            total_pairs += 1
            start = time.perf_counter()
            list(difflib.unified_diff(old.text.splitlines(), new.text.splitlines(), lineterm=""))
            line_times.append((time.perf_counter() - start) * 1000)
            pairs.append((len(old.text) + len(new.text), name, old, new))
        s, ls = summary(times), summary(line_times)
        largest = max(len(d.text) for d in docs) // 1024
        rows.append(
            [name, int(s["n"]), f"{largest} KB", s["total"], s["median"], s["p95"], s["max"]]
        )
        line_rows.append([name, ls["median"], ls["max"]])
    print("policywatch differ (block alignment, then words), ms per consecutive pair:\n")
    print(table(["document", "pairs", "largest", "total", "median", "p95", "max"], rows))
    print(f"\nexact reconstruction and word-precise spans: {exact} of {total_pairs} pairs")
    print("\nfor scale, difflib.unified_diff on lines (no word precision), ms:\n")
    print(table(["document", "median", "max"], line_rows))
    _char_mode(sorted(pairs, key=lambda p: p[0], reverse=True)[: 5 if FULL else 2])
    footer(
        "FULL=1 .venv/bin/python -m bench.differ" if FULL else ".venv/bin/python -m bench.differ"
    )


def _words_exact(changes: object) -> bool:
    for change in changes.changes:  # type: ignore[attr-defined]
        if change.kind != "modified":
            continue
        old = "".join(t for op, t in change.spans if op != "+")
        new = "".join(t for op, t in change.spans if op != "-")
        if parse_line(change.before)[1] != old or parse_line(change.after)[1] != new:
            return False
    return True


def _char_mode(largest: list[tuple[int, str, Document, Document]]) -> None:
    timeout = 30.0 if FULL else 10.0
    rows = []
    for size, name, old, new in largest:
        dmp = diff_match_patch()
        dmp.Diff_Timeout = timeout
        start = time.perf_counter()
        dmp.diff_main(old.text, new.text)
        elapsed = time.perf_counter() - start
        status = "timed out (result is approximate)" if elapsed >= timeout * 0.98 else "done"
        rows.append([name, f"{size // 1024} KB", f"{elapsed:.1f} s", status])
    print(
        "\nfor scale, diff-match-patch in character mode on whole texts "
        f"(timeout {timeout:.0f} s):\n"
    )
    print(table(["document", "pair size", "time", "status"], rows))


if __name__ == "__main__":
    main()
