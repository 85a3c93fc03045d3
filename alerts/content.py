"""What an alert says, whatever the channel: the title, the intro sentence and the facts of a
change, an incident opening or closing, a digest or a test alert, built into an AlertView."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from alerts.controls import control_phrases, controls_of
from alerts.view import (
    AlertView,
    Budget,
    EntryView,
    items,
    join_words,
    line,
    mapping,
    number,
    plural,
    safe_url,
    sections_of,
    topic_label,
    topics_of,
    when,
)

_FLAG_LABELS = {
    "negation_flip": "a negation flipped",
    "modal_change": "a modal verb changed",
    "date_change": "the effective date changed",
    "notice": "a notice of an update was added or removed",
    "moved": "text moved",
    "reverted": "the text went back to an older version",
}
_CHANGE_KINDS = ("change", "test")


def build(
    payload: Mapping[str, Any], *, channel: str = "", budget: Budget | None = None
) -> AlertView:
    """The view of one alert payload; `channel` names the channel a test alert is for."""
    budget = budget or Budget()
    kind = line(payload.get("kind"))
    if kind == "digest":
        return _digest(payload, budget)
    view = AlertView(kind=kind or "change", title=title_of(payload, channel=channel))
    if kind == "test":
        view.intro = (
            f'This is a test alert from policywatch for channel "{line(channel)}". If you can '
            "read it, the channel works. Below is a sample of a change alert; its content is "
            "made up."
        )
    entry = _entry(payload, budget)
    if entry is not None:
        view.entries.append(entry)
    view.footer = _footer(payload)
    return view


def title_of(payload: Mapping[str, Any], *, channel: str = "") -> str:
    """The subject of an alert without the "[policywatch]" prefix (not yet header-safe)."""
    kind = line(payload.get("kind"))
    if kind == "test":
        return f'test alert for channel "{line(channel)}"'
    if kind == "digest":
        return _digest_title(mapping(payload.get("digest")))
    name = document_name(payload)
    if kind == "incident_opened":
        incident = mapping(payload.get("incident"))
        since = when(incident.get("opened_at"))
        return f"{name}: checks failing since {since} ({_problem(incident)})"
    if kind == "incident_closed":
        return f"{name}: checks working again"
    return f"{name}: {_change_phrase(mapping(payload.get('change')))}"


def document_name(payload: Mapping[str, Any]) -> str:
    document = mapping(payload.get("document"))
    return line(document.get("name")) or line(document.get("slug")) or "a watched document"


def _change_phrase(change: Mapping[str, Any]) -> str:
    # A change to a control leads with it ("'A' is now 'B'"); then the subject names the topics
    # whose evidence is in the changed words or their heading, strongest first
    # (`headline_topics`); older payloads have only `topics`.
    phrases = control_phrases(controls_of(change))
    lead = ""
    if phrases:
        others = len(phrases) - 1
        lead = phrases[0] + (f" (and {plural(others, 'other control change')})" if others else "")
        lead += "; "
    named = change.get("headline_topics", change.get("topics"))
    topics = [topic_label(t) for t in items(named) if line(t)]
    if topics:
        what = f"{join_words(topics)} language changed"
    else:
        significance = line(change.get("significance"))
        what = f"{significance} change" if significance else "changed"
    return f"{lead}{what} ({plural(_total(change), 'change')})"


def _total(change: Mapping[str, Any]) -> int:
    return max(number(change.get("n_changes")), len(items(change.get("changes"))))


def _problem(incident: Mapping[str, Any]) -> str:
    return line(incident.get("kind")).replace("_", " ") or "check error"


def _entry(payload: Mapping[str, Any], budget: Budget) -> EntryView | None:
    kind = line(payload.get("kind")) or "change"
    if kind in _CHANGE_KINDS and payload.get("change"):
        return _change_entry(payload, budget)
    if kind in ("incident_opened", "incident_closed"):
        return _incident_entry(payload, closed=kind == "incident_closed")
    return None


def _base_entry(payload: Mapping[str, Any], kind: str, title: str) -> EntryView:
    document = mapping(payload.get("document"))
    links = mapping(payload.get("links"))
    return EntryView(
        kind=kind,
        title=title,
        document=document_name(payload),
        document_url=safe_url(document.get("url")) or safe_url(links.get("page")),
    )


def _change_entry(payload: Mapping[str, Any], budget: Budget) -> EntryView:
    change = mapping(payload.get("change"))
    links = mapping(payload.get("links"))
    entry = _base_entry(payload, "change", f"{document_name(payload)}: {_change_phrase(change)}")
    entry.sections, entry.shown = sections_of(items(change.get("changes")), budget)
    entry.more = max(0, _total(change) - entry.shown)
    entry.topics = topics_of(change)
    entry.significance = line(change.get("significance"))
    entry.facts = [("Document", entry.document), ("Versions", _versions(change))]
    if entry.significance:
        flags = [
            _FLAG_LABELS.get(line(f), line(f).replace("_", " ")) for f in items(change.get("flags"))
        ]
        detail = f" ({', '.join(flag for flag in flags if flag)})" if any(flags) else ""
        entry.facts.append(("Significance", entry.significance + detail))
    entry.link = safe_url(links.get("change"))
    entry.link_label = "View the full diff"
    if not entry.link:
        entry.link = safe_url(links.get("document"))
        entry.link_label = "Open the document history"
    return entry


def _versions(change: Mapping[str, Any]) -> str:
    old = f"{number(change.get('from_version'))} ({when(change.get('from_date'))} UTC)"
    new = f"{number(change.get('to_version'))} ({when(change.get('to_date'))} UTC)"
    return f"{old} → {new}"


def _incident_entry(payload: Mapping[str, Any], *, closed: bool) -> EntryView:
    incident = mapping(payload.get("incident"))
    links = mapping(payload.get("links"))
    name = document_name(payload)
    title = title_of({**payload, "kind": "incident_closed" if closed else "incident_opened"})
    entry = _base_entry(payload, "incident_closed" if closed else "incident_opened", title)
    since = when(incident.get("opened_at"))
    failures = number(incident.get("failures"))
    if closed:
        until = when(incident.get("closed_at"))
        lasted = _duration(incident.get("opened_at"), incident.get("closed_at"))
        entry.intro = (
            f"Checks of {name} work again since {until} UTC, after failing since {since} UTC"
            f"{f' ({lasted})' if lasted else ''}. Changes made meanwhile are reported as usual."
        )
    else:
        entry.intro = (
            f"policywatch cannot check {name}: {plural(failures, 'check')} in a row failed since "
            f"{since} UTC. No version is recorded while checks fail, so a change made now is not "
            "seen yet; policywatch keeps trying and will say when checks work again."
        )
    entry.facts = [("Document", name), ("Problem", _problem(incident))]
    entry.facts += [("Failing since", f"{since} UTC"), ("Failed checks", str(failures))]
    if line(incident.get("last_error")):
        entry.facts.append(("Last error", line(incident.get("last_error"))))
    entry.link = safe_url(links.get("document")) or entry.document_url
    entry.link_label = "Open the document history"
    return entry


def _duration(start: object, end: object) -> str:
    """ "45 minutes", "3 hours 30 minutes", "2 days 4 hours"; "" when either end is unknown."""
    try:
        minutes = int((_moment(end) - _moment(start)).total_seconds() // 60)
    except (TypeError, ValueError):
        return ""
    if minutes < 0:
        return ""
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        parts = [plural(days, "day"), plural(hours, "hour") if hours else ""]
    elif hours:
        parts = [plural(hours, "hour"), plural(minutes, "minute") if minutes else ""]
    else:
        parts = [plural(minutes, "minute")]
    return " ".join(part for part in parts if part)


def _moment(value: object) -> datetime:
    moment = datetime.fromisoformat(line(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _digest_alerts(digest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        mapping(a) for a in items(digest.get("alerts")) if line(mapping(a).get("kind")) != "digest"
    ]


def _digest_counts(alerts: Sequence[Mapping[str, Any]]) -> str:
    changed = [a for a in alerts if line(a.get("kind")) in _CHANGE_KINDS]
    n = sum(_total(mapping(a.get("change"))) for a in changed)
    documents = {line(mapping(a.get("document")).get("slug")) or document_name(a) for a in changed}
    incidents = sum(1 for a in alerts if line(a.get("kind")) == "incident_opened")
    parts = [
        f"{plural(n, 'change')} in {plural(len(documents), 'document')}" if n else "no changes"
    ]
    if incidents:
        parts.append(plural(incidents, "incident"))
    return ", ".join(parts)


def _digest_title(digest: Mapping[str, Any]) -> str:
    period = line(digest.get("period")) or "periodic"
    return f"{period} digest: {_digest_counts(_digest_alerts(digest))}"


def _digest(payload: Mapping[str, Any], budget: Budget) -> AlertView:
    digest = mapping(payload.get("digest"))
    alerts = _digest_alerts(digest)
    view = AlertView(kind="digest", title=_digest_title(digest))
    span = f" from {when(digest.get('start'))} to {when(digest.get('end'))} UTC"
    view.intro = (
        f"What policywatch saw{span if digest.get('start') else ''}: {_digest_counts(alerts)}."
    )
    view.entries = [e for e in (_entry(a, budget) for a in alerts) if e is not None]
    view.footer = _footer(payload)
    return view


def _footer(payload: Mapping[str, Any]) -> str:
    parts = ["policywatch"]
    if number(payload.get("alert_id")):
        parts.append(f"alert {number(payload.get('alert_id'))}")
    if line(payload.get("created_at")):
        parts.append(f"{when(payload.get('created_at'))} UTC")
    return " · ".join(parts)
