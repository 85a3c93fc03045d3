"""Real Meta captures (../shared/realpages) through extraction and the whole pipeline.

A few documents, a few dozen captures each: the full replay of all 3,007 captures is
`python -m bench.realpages`. Skipped when the archive is absent (a user's clone has none).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.extract.document import Document
from monitor.extract.html import normalize_html
from monitor.extract.markdown import normalize_markdown
from monitor.extract.rules import ExtractRules
from tests import realpages
from tests.pageserver import PageServer, Request, Response
from tests.support import document, harness, write_config

pytestmark = [
    pytest.mark.realpages,
    pytest.mark.skipif(
        realpages.archive_path() is None, reason="../shared/realpages is not present"
    ),
]
_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")


def _kinds(doc: Document) -> Counter[str]:
    return Counter(b.kind for b in doc.blocks if any(ch.isalnum() for ch in b.text))


def _words(doc: Document) -> Counter[str]:
    text = _TARGET.sub("]", "\n".join(b.text for b in doc.blocks))
    return Counter(w.lower() for w in re.findall(r"\w+", text))


def _similarity(a: Counter[str], b: Counter[str]) -> float:
    return 2 * (a & b).total() / max(1, a.total() + b.total())


@pytest.mark.parametrize("run", ["ota", "none"])
def test_the_printable_policy_keeps_its_headings_and_lists(run: str) -> None:
    """The policy laid out in one presentation-table cell: headings and list items as OTA's
    text has them, no giant block (it used to be one 196,000-character line)."""
    [doc] = realpages.load(["facebook-privacy-policy-printable-hi"])
    version = doc.versions[-1]
    rules = ExtractRules(doc.ota_select(), doc.ota_remove()) if run == "ota" else ExtractRules()
    ours = normalize_html(doc.html(version.snapshot_n), rules, base_url=doc.url)
    theirs = normalize_markdown(version.text)
    assert max(len(b.text) for b in ours.blocks) < 5_000
    kinds, their_kinds = _kinds(ours), _kinds(theirs)
    assert abs(kinds["item"] - their_kinds["item"]) <= 0.1 * their_kinds["item"]
    # OTA's class-based `remove` drops a hundred and more real subheadings; with its selectors
    # we drop the same and agree, with none we keep them all.
    if run == "ota":
        assert abs(kinds["heading"] - their_kinds["heading"]) <= 0.1 * their_kinds["heading"]
    else:
        assert kinds["heading"] >= their_kinds["heading"]
    assert _similarity(_words(ours), _words(theirs)) >= 0.97


@pytest.mark.parametrize(
    "name",
    ["facebook-terms-fr", "instagram-terms-help-center-fr", "instagram-terms-help-center-hi"],
)
def test_no_selector_finds_the_document_without_the_site_around_it(name: str) -> None:
    """With no selector, every line we extract is in OTA's text (no footer, language picker,
    breadcrumb, feedback widget or related articles), and we have nearly all of OTA's words."""
    [doc] = realpages.load([name])
    version = doc.versions[-1]
    ours = normalize_html(doc.html(version.snapshot_n), ExtractRules(), base_url=doc.url)
    theirs = normalize_markdown(version.text)
    their_words = _words(theirs)
    for block in ours.blocks:
        assert not (_words(Document((block,))) - their_words), block.text
    assert (_words(ours) & their_words).total() >= 0.9 * their_words.total() or name.endswith(
        "-hi"
    )  # OTA's Hindi help text still holds its "related articles" box, which we drop


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def test_the_legal_page_footer_never_makes_a_version(tmp_path: Path, site: PageServer) -> None:
    """Thirty captures of the legal terms taken while OTA saw no text change, with the site
    footer (inside [role=main], after a separator) rotating its links all along: one version."""
    [doc] = realpages.load(["facebook-terms-fr"])
    last = doc.versions[1].snapshot_n - 1  # the text holds still up to OTA's second version
    picks = list(range(1, last + 1, max(1, last // 30)))
    assert not any(doc.text_changed(n) for n in range(2, last + 1))
    current = {"n": picks[0]}

    def route(_request: Request) -> Response:
        return Response(body=doc.html(current["n"]), headers={"Content-Type": "text/html"})

    site.set("/terms", route)
    path = write_config(tmp_path, document("terms", site.url("/terms")))
    with harness(path) as h:
        outcomes = []
        for n in picks:
            current["n"] = n
            outcomes.append(h.check("terms").outcome)
        assert outcomes == ["new"] + ["unchanged"] * (len(picks) - 1)
        assert h.repo.history.version_count("terms") == 1
