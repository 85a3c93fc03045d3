"""What an alert's subject names, and what `test-alert` sends: both from the real assessment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alerts.content import title_of
from monitor import config
from monitor.alerting.payloads import headline_topics, most_significant_first
from monitor.alerting.sample import sample_change_payload
from monitor.analysis.assessment import assess
from monitor.analysis.topics import DEFAULT_TOPICS
from monitor.extract.document import Document
from tests.support import document, write_config

ORDER = [t.name for t in DEFAULT_TOPICS]


def changes(old: str, new: str, topics: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = assess(Document.from_text(old), Document.from_text(new), DEFAULT_TOPICS, topics)
    return [c.to_json() for c in result.changes]


def test_a_quotes_only_change_names_no_topic() -> None:
    old = "# Policy\nYou can object to this use with the form in Settings. We won't sell data."
    new = "# Policy\nYou can object to this use with the form in Settings. We won\u2019t sell data."
    assert headline_topics(changes(old, new), ORDER) == []


def test_the_subject_names_the_topics_of_the_changed_words_strongest_first() -> None:
    old = "\n".join(
        [
            "# Policy",
            "## Ads",
            "We show you ads based on the pages you follow.",
            "## Our models",
            "We keep your photos private.",
        ]
    )
    new = "\n".join(
        [
            "# Policy",
            "## Ads",
            "We show you ads based on the pages you follow. You can turn off this setting.",
            "## Our models",
            "We use your public photos to train our AI models.",
        ]
    )
    # both from their words, one change each: the config's order breaks the tie
    assert headline_topics(changes(old, new), ORDER) == ["ai-training", "opt-out-controls"]
    assert headline_topics(changes(old, new), ORDER[::-1]) == ["opt-out-controls", "ai-training"]


def test_a_document_topic_alone_is_not_named_in_the_subject() -> None:
    found = changes(
        "# Memory\nMemory works in the United States.",
        "# Memory\nMemory works in the United States and Canada.",
        topics=("ai-training",),
    )
    assert found[0]["topics"] and found[0]["topics"][0]["basis"] == "document"
    assert headline_topics(found, ORDER) == []


def test_the_most_significant_change_comes_first() -> None:
    old = "# P\nEffective 1 May 2026\n## Data\nWe keep logs for a year."
    new = "# P\nEffective 2 June 2026\n## Data\nWe sell logs to advertisers."
    ordered = most_significant_first(changes(old, new))
    assert [c["significance"] for c in ordered] == ["substantive", "minor"]


def test_test_alert_sends_a_change_assessed_by_the_real_code(tmp_path: Path) -> None:
    settings = config.load(write_config(tmp_path, document("a", "https://example.org/a")))
    payload = sample_change_payload(settings)
    change = payload["change"]
    assert payload["kind"] == "test"
    assert change["significance"] == "substantive"
    assert {"ai-training", "behavioral-data", "opt-out-controls"} <= set(change["topics"])
    assert change["headline_topics"][0] == "ai-training"
    assert "negation_flip" in change["flags"] or "modal_change" in change["flags"]
    line = title_of({**payload, "kind": "change"})  # as the real change would be titled
    assert "ai-training" in line and "behavioral-data" in line  # the config's spelling
    for evidence in (e for c in change["changes"] for e in c["topics"]):
        assert evidence["basis"] in ("words", "sentence", "heading")  # what the matcher found
