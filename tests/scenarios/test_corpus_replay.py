"""Replay of real policy histories (../shared/corpus) through the whole pipeline, over HTTP.

Every step that changes the visible text must yield a version; a noise-only refetch never does.
Skipped when the corpus is absent (a user's clone has no ../shared).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from tests import corpus
from tests.pageserver import PageServer, Request, Response
from tests.support import document, harness, write_config

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(corpus.archive_path() is None, reason="../shared/corpus is not present"),
]
HTML = {"Content-Type": "text/html; charset=utf-8"}
_LINK = re.compile(r"\]\([^)]*\)")
_MARKUP = re.compile(r"[*_`#>|\\\[\]-]+")


def visible_words(markdown: str) -> list[str]:
    """The words a reader sees: link targets and Markdown markup removed."""
    return _MARKUP.sub(" ", _LINK.sub("]", markdown)).split()


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.mark.parametrize("name", ["threads-privacy-policy", "whatsapp-privacy-policy"])
def test_every_text_change_is_kept_and_refetches_add_nothing(
    tmp_path: Path, site: PageServer, name: str
) -> None:
    """Each step that changes the visible text is told apart in the history: it makes a new
    version, or (when the page returns to a recent variant) a `flip` pointing at the version
    with exactly that text. A refetch of the same page never makes a version."""
    history = corpus.versions(name)
    current = {"markdown": history[0].markdown}
    counter = iter(range(10**9))

    def route(_request: Request) -> Response:
        page = corpus.served_page(current["markdown"], random.Random(next(counter)))
        return Response(body=page, headers=HTML)

    site.set("/doc", route)
    path = write_config(tmp_path, document(name, site.url("/doc")))
    missed: list[int] = []
    refetch_versions: list[int] = []
    wrong_text: list[int] = []
    with harness(path) as h:
        previous: tuple[list[str], int | None] = ([], None)
        for version in history:
            current["markdown"] = version.markdown
            step = h.check(name)
            refetch = h.check(name)
            assert step.outcome != "failed", (version.n, step.message)
            if refetch.outcome in ("new", "changed") and step.outcome != "pending":
                refetch_versions.append(version.n)
            seen = refetch.version
            words = visible_words(version.markdown)
            if previous[1] is not None and words != previous[0] and seen == previous[1]:
                missed.append(version.n)
            served = normalize_html(
                route(Request("GET", "/doc", {})).body, ExtractRules(), base_url=site.url("/doc")
            )
            stored = h.repo.history.version(name, seen) if seen else None
            if stored is None or stored.text != served.text:
                wrong_text.append(version.n)
            previous = (words, seen)
    assert missed == [], f"text changes not told apart in the history: {missed}"
    assert refetch_versions == [], f"noise-only refetches made versions: {refetch_versions}"
    assert wrong_text == [], f"steps whose text the history cannot reproduce: {wrong_text}"
