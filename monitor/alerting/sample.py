"""The change `policywatch test-alert` sends: two versions of a short policy, written by the
project in its own words, assessed by the real differ, topics and significance, and wrapped in
the payload a real change gets. What a channel receives is what it would receive for real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.alerting.payloads import Alerting
from monitor.analysis.assessment import assess
from monitor.config import DocumentSettings, Settings
from monitor.extract.document import Document
from storage.values import ChangeIn, VersionMeta

BEFORE = """# Privacy Policy
## How do we use your information?
### Improving our products
We do not use the messages you send to friends to train our artificial intelligence models.
## What information do we collect?
### Your activity
We collect the posts you share and the groups you join.
## How can you manage or delete your information?
You can object to this use under Settings > Privacy > AI."""

AFTER = """# Privacy Policy
## How do we use your information?
### Improving our products
We may use the posts you share publicly to train our artificial intelligence models.
## What information do we collect?
### Your activity
We collect the posts you share and the groups you join.
We also record the rhythm of your typing, how you move your cursor and how far you scroll.
## How can you manage or delete your information?
You can object to this use in Accounts Center > Your information and permissions."""

SAMPLE_DOCUMENT = DocumentSettings(
    slug="example-privacy-policy",
    name="Example Privacy Policy (a test alert)",
    url="https://example.org/privacy",
)


def sample_change_payload(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """A `policywatch.alert/1` change payload for BEFORE -> AFTER, assessed with the configured
    topics, as `kind: "test"`."""
    now = now or datetime.now(UTC)
    assessment = assess(Document.from_text(BEFORE), Document.from_text(AFTER), settings.topics)
    change = ChangeIn(
        significance=assessment.significance or "cosmetic",
        topics=list(assessment.topics),
        flags=list(assessment.flags),
        changeset=[c.to_json() for c in assessment.changes],
        from_version=1,
    )
    previous = VersionMeta(1, now - timedelta(days=7), "", False, 0, 0)
    payload = Alerting(settings).change_payload(
        SAMPLE_DOCUMENT, change, previous=previous, version=2, at=now
    )
    return {**payload, "kind": "test"}
