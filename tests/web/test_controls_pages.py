"""The opt-out map on the web (/controls, /api/controls, /feeds/controls.atom) over a history
recorded by real checks of a help-center article written for these tests: a toggle renamed, then
its steps moved and its form relinked."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from monitor import config
from monitor.daemon.runtime import open_store
from monitor.web import create_app
from tests import helpcenter
from tests.pageserver import PageServer, Response
from tests.support import Harness, ManualClock, document, write_config
from tests.websupport import get

NS = {"a": "http://www.w3.org/2005/Atom"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
DAY = 86400.0
OLD_LABEL = "Allow use of my public content for AI"
NEW_LABEL = "Let AI learn from my public content"
FORM = "https://www.example.org/help/contact/300"


def page(label: str, first_steps: tuple[str, ...], form: str) -> str:
    return helpcenter.article(
        "Choose how your posts help our AI",
        helpcenter.para("You decide whether your public posts help improve our AI features."),
        helpcenter.steps(*first_steps, "Tap **Accounts Center**.", f"Turn off **{label}**."),
        helpcenter.para(f"In the EU you can also use [the objection form]({form})."),
        helpcenter.para("Ads are chosen in Settings › Ads › Ad preferences, not by this setting."),
    )


PROFILE = ("Go to your **Profile**, then tap **Menu**.",)
SETTINGS = ("Open **Settings & privacy**.", "Tap **Settings**.")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("controls")
    with PageServer() as site:
        settings = config.load(write_config(root, document("ai-help", site.url("/help"))))
        store = open_store(settings)
        h = Harness(settings, store, ManualClock())
        try:
            for body in (
                page(OLD_LABEL, PROFILE, FORM),  # v1
                page(NEW_LABEL, PROFILE, FORM),  # v2: renamed
                page(NEW_LABEL, SETTINGS, FORM + "1"),  # v3: moved, and the form relinked
            ):
                site.set("/help", Response(body=body, headers=HTML))
                assert h.check("ai-help").outcome in ("new", "changed")
                h.clock.advance(10 * DAY)
            yield create_app(settings, store.engine, clock=h.clock)
        finally:
            store.engine.dispose()


def test_the_api_lists_each_control_where_it_lives_since_when_and_how_it_moved(app: Any) -> None:
    response = get(app, "/api/controls")
    assert response.status_code == 200, response.text
    rows = {row["label"]: row for row in response.json()}
    assert set(rows) == {NEW_LABEL, "the objection form", "Ad preferences"}
    toggle = rows[NEW_LABEL]
    assert toggle["path"] == ["Settings & privacy", "Settings", "Accounts Center", NEW_LABEL]
    assert (toggle["first_version"], toggle["since_version"]) == (1, 3)
    assert toggle["evidence"].endswith("/documents/ai-help/versions/3/change")
    assert [(e["kind"], e["version"]) for e in toggle["history"]] == [
        ("control_renamed", 2),
        ("control_moved", 3),
    ]
    form = rows["the objection form"]
    assert (form["link"], form["since_version"]) == (FORM + "1", 3)
    assert [e["kind"] for e in form["history"]] == ["form_link_changed"]
    assert rows["Ad preferences"]["since_version"] == 1
    assert get(app, "/api/controls", params={"document": "ai-help"}).json() == response.json()
    assert get(app, "/api/controls", params={"document": "nope"}).status_code == 404


def test_the_page_shows_the_map_and_links_since_to_the_evidence(app: Any) -> None:
    response = get(app, "/controls")
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert NEW_LABEL in text and "Settings & privacy › Settings › Accounts Center" in text
    assert 'href="/documents/ai-help/versions/3/change">version 3</a>' in text
    assert f"renamed, was “{OLD_LABEL}”" in text
    assert f"'{OLD_LABEL}' is now '{NEW_LABEL}'" in text  # the latest control changes
    for crumb in helpcenter.BREADCRUMB:  # page chrome is no control
        assert crumb not in text
    assert get(app, "/controls", params={"document": "nope"}).status_code == 404


def test_the_feed_leads_each_entry_with_the_move_and_links_its_evidence(app: Any) -> None:
    response = get(app, "/feeds/controls.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall("a:entry", NS)
    titles = [e.findtext("a:title", namespaces=NS) for e in entries]
    assert titles == [
        "Ai-Help: 'Let AI learn from my public content' is now in Settings & privacy > "
        "Settings > Accounts Center (was Profile > Menu > Accounts Center)",
        f"Ai-Help: 'the objection form' now links to {FORM}1",
        f"Ai-Help: '{OLD_LABEL}' is now '{NEW_LABEL}'",
    ]
    links = [e.find("a:link", NS) for e in entries]
    assert [
        link.get("href", "").rsplit("/documents/", 1)[1] for link in links if link is not None
    ] == [
        "ai-help/versions/3/change",
        "ai-help/versions/3/change",
        "ai-help/versions/2/change",
    ]
    assert len({e.findtext("a:id", namespaces=NS) for e in entries}) == len(entries)


def test_the_stored_change_carries_the_control_flags_and_evidence(app: Any) -> None:
    [renamed] = [c for c in get(app, "/api/changes").json() if c["to_version"] == 2]
    assert "control_renamed" in renamed["flags"] and "opt-out-controls" in renamed["topics"]
    assert renamed["significance"] in ("minor", "substantive")


def test_a_running_web_process_shows_the_map_of_each_new_version(tmp_path: Any) -> None:
    # One app for the whole history: the map it kept after v1 must give way when v2 is recorded.
    with PageServer() as site:
        settings = config.load(write_config(tmp_path, document("ai-help", site.url("/help"))))
        store = open_store(settings)
        try:
            h = Harness(settings, store, ManualClock())
            site.set("/help", Response(body=page(OLD_LABEL, PROFILE, FORM), headers=HTML))
            assert h.check("ai-help").outcome == "new"
            app = create_app(settings, store.engine, clock=h.clock)
            [before] = get(app, "/api/controls").json()[:1]
            assert before["label"] == OLD_LABEL and before["since_version"] == 1
            assert get(app, "/api/controls").json()[0] == before  # kept: nothing new

            h.clock.advance(DAY)
            site.set("/help", Response(body=page(NEW_LABEL, PROFILE, FORM), headers=HTML))
            assert h.check("ai-help").outcome == "changed"
            [after] = get(app, "/api/controls").json()[:1]
            assert after["label"] == NEW_LABEL and after["since_version"] == 2
            assert [e["kind"] for e in after["history"]] == ["control_renamed"]
        finally:
            store.engine.dispose()
