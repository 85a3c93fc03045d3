"""Alerts about a control lead with it: the subject and the first line of the body say what moved
or was renamed, from a change assessed by the real code and a payload built by the real
alerting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.controls import control_phrases
from alerts.render import render
from monitor import config
from monitor.alerting.payloads import Alerting
from monitor.analysis.assessment import assess
from monitor.config import DocumentSettings
from monitor.extract.document import Document
from storage.values import ChangeIn, VersionMeta
from tests.support import document, write_config

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
HELP = DocumentSettings(slug="ai-help", name="AI help", url="https://example.org/help/ai")
LEAD = "You decide whether your public posts help improve our AI."


def payload(tmp_path: Path, old: list[str], new: list[str]) -> dict[str, Any]:
    settings = config.load(write_config(tmp_path, document("a", "https://example.org/a")))
    a, b = (Document.from_text("\n".join(["# AI and you", LEAD, *lines])) for lines in (old, new))
    result = assess(a, b, settings.topics)
    change = ChangeIn(
        significance=result.significance or "cosmetic",
        topics=list(result.topics),
        flags=list(result.flags),
        changeset=[c.to_json() for c in result.changes],
        from_version=3,
    )
    previous = VersionMeta(3, NOW - timedelta(days=7), "", False, 0, 0)
    return Alerting(settings).change_payload(HELP, change, previous=previous, version=4, at=NOW)


STEPS = ["- Open Settings.", "- Tap Privacy."]


def test_a_renamed_toggle_leads_the_subject_and_the_body(tmp_path: Path) -> None:
    data = payload(
        tmp_path,
        [*STEPS, "- Turn off “Allow use of my public content for AI”."],
        [*STEPS, "- Turn off “Let AI learn from my public content”."],
    )
    assert [c["kind"] for c in data["change"]["controls"]] == ["control_renamed"]
    message = render(data, idempotency_key="k")
    lead = "'Allow use of my public content for AI' is now 'Let AI learn from my public content'"
    assert message.subject.startswith(f"[policywatch] AI help: {lead}; ")
    assert message.text.splitlines()[0].startswith(f"AI help: {lead}; ")


def test_a_moved_control_says_where_it_lives_now(tmp_path: Path) -> None:
    data = payload(
        tmp_path,
        ["To stop this, go to Settings > Privacy > Data use for AI."],
        ["To stop this, go to Accounts Center > Your information > Data use for AI."],
    )
    subject = render(data, idempotency_key="k").subject
    assert subject.startswith(
        "[policywatch] AI help: 'Data use for AI' is now in Accounts Center > Your information "
        "(was Settings > Privacy); "
    )


def test_changes_without_controls_keep_the_usual_subject(tmp_path: Path) -> None:
    data = payload(tmp_path, ["We keep logs for a month."], ["We keep logs for ten years."])
    assert data["change"]["controls"] == []
    assert "'" not in render(data, idempotency_key="k").subject


def _control(path: list[str], label: str | None = None, link: str | None = None) -> dict[str, Any]:
    return {"path": path, "label": label or path[-1], "link": link, "sentence": ""}


@pytest.mark.parametrize(
    ("changes", "phrases"),
    [
        (
            [("control_removed", _control(["Settings", "Privacy", "Research"]), None)],
            ["'Research' was removed (it was in Settings > Privacy)"],
        ),
        (
            [("control_added", None, _control(["Settings", "Ads"], "Show fewer ads"))],
            ["new control 'Show fewer ads' in Settings > Ads"],
        ),
        (
            [
                (
                    "form_link_changed",
                    _control([], "the objection form", "https://example.org/form/1"),
                    _control([], "the objection form", "https://example.org/form/2"),
                )
            ],
            ["'the objection form' now links to https://example.org/form/2"],
        ),
        (  # one control moved and renamed at once is one phrase; a removal comes first
            [
                ("control_moved", _control(["A", "Old"]), _control(["B", "New"])),
                ("control_renamed", _control(["A", "Old"]), _control(["B", "New"])),
                ("control_removed", _control(["C", "Gone"]), None),
            ],
            ["'Gone' was removed (it was in C)", "'Old' is now 'New', now in B (was A)"],
        ),
    ],
)
def test_control_phrases(
    changes: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]], phrases: list[str]
) -> None:
    found = control_phrases([{"kind": k, "before": b, "after": a} for k, b, a in changes])
    assert found == phrases
