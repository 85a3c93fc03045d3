"""The opt-out map from a document's versions: each control today, since when, first seen, and
its history through moves and renames; every control change for the feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.analysis.controlmap import document_controls, latest_events

FORM = "https://www.example.org/help/contact/4455"


@dataclass(frozen=True)
class V:
    number: int
    created_at: datetime
    text: str


def versions(*bodies: list[str]) -> list[V]:
    return [
        V(n, datetime(2026, 3, n, tzinfo=UTC), "\n".join(["# Your AI choices", *body]))
        for n, body in enumerate(bodies, 1)
    ]


ADS = "Ads are chosen in Settings > Ads > Ad preferences."
AI_1 = "To stop this, go to Settings > Privacy and turn off “Allow use of my posts for AI”."
AI_2 = "To stop this, go to Accounts Center > Privacy and turn off “Allow use of my posts for AI”."
AI_3 = "To stop this, go to Accounts Center > Privacy and turn off “Let AI learn from my posts”."
FORM_LINE = f"In the EU, use [the objection form]({FORM})."


def test_a_control_keeps_its_history_through_a_move_and_a_rename() -> None:
    m = document_controls(
        "help",
        versions([ADS, AI_1], [ADS, AI_2], [ADS, AI_3, FORM_LINE], [AI_3, FORM_LINE]),
    )
    today = {(c.control.label): c for c in m.today}
    assert set(today) == {"Let AI learn from my posts", "the objection form"}
    ai = today["Let AI learn from my posts"]
    assert (ai.first_version, ai.since_version) == (1, 3)
    assert [(e.kind, e.version) for e in ai.history] == [
        ("control_moved", 2),
        ("control_renamed", 3),
    ]
    assert ai.history[0].before is not None
    assert ai.history[0].before.path == ("Settings", "Privacy")
    form = today["the objection form"]
    assert (form.first_version, form.since_version) == (3, 3)
    assert [e.kind for e in form.history] == ["control_added"]
    assert [(e.kind, e.version) for e in m.events] == [
        ("control_moved", 2),
        ("control_renamed", 3),
        ("control_added", 3),
        ("control_removed", 4),
    ]
    # newest first; within a version, in the order of the page
    assert [e.kind for e in latest_events([m], 3)] == [
        "control_removed",
        "control_renamed",
        "control_added",
    ]
    data = ai.to_json()
    assert (data["since_version"], data["first_version"]) == (3, 1)
    assert [h["kind"] for h in data["history"]] == ["control_moved", "control_renamed"]


def test_unchanged_controls_stand_since_their_first_version_and_a_first_version_adds_none() -> None:
    m = document_controls("help", versions([ADS], [ADS, "We keep logs for a month."]))
    [ads] = m.today
    assert (ads.first_version, ads.since_version, ads.history, m.events) == (1, 1, [], [])


def test_controls_that_appear_after_a_first_version_without_any_are_added() -> None:
    m = document_controls("help", versions(["Nothing to choose yet."], [ADS]))
    assert [(e.kind, e.version) for e in m.events] == [("control_added", 2)]
