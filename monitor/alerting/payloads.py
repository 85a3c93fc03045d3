"""Which alerts a check writes: the `policywatch.alert/1` payload of a change or an incident, and
the channels whose subscription (documents, topics, minimum significance) it matches.

The alerts are written in the same transaction as the change or incident they report, with one
delivery per channel; `monitor.alerting.outbox` sends them later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from monitor.config import AnyChannel, DocumentSettings, Settings
from storage.redact import redact
from storage.values import AlertIn, ChangeIn, IncidentIn, VersionMeta
from storage.vocab import SIGNIFICANCE_ORDER

SCHEMA = "policywatch.alert/1"
# An alert carries at most this many changes; the rest are one click away on the change page.
MAX_CHANGES = 50


def change_link(settings: Settings, slug: str, version: int) -> str:
    """The permalink of the change that produced version `version` of a document."""
    return f"{settings.web.base_url.rstrip('/')}/documents/{slug}/versions/{version}/change"


def document_link(settings: Settings, slug: str) -> str:
    return f"{settings.web.base_url.rstrip('/')}/documents/{slug}"


def _document(doc: DocumentSettings) -> dict[str, str]:
    return {"slug": doc.slug, "name": doc.name, "url": redact(doc.url)}


def _payload(kind: str, doc: DocumentSettings, at: datetime, **parts: Any) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": kind,
        "created_at": at.isoformat(),
        "document": _document(doc),
        "change": None,
        "incident": None,
        "digest": None,
        **parts,
    }


def matches(
    channel: AnyChannel, slug: str, significance: str | None, topics: Sequence[str]
) -> bool:
    """Whether a channel subscribed to this: its documents, topics and minimum significance."""
    if channel.documents and slug not in channel.documents:
        return False
    if significance is None:  # incidents: every channel that follows the document
        return True
    if SIGNIFICANCE_ORDER[significance] < SIGNIFICANCE_ORDER[channel.min_significance]:
        return False
    return not channel.topics or bool(set(channel.topics) & set(topics))


_STRONG = {"words": 2, "heading": 1}
_FLIPS = frozenset({"negation_flip", "modal_change"})


def headline_topics(changes: Sequence[Mapping[str, Any]], order: Sequence[str] = ()) -> list[str]:
    """The topics a subject names: those with evidence in the changed words or in the heading of
    a change that is not cosmetic (and in the sentence of a change that flipped a negation or a
    modal: "do not use ... to train" -> "may use ... to train" is about training), strongest
    first (the most significant change that shows them, then words before headings, then how
    many changes do, then the order of the topics in the config)."""
    strength: dict[str, tuple[int, int, int]] = {}
    for change in changes:
        level = SIGNIFICANCE_ORDER.get(str(change.get("significance")), 0)
        if level == 0:
            continue
        flipped = bool(_FLIPS & set(change.get("flags") or ()))
        found: dict[str, int] = {}
        for evidence in change.get("topics") or ():
            kind = str(evidence.get("basis"))
            basis = _STRONG.get(kind, 2 if flipped and kind == "sentence" else None)
            if basis is not None:
                topic = str(evidence.get("topic"))
                found[topic] = max(found.get(topic, 0), basis)
        for topic, basis in found.items():  # each change counts once per topic
            best, strongest, count = strength.get(topic, (0, 0, 0))
            strength[topic] = (max(best, level), max(strongest, basis), count + 1)
    rank = {name: i for i, name in enumerate(order)}

    def key(topic: str) -> tuple[int, int, int, int]:
        best, kind, count = strength[topic]
        return (-best, -kind, -count, rank.get(topic, len(rank)))

    return sorted(strength, key=key)


def most_significant_first(changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes, most significant first (in document order within a level)."""
    return sorted(changes, key=lambda c: -SIGNIFICANCE_ORDER.get(str(c.get("significance")), 0))


def top_flags(
    changes: Sequence[Mapping[str, Any]], significance: str, flags: Sequence[str]
) -> list[str]:
    """The flags of the changes that make the change set's significance (a minor date change
    beside a substantive one does not explain the substantive one), and `reverted`."""
    found = {
        str(flag)
        for change in changes
        if change.get("significance") == significance
        for flag in change.get("flags") or ()
    }
    return sorted(found | ({"reverted"} & set(flags)))


def period_end(digest: str, now: datetime, digest_hour: int) -> datetime:
    """When a digest channel's current period ends (the first attempt of its deliveries)."""
    if digest == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    end = now.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
    return end if end > now else end + timedelta(days=1)


class Alerting:
    """Builds the alert rows of changes and incidents for one configuration."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _alert(
        self, kind: str, payload: dict[str, Any], channels: list[AnyChannel], at: datetime
    ) -> list[AlertIn]:
        if not channels:
            return []
        due = {
            c.name: period_end(c.digest, at, self.settings.alerts.digest_hour)
            for c in channels
            if c.digest != "immediate"
        }
        return [AlertIn(kind, payload, [c.name for c in channels], due)]

    def for_change(
        self,
        doc: DocumentSettings,
        change: ChangeIn,
        *,
        previous: VersionMeta,
        version: int,
        at: datetime,
    ) -> list[AlertIn]:
        channels = [
            c
            for c in self.settings.channels
            if matches(c, doc.slug, change.significance, change.topics)
        ]
        payload = self.change_payload(doc, change, previous=previous, version=version, at=at)
        return self._alert("change", payload, channels, at)

    def change_payload(
        self,
        doc: DocumentSettings,
        change: ChangeIn,
        *,
        previous: VersionMeta,
        version: int,
        at: datetime,
    ) -> dict[str, Any]:
        """The `policywatch.alert/1` payload of a change that made version `version`."""
        ordered = most_significant_first(change.changeset)
        body = {
            "from_version": previous.number,
            "to_version": version,
            "from_date": previous.created_at.isoformat(),
            "to_date": at.isoformat(),
            "significance": change.significance,
            "topics": list(change.topics),
            "headline_topics": headline_topics(
                change.changeset, [t.name for t in self.settings.topics]
            ),
            "flags": top_flags(change.changeset, change.significance, change.flags),
            "n_changes": len(change.changeset),
            # every control change, also those of changes past MAX_CHANGES: alerts lead with them
            "controls": [c for item in change.changeset for c in item.get("controls") or ()],
            "changes": ordered[:MAX_CHANGES],
        }
        links = {
            "change": change_link(self.settings, doc.slug, version),
            "document": document_link(self.settings, doc.slug),
            "page": redact(doc.url),
        }
        return _payload("change", doc, at, change=body, links=links)

    def for_incident(
        self,
        doc: DocumentSettings,
        incident: IncidentIn,
        *,
        opened_at: datetime,
        failures: int,
        at: datetime,
    ) -> list[AlertIn]:
        """The alert of an incident opening or closing (a continuing one sends nothing)."""
        if incident.action == "continue":
            return []
        kind = "incident_opened" if incident.action == "open" else "incident_closed"
        body = {
            "kind": incident.kind,
            "opened_at": opened_at.isoformat(),
            "closed_at": at.isoformat() if incident.action == "close" else None,
            "failures": failures,
            "last_error": redact(incident.message),
        }
        links = {"document": document_link(self.settings, doc.slug), "page": redact(doc.url)}
        channels = [c for c in self.settings.channels if matches(c, doc.slug, None, ())]
        return self._alert(kind, _payload(kind, doc, at, incident=body, links=links), channels, at)
