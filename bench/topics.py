"""Topics and significance against a development set of real version pairs, labelled by reading.

The set (`bench/topics_labels.jsonl`) holds pair ids and labels only, never page text: the texts
are read from ../shared at run time. A pair is two consecutive versions of a real page:

    corpus/<document>/<n>      versions n - 1 and n of ../shared/corpus (Markdown)
    realpages/<document>/<n>   captures n - 1 and n of ../shared/realpages (raw HTML, the default
                               region)

Labels follow ../shared/eval/RUBRIC.md: `ai`, `research`, `behavioral`, `optout` (what the changed
words are about), `substantive` (the meaning changed), `unsure`, and a short `rationale` in the
labeller's own words; `source` says how the pair was picked. The set is a census (`census`):
every pair with a visible change (`candidates`), so the rare positives and the rubric's traps
are all the ones the real history holds.

    .venv/bin/python -m bench.topics                   score: per-topic precision and recall, and,
                                                       last, `ai alert precision P recall R`
    .venv/bin/python -m bench.topics show PAIR         the word diff of one pair, to label it
    .venv/bin/python -m bench.topics candidates        pair ids with a visible change, to pick from
    .venv/bin/python -m bench.topics errors            the pairs scored wrong, and why

The prediction is `policywatch compare --json`'s: topics and significance of the assessment of
the two texts with the built-in topics (the shipped config.toml spells the same ones out).
An AI alert is `ai && substantive`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bench.common import footer, table
from monitor.analysis.assessment import EARLIER_VERSIONS
from monitor.analysis.topics import DEFAULT_TOPICS
from monitor.cli.compare import WALLS, changeset_document
from monitor.errors import ExtractError
from monitor.extract.document import Document
from monitor.extract.guards import check_walls
from monitor.extract.html import normalize_html
from monitor.extract.markdown import normalize_markdown
from monitor.extract.rules import ExtractRules
from tests import corpus, realpages

LABELS = Path(__file__).resolve().parent / "topics_labels.jsonl"
FIELDS = ("ai", "research", "behavioral", "optout", "substantive")
TOPIC_OF = {
    "ai": "ai-training",
    "research": "research",
    "behavioral": "behavioral-data",
    "optout": "opt-out-controls",
}


@dataclass(frozen=True)
class Label:
    pair: str
    ai: bool
    research: bool
    behavioral: bool
    optout: bool
    substantive: bool
    unsure: bool = False
    rationale: str = ""
    source: str = "census"

    def value(self, field: str) -> bool:
        return bool(getattr(self, field))

    @property
    def alert(self) -> bool:
        return self.ai and self.substantive


def load_labels(path: Path = LABELS) -> list[Label]:
    labels = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            labels.append(Label(**{k: data[k] for k in Label.__dataclass_fields__ if k in data}))
    return labels


# -- the pairs ----------------------------------------------------------------------------------


@cache
def _corpus_versions(document: str) -> dict[int, str]:
    return {v.n: v.markdown for v in corpus.versions(document)}


def documents(pair: str) -> tuple[Document, Document]:
    """The old and new Document of a pair id."""
    source, name, number = pair.split("/")
    if source not in ("corpus", "realpages"):
        raise ValueError(f"unknown pair source {source!r} in {pair!r}")
    n = int(number)
    return _document(source, name, n - 1), _document(source, name, n)


def predict(pair: str) -> dict[str, Any]:
    """`policywatch compare --json`'s changeset document for the pair."""
    source, name, number = pair.split("/")
    n = int(number)
    old, old_refused = _read(source, name, n - 1)
    new, new_refused = _read(source, name, n)
    return changeset_document(
        old,
        new,
        DEFAULT_TOPICS,
        earlier=lambda: earlier_lines(pair),
        refused=(
            ("new", new_refused) if new_refused else ("old", old_refused) if old_refused else None
        ),
    )


def _read(source: str, name: str, n: int) -> tuple[Document, ExtractError | None]:
    """A version as `compare` reads a file: a wall is read, and its refusal kept beside it."""
    try:
        return _document(source, name, n), None
    except ExtractError as exc:
        if exc.kind not in WALLS:
            raise
        return _document(source, name, n, guarded=False), exc


def earlier_lines(pair: str) -> Iterator[str]:
    """The lines of the versions before the pair's old one (as many as `check` reads):
    `compare --earlier`, as `check` has its history."""
    source, name, number = pair.split("/")
    first = max(int(number) - 1 - EARLIER_VERSIONS, 1)
    for n in range(first, int(number) - 1):
        try:
            doc = _document(source, name, n)
        except ExtractError:
            continue  # a capture check would have refused is not in its history
        yield from (block.line for block in doc.blocks)


@cache
def _document(source: str, name: str, n: int, *, guarded: bool = True) -> Document:
    if source == "corpus":
        texts = _corpus_versions(name)
        if n not in texts:
            raise ExtractError("too_short", "no such version")
        doc = normalize_markdown(texts[n])
        if guarded:
            check_walls(doc)
        return doc
    if source != "realpages":
        raise ValueError(f"unknown pair source {source!r}")
    [page] = realpages.load([name])
    rules = ExtractRules(min_chars=0)
    return normalize_html(page.html(n), rules, base_url=page.url, guarded=guarded)


def candidates() -> Iterable[str]:
    """Every pair with a visible change: corpus versions whose extracted text differs, and the
    real captures where OTA's visible text changed."""
    for name in corpus.DOCUMENTS:
        texts = _corpus_versions(name)
        for n in sorted(texts)[1:]:
            if normalize_markdown(texts[n - 1]).text != normalize_markdown(texts[n]).text:
                yield f"corpus/{name}/{n}"
    for doc in realpages.load():
        for n in range(2, doc.captures + 1):
            if doc.text_changed(n):
                yield f"realpages/{doc.name}/{n}"


def show(pair: str) -> str:
    """The changed blocks of a pair, with their sections, removed words [-so-] and added {+so+}
    (no topic or significance: a labeller reads, the program is scored)."""
    data = predict(pair)
    lines = [f"{pair}: {len(data['changes'])} changed blocks"]
    for change in data["changes"]:
        section = " > ".join(change["section"]) or "(top of the document)"
        lines.append(f"\n[{change['kind']}] under: {section}")
        marked = "".join(
            text if op == "=" else f"[-{text}-]" if op == "-" else f"{{+{text}+}}"
            for op, text in change["spans"]
        )
        lines.append(marked)
    return "\n".join(lines)


# -- scoring ------------------------------------------------------------------------------------


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, truth: bool, guess: bool) -> None:
        self.tp += truth and guess
        self.fp += guess and not truth
        self.fn += truth and not guess

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def predicted(data: dict[str, Any]) -> dict[str, bool]:
    out = {field: topic in data["topics"] for field, topic in TOPIC_OF.items()}
    out["substantive"] = data["significance"] == "substantive"
    return out


def score(
    labels: Sequence[Label],
) -> tuple[dict[str, Score], Score, list[tuple[Label, dict[str, bool]]]]:
    scores = {field: Score() for field in FIELDS}
    alert = Score()
    wrong = []
    for label in labels:
        guess = predicted(predict(label.pair))
        for field in FIELDS:
            scores[field].add(label.value(field), guess[field])
        alert.add(label.alert, guess["ai"] and guess["substantive"])
        if any(label.value(f) != guess[f] for f in FIELDS):
            wrong.append((label, guess))
    return scores, alert, wrong


def report(labels: Sequence[Label]) -> None:
    scores, alert, wrong = score(labels)
    sources = ", ".join(
        f"{s} {sum(1 for label in labels if label.source == s)}"
        for s in sorted({label.source for label in labels})
    )
    print(
        f"{len(labels)} labelled pairs ({sources}); positives: "
        + ", ".join(f"{f} {sum(1 for label in labels if label.value(f))}" for f in FIELDS)
    )
    rows = [
        [field, s.tp, s.fp, s.fn, f"{s.precision:.2f}", f"{s.recall:.2f}"]
        for field, s in scores.items()
    ]
    rows.append(
        [
            "ai alert (ai && substantive)",
            alert.tp,
            alert.fp,
            alert.fn,
            f"{alert.precision:.2f}",
            f"{alert.recall:.2f}",
        ]
    )
    print()
    print(table(["label", "true +", "false +", "false -", "precision", "recall"], rows))
    print(f"\n{len(wrong)} pairs with at least one label wrong (`python -m bench.topics errors`)")
    footer(".venv/bin/python -m bench.topics")
    print(f"ai alert precision {alert.precision:.2f} recall {alert.recall:.2f}")


def errors(labels: Sequence[Label]) -> None:
    _, _, wrong = score(labels)
    for label, guess in wrong:
        fields = [
            f"{f}: labelled {label.value(f)}, predicted {guess[f]}"
            for f in FIELDS
            if label.value(f) != guess[f]
        ]
        print(f"{label.pair} ({label.source}): " + "; ".join(fields))
        if label.rationale:
            print(f"    rationale: {label.rationale}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.topics")
    parser.add_argument(
        "command", nargs="?", default="score", choices=["score", "show", "candidates", "errors"]
    )
    parser.add_argument("pairs", nargs="*")
    parser.add_argument("--sample", type=int, help="candidates: a random sample of this many")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if corpus.archive_path() is None or realpages.archive_path() is None:
        print("skipped: ../shared/corpus and ../shared/realpages are needed", flush=True)
        sys.exit(0)
    if args.command == "show":
        for pair in args.pairs:
            print(show(pair), end="\n\n")
        return
    if args.command == "candidates":
        found = list(candidates())
        if args.sample:
            found = sorted(random.Random(args.seed).sample(found, min(args.sample, len(found))))
        print("\n".join(found))
        return
    labels = load_labels()
    if args.command == "errors":
        errors(labels)
        return
    report(labels)


if __name__ == "__main__":
    main()
