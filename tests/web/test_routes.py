"""The HTML pages, in-process, over a history recorded by real checks of local fixture pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.web.app import CSP
from storage.queries import Queries
from tests.sitegen import AI_SENTENCE, AI_SENTENCE_CHANGED
from tests.websupport import KEYSTROKE, History, get, history


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with history(tmp_path_factory.mktemp("web")) as recorded:
        yield recorded


@pytest.fixture(scope="module")
def app(h: History) -> Any:
    return h.app()


def change_id(h: History, slug: str, to_version: int) -> int:
    return next(c.id for c in h.repo.history.changes(slug) if c.to_version == to_version)


def text_of(html: str) -> str:
    """The visible words of a page: tags dropped, entities left as they are."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_dashboard_lists_documents_with_check_incident_change_and_versions(app: Any) -> None:
    page = get(app, "/")
    assert page.status_code == 200
    cards = page.text.split('<li class="card')[1:]
    policy = next(c for c in cards if 'href="/documents/policy"' in c)
    partners = next(c for c in cards if 'href="/documents/partners"' in c)
    assert "5 versions" in policy and "2 versions" in partners
    assert 'class="outcome out-failed">failed' in policy and "login_wall" in policy
    assert "Incident" in policy and "login_wall</strong> open since" in policy
    assert "Incident" not in partners
    # The latest change of the policy (v3 -> v4) with its topics and significance.
    assert "Version 3 → 4" in policy
    assert 'class="badge sig-substantive"' in policy
    assert ">behavioral-data</a>" in policy
    assert 'class="outcome out-unchanged">unchanged' in partners


def test_timeline_newest_first_with_technical_versions_dimmed(app: Any, h: History) -> None:
    page = get(app, "/documents/policy")
    assert page.status_code == 200
    numbers = [int(n) for n in re.findall(r">Version (\d+)</a>", page.text)]
    assert numbers == [5, 4, 3, 2, 1]
    entries = page.text.split('<li class="entry')[1:]
    assert entries[0].startswith(' technical"') and "technical" in entries[0]
    assert all(not e.startswith(" technical") for e in entries[1:])
    assert f'href="/changes/{change_id(h, "policy", 2)}"' in entries[3]
    assert "The first version kept." in entries[4]
    assert 'Check errors <span class="count">2</span>' in page.text


def test_timeline_filters_by_topic_and_significance(app: Any, h: History) -> None:
    by_topic = get(app, "/documents/policy?topic=ai-training")
    assert re.findall(r">Version (\d+)</a>", by_topic.text) == ["2"]
    assert '<option value="ai-training" selected>' in by_topic.text
    research = get(app, "/documents/policy?topic=research&significance=minor")
    assert re.findall(r">Version (\d+)</a>", research.text) == ["4", "3"]
    assert get(app, "/documents/policy?topic=nothing-like-it").text.count("No version matches")
    assert get(app, "/documents/policy?significance=huge").status_code == 400


def test_timeline_query_pages_without_reading_texts(h: History) -> None:
    queries = Queries(h.engine)
    first = queries.timeline("policy", offset=0, limit=2)
    second = queries.timeline("policy", offset=2, limit=2)
    assert [e.number for e in first.rows] == [5, 4] and first.has_more
    assert [e.number for e in second.rows] == [3, 2] and second.total == 5
    assert first.rows[0].technical and first.rows[0].change is None
    assert second.rows[0].change is not None and second.rows[0].change.from_version == 2


def test_check_errors_have_their_own_tab(app: Any) -> None:
    errors = get(app, "/documents/policy/checks")
    assert errors.status_code == 200
    rows = errors.text.split("<tr>")[2:]
    assert len(rows) == 2
    assert all("login_wall" in row and "out-failed" in row for row in rows)
    every = get(app, "/documents/policy/checks?all=true")
    outcomes = re.findall(r'class="outcome out-(\w+)"', every.text)
    assert outcomes.count("failed") == 2 and "changed" in outcomes and "new" in outcomes


def test_change_view_marks_words_groups_by_section_and_highlights_evidence(
    app: Any, h: History
) -> None:
    cid = change_id(h, "policy", 2)
    page = get(app, f"/changes/{cid}")
    assert page.status_code == 200
    body = page.text
    assert "Version 1 → 2" in body
    assert "<span>Privacy Policy</span>" in body
    assert "<span>How do we use your information?</span>" in body
    inserted = " ".join(re.findall(r"<ins>(.*?)</ins>", body, re.S))
    removed = " ".join(re.findall(r"<del>(.*?)</del>", body, re.S))
    assert "may" in inserted and "clicks" in inserted and "[added: " in inserted
    assert "do not" in removed and "[removed: " in removed
    assert re.search(r"<mark>(?:artificial intelligence|train)</mark>", body)
    assert 'class="chip c' in body and ">ai-training<" in body
    assert f'href="/changes/{cid}" rel="bookmark">Permalink' in body
    assert f'href="/changes/{change_id(h, "policy", 3)}">Next change' in body


def test_change_view_side_by_side(app: Any, h: History) -> None:
    page = get(app, f"/changes/{change_id(h, 'policy', 2)}?mode=side")
    before = page.text.split('<div class="before">')[1].split("</div>")[0]
    after = page.text.split('<div class="after">')[1].split("</div>")[0]
    assert "<del>" in before and "<ins>" not in before
    assert "<ins>" in after and "<del>" not in after
    assert get(app, "/changes/1?mode=sideways").status_code == 400


def test_alert_links_lead_to_the_change(app: Any, h: History) -> None:
    moved = get(app, "/documents/policy/versions/3/change")
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/changes/{change_id(h, 'policy', 3)}"
    first = get(app, "/documents/policy/versions/1/change")
    assert first.headers["location"] == "/documents/policy/versions/1"


def test_compare_any_two_versions(app: Any) -> None:
    page = get(app, "/documents/policy/compare?from=1&to=3")
    assert page.status_code == 200
    inserted = " ".join(re.findall(r"<ins>(.*?)</ins>", page.text, re.S))
    assert "keystroke" in inserted
    assert "Version 1" in page.text and "version 3" in page.text
    same = get(app, "/documents/policy/compare?from=2&to=2")
    assert "Pick two different versions" in same.text
    assert get(app, "/documents/policy/compare?from=1&to=99").status_code == 404


def test_text_in_force_at_a_date(app: Any) -> None:
    april = text_of(get(app, "/documents/policy/at/2026-04-15").text)
    assert "Version 2" in april and AI_SENTENCE_CHANGED in april and KEYSTROKE not in april
    may = text_of(get(app, "/documents/policy/at/2026-05-01").text)
    assert "Version 3" in may and KEYSTROKE in may
    march = text_of(get(app, "/documents/policy/at/2026-03-02").text)
    assert AI_SENTENCE in march
    assert get(app, "/documents/policy/at/2020-01-01").status_code == 404
    assert get(app, "/documents/policy/at/yesterday").status_code == 400
    chosen = get(app, "/documents/policy/at?date=2026-04-15")
    assert chosen.headers["location"] == "/documents/policy/at/2026-04-15"


def test_version_page(app: Any) -> None:
    page = get(app, "/documents/policy/versions/3")
    assert page.status_code == 200
    assert KEYSTROKE in text_of(page.text)
    assert '<p class="h h2">How do we use your information?</p>' in page.text
    assert get(app, "/documents/policy/versions/42").status_code == 404


def test_search_gives_first_and_last_appearance_with_links(app: Any, h: History) -> None:
    for phrase in ("keystroke", "Research   AND development", "typing rhythm"):
        page = get(app, "/search", params={"q": phrase})
        hits = page.text.split('<li class="card">')[1:]
        assert len(hits) == 1, phrase
        assert 'href="/documents/policy"' in hits[0]
        assert (
            f'First appeared in <a href="/changes/{change_id(h, "policy", 3)}">version 3'
            in (hits[0])
        )
        assert f'gone since <a href="/changes/{change_id(h, "policy", 4)}">version 4' in hits[0]
        assert "<mark>" in hits[0]
    present = get(app, "/search", params={"q": "clicks and scrolling"}).text
    assert "still present" in present
    assert f'<a href="/changes/{change_id(h, "policy", 2)}">version 2' in present
    kept = get(app, "/search", params={"q": "approximate location"}).text
    assert "the first version kept" in kept and kept.count('<li class="card">') == 2
    nothing = get(app, "/search", params={"q": "quantum teleportation"}).text
    assert "No version of any document contains" in nothing


def test_deliveries_show_alerts_and_status(app: Any, h: History) -> None:
    page = get(app, "/deliveries")
    assert page.status_code == 200
    rows = page.text.split("<tr>")[2:]
    assert rows, "the checks wrote no alert deliveries"
    assert all("ops-hook" in row for row in rows)
    assert any('class="status st-pending">pending' in row for row in rows)
    assert any("incident opened" in row for row in rows)


def test_pages_are_escaped_and_carry_the_csp(app: Any, h: History) -> None:
    cid = change_id(h, "partners", 2)
    for path in (
        f"/changes/{cid}",
        f"/changes/{cid}?mode=side",
        "/documents/partners/versions/1",
        "/documents/partners/compare?from=1&to=2",
        "/search?q=onerror",
        "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ):
        page = get(app, path)
        assert page.status_code == 200, path
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in page.text.lower(), path
        assert "<img" not in page.text.lower(), path
        assert "&lt;script&gt;" in page.text or "&lt;img" in page.text, path


def test_errors_are_pages_with_the_same_headers(app: Any) -> None:
    missing = get(app, "/documents/nope")
    assert missing.status_code == 404
    assert "There is no document" in missing.text and "<html" in missing.text
    assert missing.headers["content-security-policy"] == CSP
    assert get(app, "/changes/999999").status_code == 404
    assert get(app, "/changes/abc").status_code == 400
    style = get(app, "/static/style.css")
    assert style.status_code == 200 and style.headers["content-security-policy"] == CSP
