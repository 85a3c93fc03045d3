"""Rendering alert payloads: subjects, text and HTML parts, escaping of hostile page text, capping
of long alerts, and the Slack and Discord shapes within their limits."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from alerts.chat import (
    DISCORD_CONTENT,
    DISCORD_DESCRIPTION,
    DISCORD_FIELD_NAME,
    DISCORD_FIELD_VALUE,
    DISCORD_FIELDS,
    DISCORD_TITLE,
    DISCORD_TOTAL,
    SLACK_BLOCKS,
    SLACK_HEADER,
    SLACK_TEXT,
)
from alerts.render import render, render_discord, render_slack, sample_payload, subject_of
from alerts.view import PATH_SEPARATOR

LINK = "http://127.0.0.1:8080/documents/example-policy/changes/7"
HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(1)> "quoted" & more'


def spans_change(
    section: list[str], spans: list[list[str]], *topics: tuple[str, str, str]
) -> dict[str, Any]:
    before = "".join(text for op, text in spans if op != "+")
    after = "".join(text for op, text in spans if op != "-")
    return {
        "kind": "modified",
        "section": section,
        "before": before,
        "after": after,
        "spans": spans,
        "topics": [
            {"topic": t, "term": term, "where": where, "sentence": after}
            for t, term, where in topics
        ],
        "significance": "substantive",
        "flags": [],
    }


def change_payload(
    topics: list[str],
    changes: list[dict[str, Any]],
    *,
    name: str = "Example Privacy Policy",
    slug: str = "example-policy",
) -> dict[str, Any]:
    return {
        "schema": "policywatch.alert/1",
        "kind": "change",
        "alert_id": 42,
        "created_at": "2026-11-23T09:00:00+00:00",
        "document": {"slug": slug, "name": name, "url": "https://example.org/privacy"},
        "change": {
            "id": 7,
            "from_version": 3,
            "to_version": 4,
            "from_date": "2026-10-01T06:00:00+00:00",
            "to_date": "2026-11-23T09:00:00+00:00",
            "significance": "substantive",
            "topics": topics,
            "flags": ["negation_flip"],
            "n_changes": len(changes),
            "changes": changes,
        },
        "incident": None,
        "digest": None,
        "links": {
            "change": LINK,
            "document": LINK.rsplit("/changes", 1)[0],
            "page": "https://example.org/privacy",
        },
    }


def three_changes() -> list[dict[str, Any]]:
    return [
        spans_change(
            ["Using your data", "Model training"],
            [
                ["=", "We "],
                ["-", "never"],
                ["+", "sometimes"],
                ["=", " train our models on what you write."],
            ],
            ("ai-training", "train", "context"),
        ),
        spans_change(
            ["Using your data", "Model training"],
            [["=", "Retention lasts "], ["-", "30"], ["+", "90"], ["=", " days."]],
        ),
        spans_change(
            ["Your choices"],
            [
                ["=", "You may opt out "],
                ["-", "by email"],
                ["+", "in the app settings"],
                ["=", "."],
            ],
        ),
    ]


def incident_payload(kind: str) -> dict[str, Any]:
    closed = kind == "incident_closed"
    payload = change_payload([], [])
    payload |= {
        "kind": kind,
        "change": None,
        "incident": {
            "id": 5,
            "kind": "login_wall",
            "opened_at": "2026-11-23T09:00:00+00:00",
            "closed_at": "2026-11-23T12:30:00+00:00" if closed else None,
            "failures": 3,
            "last_error": 'page asks to log in ("Log in to continue")',
        },
    }
    return payload


def digest_payload() -> dict[str, Any]:
    first = change_payload(["ai-training"], three_changes()[:2], name="Policy One", slug="one")
    second = change_payload(["research"], three_changes()[:1], name="Policy Two", slug="two")
    third = change_payload([], three_changes()[2:], name="Policy Three", slug="three")
    digest = change_payload([], [])
    digest |= {
        "kind": "digest",
        "change": None,
        "digest": {
            "period": "daily",
            "start": "2026-11-22T09:00:00+00:00",
            "end": "2026-11-23T09:00:00+00:00",
            "alerts": [first, second, third],
        },
    }
    return digest


def many_changes(n: int, words: int = 12) -> dict[str, Any]:
    sentence = " ".join(f"word{i}" for i in range(words))
    changes = [
        spans_change(
            [f"Section {i // 10}", f"Part {i}"],
            [
                ["=", f"{sentence}. Clause {i} says we "],
                ["-", "keep"],
                ["+", "share"],
                ["=", f" it. {sentence}."],
            ],
            ("data-sharing", "share", "added"),
        )
        for i in range(n)
    ]
    return change_payload(["data-sharing"], changes)


def trial_payload() -> dict[str, Any]:
    """What `policywatch test-alert` sends: the sample change as a test alert."""
    return {**sample_payload(), "kind": "test"}


SUBJECTS = [
    pytest.param(
        change_payload(["ai-training"], three_changes()),
        "",
        "[policywatch] Example Privacy Policy: ai-training language changed (3 changes)",
        id="one-topic",
    ),
    pytest.param(
        change_payload(["ai-training", "research"], three_changes()),
        "",
        "[policywatch] Example Privacy Policy: ai-training and research language changed "
        "(3 changes)",
        id="two-topics",
    ),
    pytest.param(
        change_payload(
            ["behavioral-data", "opt-out-controls", "data-sharing"], three_changes()[:1]
        ),
        "",
        "[policywatch] Example Privacy Policy: behavioral-data, opt-out-controls and data-sharing "
        "language changed (1 change)",
        id="three-topics",
    ),
    pytest.param(
        change_payload([], three_changes()),
        "",
        "[policywatch] Example Privacy Policy: substantive change (3 changes)",
        id="no-topic",
    ),
    pytest.param(
        incident_payload("incident_opened"),
        "",
        "[policywatch] Example Privacy Policy: checks failing since 2026-11-23 09:00 (login wall)",
        id="incident-opened",
    ),
    pytest.param(
        incident_payload("incident_closed"),
        "",
        "[policywatch] Example Privacy Policy: checks working again",
        id="incident-closed",
    ),
    pytest.param(
        digest_payload(), "", "[policywatch] daily digest: 4 changes in 3 documents", id="digest"
    ),
    pytest.param(
        trial_payload(), "newsroom", '[policywatch] test alert for channel "newsroom"', id="test"
    ),
]


@pytest.mark.parametrize(("payload", "channel", "subject"), SUBJECTS)
def test_subject(payload: dict[str, Any], channel: str, subject: str) -> None:
    message = render(payload, idempotency_key="key-1", channel=channel)
    assert message.subject == subject
    assert subject_of(payload, channel=channel) == subject
    assert message.json["text"].startswith(subject)


def flat(text: str) -> str:
    """Whitespace collapsed: what wraps or aligns where is the template's business."""
    return " ".join(text.split())


def test_change_text_marks_words_sections_and_evidence() -> None:
    text = render(change_payload(["ai-training"], three_changes()), idempotency_key="k").text
    assert "We [-never-]{+sometimes+} train our models on what you write." in text
    heading = f"## Using your data{PATH_SEPARATOR}Model training"
    assert heading in text
    assert text.count(heading) == 1  # two changes, one heading
    assert 'ai-training: "train" in the surrounding sentence' in text
    assert "Versions: 3 (2026-10-01 06:00 UTC) → 4 (2026-11-23 09:00 UTC)" in flat(text)
    assert "Significance: substantive (a negation flipped)" in flat(text)
    assert f"View the full diff: {LINK}" in text


def test_change_html_marks_words_with_inline_styles() -> None:
    html = render(change_payload(["ai-training"], three_changes()), idempotency_key="k").html
    assert html.startswith("<!DOCTYPE html>")
    assert "<style" not in html
    assert (
        'We <del style="background:#ffebe9;color:#82071e;text-decoration:line-through">never</del>'
        '<ins style="background:#dafbe1;color:#116329;text-decoration:underline">sometimes</ins>'
        " train our models" in html
    )
    assert f'<a href="{LINK}"' in html
    assert ">ai-training</span>" in html


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            incident_payload("incident_opened"),
            [
                "3 checks in a row failed since 2026-11-23 09:00 UTC",
                "Problem: login wall",
                "Log in to continue",
            ],
            id="incident-opened",
        ),
        pytest.param(
            incident_payload("incident_closed"),
            ["work again since 2026-11-23 12:30 UTC", "(3 hours 30 minutes)"],
            id="incident-closed",
        ),
        pytest.param(
            digest_payload(),
            ["4 changes in 3 documents", "Policy One:", "Policy Two:", "Policy Three:", "{+90+}"],
            id="digest",
        ),
        pytest.param(
            trial_payload(),
            ['test alert from policywatch for channel "newsroom"', "{+may+}", "[-do not-]"],
            id="test",
        ),
    ],
)
def test_other_kinds_text(payload: dict[str, Any], expected: list[str]) -> None:
    message = render(payload, idempotency_key="k", channel="newsroom")
    for needle in expected:
        assert needle in flat(message.text)
    assert message.html.count("<html") == 1


def hostile_payload() -> dict[str, Any]:
    change = spans_change(
        [HOSTILE],
        [["=", f"Before {HOSTILE} "], ["-", HOSTILE], ["+", "<b>bold</b>"], ["=", " after."]],
        ("ai-training", HOSTILE, "added"),
    )
    payload = change_payload(
        ["ai-training"], [change], name=f"Policy {HOSTILE}\r\nBcc: victim@example.org"
    )
    payload["links"]["change"] = "javascript:alert(1)"
    return payload


def test_hostile_text_is_escaped_in_html() -> None:
    html = render(hostile_payload(), idempotency_key="k").html
    for raw in ("<script", "<img", "<b>", "javascript:", "onerror=alert(1)>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_hostile_name_stays_on_one_header_line() -> None:
    message = render(hostile_payload(), idempotency_key="k")
    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert len(message.subject) <= 180
    assert "javascript:" not in message.text  # a link that is not http(s) is dropped


def test_subject_of_a_long_name_is_capped() -> None:
    payload = change_payload(["ai-training"], three_changes(), name="Very long name " * 40)
    subject = render(payload, idempotency_key="k").subject
    assert len(subject) <= 180
    assert subject.endswith("…")


def test_long_alert_is_capped_with_a_link_to_the_rest() -> None:
    message = render(many_changes(500), idempotency_key="k")
    assert f"… and 480 more changes: {LINK}" in message.text
    assert message.text.count("{+share+}") == 20
    assert len(message.text.encode()) < 40_000
    assert "480 more changes" in message.html
    assert message.html.count("<ins ") == 21  # 20 changes and the legend


def test_long_sentences_are_cut_to_the_changed_sentence() -> None:
    message = render(many_changes(3, words=400), idempotency_key="k")
    assert "… Clause 0 says we [-keep-]{+share+} it. …" in message.text
    assert "word399" not in message.text


def test_webhook_json_is_the_payload_plus_a_summary() -> None:
    payload = change_payload(["ai-training"], three_changes())
    body = render(payload, idempotency_key="k").json
    assert {k: v for k, v in body.items() if k != "text"} == payload
    assert (
        body["text"]
        == f"[policywatch] Example Privacy Policy: ai-training language changed (3 changes) {LINK}"
    )
    json.dumps(body)  # serialisable as it is


def test_render_does_not_change_the_payload() -> None:
    payload = digest_payload()
    before = copy.deepcopy(payload)
    render(payload, idempotency_key="k")
    render_slack(payload)
    render_discord(payload)
    assert payload == before


def test_sample_payload_renders_three_topics() -> None:
    message = render(sample_payload(), idempotency_key="k")
    assert (
        "ai-training, behavioral-data and opt-out-controls language changed (3 changes)"
        in message.subject
    )
    assert "[-do not-]{+may+}" in message.text


def test_slack_shape_escapes_and_marks() -> None:
    body = render_slack(hostile_payload())
    texts = [block["text"]["text"] for block in body["blocks"] if block["type"] == "section"]
    joined = "\n".join(texts)
    assert "<script>" not in joined
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    assert "~&lt;script&gt;" in joined  # the removed words struck through
    assert "*&lt;b&gt;bold&lt;/b&gt;*" in joined  # the added words bold
    assert "\n" not in body["text"]


def test_slack_shape_stays_inside_limits() -> None:
    body = render_slack(many_changes(60, words=2000))
    blocks = body["blocks"]
    assert len(blocks) <= SLACK_BLOCKS
    assert len(blocks[0]["text"]["text"]) <= SLACK_HEADER
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SLACK_TEXT
    assert "more change" in json.dumps(blocks)


@pytest.mark.parametrize(
    "payload", [many_changes(60, words=2000), digest_payload(), hostile_payload()]
)
def test_discord_shape_stays_inside_limits(payload: dict[str, Any]) -> None:
    body = render_discord(payload)
    assert len(body["content"]) <= DISCORD_CONTENT
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert len(embed["title"]) <= DISCORD_TITLE
    assert len(embed["description"]) <= DISCORD_DESCRIPTION
    assert len(embed["fields"]) <= DISCORD_FIELDS
    for item in embed["fields"]:
        assert len(item["name"]) <= DISCORD_FIELD_NAME
        assert len(item["value"]) <= DISCORD_FIELD_VALUE
    total = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    total += sum(len(item["name"]) + len(item["value"]) for item in embed["fields"])
    assert total <= DISCORD_TOTAL


def test_discord_shape_of_a_long_alert_says_how_many_more() -> None:
    embed = render_discord(many_changes(60, words=2000))["embeds"][0]
    assert embed["url"] == LINK
    last = embed["fields"][-1]
    shown = len(embed["fields"]) - 1
    assert last["name"] == "More"
    assert f"… and {60 - shown} more changes" in last["value"]
    assert "~~keep~~ **share**" in embed["fields"][0]["value"]
