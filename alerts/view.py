"""An alert payload (policywatch.alert/1) read into a small, clean view model that every renderer
(email text and HTML, Slack, Discord) lays out: hostile strings flattened, long alerts capped."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

_WHERE = {
    "added": "in the added words",
    "removed": "in the removed words",
    "context": "in the surrounding sentence",
    "heading": "in the heading of its section",
}
_KIND_LABELS = {"added": "Added", "removed": "Removed", "modified": "Changed", "moved": "Moved"}
# Control characters, line/paragraph separators and bidi overrides: in a header they inject
# lines, in a body they fake lines or reorder what the reader sees.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BOUNDARY = re.compile(r"(?<=[.!?;])\s+")
SUBJECT_PREFIX = "[policywatch] "
PATH_SEPARATOR = " \u203a "  # between the headings of a section path
SUBJECT_LIMIT = 180
SEGMENT_CAP = 1200  # one inserted or deleted run
CONTEXT_CAP = 400  # unchanged words kept around a change


@dataclass
class Budget:
    """How much of a long alert is shown: a number of changes and of characters, shared by the
    entries of a digest."""

    changes: int = 20
    chars: int = 30_000

    def take(self, cost: int) -> bool:
        if self.changes <= 0 or self.chars <= 0:
            return False
        self.changes -= 1
        self.chars -= cost
        return True


@dataclass(frozen=True)
class Segment:
    op: str  # "=" kept, "-" removed, "+" added
    text: str


@dataclass(frozen=True)
class ChangeView:
    label: str
    segments: tuple[Segment, ...]
    evidence: tuple[str, ...]
    row: bool = False  # a table row of the canonical text (`| a | b |`)


@dataclass
class SectionView:
    heading: str
    changes: list[ChangeView] = field(default_factory=list)


@dataclass(frozen=True)
class TopicView:
    label: str
    terms: tuple[str, ...]


@dataclass
class EntryView:
    """One reported event: a change, an incident opening or closing."""

    kind: str
    title: str
    document: str
    document_url: str
    intro: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    topics: list[TopicView] = field(default_factory=list)
    significance: str = ""
    sections: list[SectionView] = field(default_factory=list)
    shown: int = 0
    more: int = 0
    link: str = ""
    link_label: str = ""


@dataclass
class AlertView:
    kind: str
    title: str
    intro: str = ""
    entries: list[EntryView] = field(default_factory=list)
    footer: str = ""


def clean(value: object) -> str:
    """A payload string with its unsafe characters made spaces (non-strings become "")."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return _UNSAFE.sub(" ", str(value))


def line(value: object) -> str:
    """A payload string on one line, whitespace collapsed: names, errors, headings."""
    return " ".join(clean(value).split())


def safe_url(value: object) -> str:
    """The URL when it is http(s), else "": a `javascript:` link must never become an href."""
    url = line(value)
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def topic_label(name: object) -> str:
    """A topic as the config names it (`ai-training`, `behavioral-data`): one spelling in the
    config, the web, the alerts and the API."""
    return line(name)


def when(value: object) -> str:
    """An ISO timestamp as "2026-11-23 09:00" in UTC; unparseable text is shown as it came."""
    text = line(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def join_words(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _shorten_start(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-(limit - 1) :]
    space = cut.find(" ")
    if 0 <= space < limit // 2:
        cut = cut[space + 1 :]
    return "…" + cut.lstrip()


def segments_of(change: Mapping[str, Any]) -> tuple[Segment, ...]:
    """The change as kept / removed / added runs, trimmed to the sentences that changed."""
    raw = [
        Segment(clean(s[0]), clean(s[1]))
        for s in items(change.get("spans"))
        if isinstance(s, list | tuple) and len(s) == 2 and s[0] in ("=", "-", "+")
    ]
    if not raw:
        before, after = clean(change.get("before")), clean(change.get("after"))
        ops = {"added": [("+", after)], "removed": [("-", before)], "moved": [("=", after)]}
        pairs = ops.get(line(change.get("kind")), [("-", before), ("+", after)])
        raw = [Segment(op, text) for op, text in pairs if text]
    last = len(raw) - 1
    return tuple(
        _trim(segment, after_change=i > 0, before_change=i < last) for i, segment in enumerate(raw)
    )


def _trim(segment: Segment, *, after_change: bool, before_change: bool) -> Segment:
    text = segment.text
    if segment.op != "=" or not (after_change or before_change):
        return Segment(segment.op, shorten(text, SEGMENT_CAP))
    bounds = list(_BOUNDARY.finditer(text))
    head = text[: bounds[0].start()] if bounds else text
    tail = text[bounds[-1].end() :] if bounds else text
    if after_change and before_change:
        if len(bounds) < 2:
            return Segment("=", shorten(text, 2 * CONTEXT_CAP))
        kept = shorten(head, CONTEXT_CAP) + " … " + _shorten_start(tail, CONTEXT_CAP)
    elif after_change:
        kept = shorten(head, CONTEXT_CAP) + (" …" if bounds else "")
    else:
        kept = ("… " if bounds else "") + _shorten_start(tail, CONTEXT_CAP)
    return Segment("=", kept)


def evidence_of(change: Mapping[str, Any]) -> tuple[str, ...]:
    """One line per matched term: `ai-training: "train" in the added words`."""
    out: list[str] = []
    for item in items(change.get("topics")):
        evidence = mapping(item)
        where_key = line(evidence.get("where"))
        if where_key == "document":
            text = f"{topic_label(evidence.get('topic'))}: what the whole document is about"
        else:
            where = _WHERE.get(where_key, "in the surrounding sentence")
            text = f'{topic_label(evidence.get("topic"))}: "{line(evidence.get("term"))}" {where}'
        if text not in out:
            out.append(text)
    return tuple(out)


def change_view(change: Mapping[str, Any]) -> ChangeView:
    label = _KIND_LABELS.get(line(change.get("kind")), "Changed")
    whole = clean(change.get("after") or change.get("before"))
    row = whole.startswith("| ") and whole.endswith(" |")
    return ChangeView(label, segments_of(change), evidence_of(change), row)


def cost(view: ChangeView) -> int:
    return sum(len(s.text) for s in view.segments) + sum(len(e) for e in view.evidence)


def sections_of(changes: Sequence[Any], budget: Budget) -> tuple[list[SectionView], int]:
    """Consecutive changes grouped by heading path, as many as the budget allows."""
    sections: list[SectionView] = []
    shown = 0
    for item in changes:
        change = mapping(item)
        view = change_view(change)
        if not budget.take(cost(view)):
            break
        path = [line(part) for part in items(change.get("section")) if line(part)]
        heading = PATH_SEPARATOR.join(path) or "(top of the document)"
        if not sections or sections[-1].heading != heading:
            sections.append(SectionView(heading))
        sections[-1].changes.append(view)
        shown += 1
    return sections, shown


def topics_of(change: Mapping[str, Any]) -> list[TopicView]:
    """The alert's topics, each with the terms that matched it anywhere in the change."""
    terms: dict[str, list[str]] = {}
    for item in items(change.get("changes")):
        for evidence in map(mapping, items(mapping(item).get("topics"))):
            found = terms.setdefault(line(evidence.get("topic")), [])
            term = line(evidence.get("term"))
            if term and term not in found:
                found.append(term)
    names = [line(name) for name in items(change.get("topics")) if line(name)]
    return [TopicView(topic_label(name), tuple(terms.get(name, ())[:6])) for name in names]


def header_safe(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """`text` fit for a mail header: control characters and line breaks made spaces, capped."""
    return shorten(line(text), limit)


def summary_of(view: AlertView) -> str:
    """The one line a chat notification or webhook shows: the subject and the main link."""
    link = next((entry.link for entry in view.entries if entry.link), "")
    subject = header_safe(SUBJECT_PREFIX + view.title)
    return f"{subject} {link}" if link else subject
