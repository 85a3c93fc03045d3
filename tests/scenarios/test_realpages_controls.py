"""Controls on the real Meta captures (../shared/realpages, read at run time, never copied): no
control comes from page chrome (breadcrumbs, related articles, footers), with OTA's selectors
or none, and the policies' own settings and form links are found. Skipped without the archive.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from monitor.analysis.controls import Control, extract_controls
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from tests import realpages

pytestmark = [
    pytest.mark.realpages,
    pytest.mark.skipif(
        realpages.archive_path() is None, reason="../shared/realpages is not present"
    ),
]
HELP_CENTRE = ["instagram-terms-help-center-fr", "instagram-terms-help-center-hi"]
_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")


def _controls(doc: realpages.RealDocument, n: int, run: str) -> list[Control]:
    rules = ExtractRules(doc.ota_select(), doc.ota_remove()) if run == "ota" else ExtractRules()
    return extract_controls(normalize_html(doc.html(n), rules, base_url=doc.url))


def _outside(doc: realpages.RealDocument, n: int, controls: list[Control]) -> list[str]:
    """The sentences of `controls` with words OTA's text of capture n does not have: chrome."""
    theirs = Counter(realpages.visible_words(doc.version_at(n).text))
    return [
        c.sentence
        for c in controls
        if Counter(re.findall(r"\w+", _TARGET.sub("]", c.sentence))) - theirs
    ]


@pytest.mark.parametrize("run", ["none", "ota"])
@pytest.mark.parametrize("name", HELP_CENTRE)
def test_help_center_pages_give_no_control_from_their_chrome(name: str, run: str) -> None:
    """The Instagram terms article in the help center: breadcrumb, language picker, related
    articles and footer around it; the article itself names no settings path or form."""
    [doc] = realpages.load([name])
    for version in doc.versions:
        found = _controls(doc, version.snapshot_n, run)
        assert _outside(doc, version.snapshot_n, found) == []
        assert found == []


@pytest.mark.parametrize("run", ["none", "ota"])
def test_a_policy_gives_its_settings_and_forms_and_nothing_from_its_chrome(run: str) -> None:
    [doc] = realpages.load(["instagram-privacy-policy-fr"])
    n = doc.versions[-1].snapshot_n
    found = _controls(doc, n, run)
    assert _outside(doc, n, found) == []
    links = {c.link or "" for c in found}
    assert any("ad_preferences" in link for link in links)  # "review your ad preferences"
    assert any("/help/contact/" in link for link in links)  # the contact form
    assert all(c.label and c.link for c in found)  # a policy links its controls
