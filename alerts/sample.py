"""A realistic sample change alert, written by the project in its own words: what
`policywatch test-alert` sends, and what the documentation shows."""

from __future__ import annotations

from typing import Any

_AI_BEFORE = (
    "We do not use the messages you send to friends to train our artificial intelligence models."
)
_AI_AFTER = "We may use the posts you share publicly to train our artificial intelligence models."
_TELEMETRY = (
    "We also record how you interact with our apps, such as the rhythm of your typing, "
    "how you move your cursor and how far you scroll."
)
_OPT_OUT_BEFORE = "You can object to this use under Settings > Privacy > AI."
_OPT_OUT_AFTER = "You can object to this use in Accounts Center > Your information and permissions."


def sample_payload() -> dict[str, Any]:
    """A policywatch.alert/1 change payload with three assessed changes over three topics.

    `policywatch test-alert` sends it with `"kind": "test"`; the text is made up.
    """
    base = "http://127.0.0.1:8080/documents/facebook-privacy-policy"
    page = "https://mbasic.facebook.com/privacy/policy/printable/"
    return {
        "schema": "policywatch.alert/1",
        "kind": "change",
        "alert_id": 0,
        "created_at": "2026-11-23T09:00:00+00:00",
        "document": {
            "slug": "facebook-privacy-policy",
            "name": "Facebook Privacy Policy",
            "url": page,
        },
        "change": {
            "id": 17,
            "from_version": 11,
            "to_version": 12,
            "from_date": "2026-10-01T06:00:00+00:00",
            "to_date": "2026-11-23T09:00:00+00:00",
            "significance": "substantive",
            "topics": ["ai-training", "behavioral-data", "opt-out-controls"],
            "flags": ["modal_change", "negation_flip"],
            "n_changes": 3,
            "changes": [_ai_change(), _telemetry_change(), _opt_out_change()],
        },
        "incident": None,
        "digest": None,
        "links": {"change": f"{base}/changes/17", "document": base, "page": page},
    }


def _evidence(topic: str, term: str, where: str, sentence: str) -> dict[str, str]:
    return {"topic": topic, "term": term, "where": where, "sentence": sentence}


def _ai_change() -> dict[str, Any]:
    return {
        "kind": "modified",
        "section": ["How do we use your information?", "Improving our products"],
        "before": _AI_BEFORE,
        "after": _AI_AFTER,
        "spans": [
            ["=", "We "],
            ["-", "do not"],
            ["+", "may"],
            ["=", " use the "],
            ["-", "messages you send to friends"],
            ["+", "posts you share publicly"],
            ["=", " to train our artificial intelligence models."],
        ],
        "topics": [_evidence("ai-training", "train", "context", _AI_AFTER)],
        "significance": "substantive",
        "flags": ["modal_change", "negation_flip"],
    }


def _telemetry_change() -> dict[str, Any]:
    return {
        "kind": "added",
        "section": ["What information do we collect?", "Your activity"],
        "before": None,
        "after": _TELEMETRY,
        "spans": [["+", _TELEMETRY]],
        "topics": [
            _evidence("behavioral-data", "rhythm of your typing", "added", _TELEMETRY),
            _evidence("behavioral-data", "move your cursor", "added", _TELEMETRY),
        ],
        "significance": "substantive",
        "flags": [],
    }


def _opt_out_change() -> dict[str, Any]:
    return {
        "kind": "modified",
        "section": ["How can you manage or delete your information?"],
        "before": _OPT_OUT_BEFORE,
        "after": _OPT_OUT_AFTER,
        "spans": [
            ["=", "You can object to this use "],
            ["-", "under Settings > Privacy > AI"],
            ["+", "in Accounts Center > Your information and permissions"],
            ["=", "."],
        ],
        "topics": [_evidence("opt-out-controls", "object", "context", _OPT_OUT_AFTER)],
        "significance": "minor",
        "flags": [],
    }
