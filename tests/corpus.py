"""Access to the real Meta policy history in ../shared/corpus (never copied into this repository).

Reads the archive without unpacking it, and renders a Markdown version into a realistic, noisy
HTML page so it can be served locally and checked through the whole pipeline.
"""

from __future__ import annotations

import json
import os
import random
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt

from tests.sitegen import noisy_page

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_NAME = "meta-policy-history.tar.xz"
DOCUMENTS = (
    "facebook-privacy-policy",
    "instagram-privacy-policy",
    "threads-privacy-policy",
    "whatsapp-privacy-policy",
)


def archive_path() -> Path | None:
    """Where the corpus archive is: $POLICYWATCH_CORPUS, else ../shared/corpus beside the repo."""
    explicit = os.environ.get("POLICYWATCH_CORPUS")
    candidates = [Path(explicit)] if explicit else []
    candidates.append(ROOT.parent / "shared" / "corpus" / ARCHIVE_NAME)
    return next((p for p in candidates if p.is_file()), None)


@dataclass(frozen=True, slots=True)
class CorpusVersion:
    document: str
    n: int
    date: str
    kind: str  # "start" | "change" | "technical"
    markdown: str


@cache
def _members() -> dict[str, bytes]:
    path = archive_path()
    if path is None:
        raise FileNotFoundError("the corpus archive is not present (../shared/corpus)")
    out: dict[str, bytes] = {}
    with tarfile.open(path, "r:xz") as tar:
        for member in tar:
            if member.isfile():
                handle = tar.extractfile(member)
                assert handle is not None
                out[member.name] = handle.read()
    return out


def versions(document: str) -> list[CorpusVersion]:
    members = _members()
    index = json.loads(members[f"corpus/{document}/index.json"])
    return [
        CorpusVersion(
            document,
            entry["n"],
            entry["date"],
            entry["kind"],
            members[f"corpus/{document}/{entry['file']}"].decode("utf-8"),
        )
        for entry in index["versions"]
    ]


_MD = MarkdownIt("commonmark").enable("table")


def render_html(markdown: str) -> str:
    """The Markdown version as the HTML body a publisher would serve."""
    return _MD.render(markdown)


def served_page(markdown: str, rng: random.Random, title: str = "Privacy Policy") -> str:
    return noisy_page(render_html(markdown), title=title, rng=rng)


def iter_all() -> Iterator[CorpusVersion]:
    for document in DOCUMENTS:
        yield from versions(document)
