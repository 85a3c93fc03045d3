"""What the templates show, shaped from stored values: change sets grouped by section with word
spans and topic terms marked, times, chips, links and table rows made HTML (alerts.richtext).
Pure functions; the templates escape every string, and richtext escapes what it makes markup.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from alerts import richtext
from monitor.extract.document import parse_line
from storage.search import Occurrence
from storage.vocab import SIGNIFICANCE_LEVELS

SIGNIFICANCES = SIGNIFICANCE_LEVELS
KIND_LABELS = {"added": "Added", "removed": "Removed", "modified": "Changed", "moved": "Moved"}
BLOCK_LABELS = {"heading": "heading", "paragraph": "paragraph", "item": "list item", "row": "row"}
CHIP_COLOURS = 6


@dataclass(frozen=True, slots=True)
class Seg:
    """A run of text, marked when it is a matched topic term."""

    text: str
    mark: bool = False


@dataclass(frozen=True, slots=True)
class SpanView:
    op: str  # "=", "-", "+"
    segs: list[Seg]


@dataclass(frozen=True, slots=True)
class Reason:
    """A topic a sentence carries: where its words are (added, removed, context) and which."""

    topic: str
    where: str
    terms: list[str]


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """One sentence of evidence, its matched terms marked, with every topic it carries."""

    sentence: list[Seg]
    reasons: list[Reason]


@dataclass(frozen=True, slots=True)
class ChangeView:
    number: int  # 1-based, over the whole change set: the anchor #c<number>
    kind: str
    block: str
    significance: str
    flags: list[str]
    topics: list[str]
    spans: list[SpanView]
    evidence: list[EvidenceView]

    @property
    def before(self) -> list[SpanView]:
        return [s for s in self.spans if s.op != "+"]

    @property
    def after(self) -> list[SpanView]:
        return [s for s in self.spans if s.op != "-"]


@dataclass(slots=True)
class SectionView:
    path: list[str]
    changes: list[ChangeView] = field(default_factory=list)

    @property
    def title(self) -> str:
        return " › ".join(self.path) if self.path else "Top of the page"


def sections(
    changeset: list[dict[str, Any]], start: int = 0, stop: int | None = None
) -> list[SectionView]:
    """Changes start..stop of a stored change set, consecutive ones with the same heading path
    grouped under it."""
    out: list[SectionView] = []
    for index in range(start, min(stop if stop is not None else len(changeset), len(changeset))):
        change = change_view(index + 1, changeset[index])
        path = [str(p) for p in changeset[index].get("section") or []]
        if not out or out[-1].path != path:
            out.append(SectionView(path))
        out[-1].changes.append(change)
    return out


def change_view(number: int, item: dict[str, Any]) -> ChangeView:
    evidence = item.get("topics") or []
    terms = sorted({str(e.get("term", "")) for e in evidence if e.get("term")}, key=len)[::-1]
    marker = _terms_regex(terms)
    line = item.get("after") if item.get("after") is not None else item.get("before")
    block = parse_line(str(line))[0] if line is not None else "paragraph"
    return ChangeView(
        number=number,
        kind=str(item.get("kind", "modified")),
        block=BLOCK_LABELS.get(block, block),
        significance=significance(item.get("significance")),
        flags=[str(f) for f in item.get("flags") or []],
        topics=list(dict.fromkeys(str(e.get("topic", "")) for e in evidence)),
        spans=[
            SpanView(str(op), mark(str(words), marker)) for op, words in item.get("spans") or []
        ],
        evidence=evidence_views(evidence),
    )


def evidence_views(evidence: list[dict[str, Any]]) -> list[EvidenceView]:
    """Evidence grouped by sentence (one sentence often carries several terms and topics)."""
    by_sentence: dict[str, dict[tuple[str, str], list[str]]] = {}
    for e in evidence:
        reasons = by_sentence.setdefault(str(e.get("sentence", "")), {})
        terms = reasons.setdefault((str(e.get("topic", "")), str(e.get("where", ""))), [])
        if str(e.get("term", "")) not in terms:
            terms.append(str(e.get("term", "")))
    return [
        EvidenceView(
            mark(sentence, _terms_regex([t for terms in reasons.values() for t in terms])),
            [Reason(topic, where, terms) for (topic, where), terms in reasons.items()],
        )
        for sentence, reasons in by_sentence.items()
    ]


def mark(text: str, marker: re.Pattern[str] | None) -> list[Seg]:
    """`text` cut into runs, the matches of `marker` marked."""
    if marker is None or not text:
        return [Seg(text)]
    out: list[Seg] = []
    pos = 0
    for match in marker.finditer(text):
        if match.start() > pos:
            out.append(Seg(text[pos : match.start()]))
        out.append(Seg(match.group(0), True))
        pos = match.end()
    if pos < len(text):
        out.append(Seg(text[pos:]))
    return out


def excerpt(line: str, marker: re.Pattern[str] | None, width: int = 320) -> list[Seg]:
    """A canonical line as prose (no list or heading marker), cut to about `width` characters
    around the first match, matches marked."""
    text = parse_line(line)[1]
    found = marker.search(text) if marker is not None else None
    if len(text) > width:
        start = max(0, (found.start() if found else 0) - width // 3)
        end = min(len(text), start + width)
        cut = text[start:end]
        text = ("… " if start else "") + cut + (" …" if end < len(text) else "")
    return mark(text, marker)


def _terms_regex(terms: list[str]) -> re.Pattern[str] | None:
    words = [t for t in terms if t.strip()]
    if not words:
        return None
    body = "|".join(re.escape(t) for t in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.I)


def significance(value: object) -> str:
    """A known significance level, or "unknown" (never a class name made of stored text)."""
    return value if isinstance(value, str) and value in SIGNIFICANCES else "unknown"


def chip_colour(topic: str) -> int:
    """A stable colour slot for a topic name, so a topic looks the same on every page."""
    return zlib.crc32(topic.encode("utf-8")) % CHIP_COLOURS


def when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def ago(value: datetime | None, now: datetime) -> str:
    """ "3 hours ago", "2 days ago": how long before `now`."""
    if value is None:
        return ""
    seconds = (now - value).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def until(value: datetime | None, now: datetime) -> str:
    """ "in 3 hours", "in 5 minutes": how long after `now`; "due now" when it is past."""
    seconds = (value - now).total_seconds() if value is not None else 0.0
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return "in less than a minute" if seconds > 0 else "due now"


@dataclass(frozen=True, slots=True)
class LineView:
    """One canonical line of a version, as the version page shows it."""

    kind: str
    text: str
    level: int


def lines(text: str) -> list[LineView]:
    return [LineView(*parse_line(line)) for line in text.split("\n") if line]


CHART_WIDTH, CHART_HEIGHT = 600, 48


@dataclass(frozen=True, slots=True)
class Bar:
    """One step of a phrase's timeline chart: from its version until the next step."""

    x: float
    width: float
    y: float
    height: float
    count: int
    version: int
    at: datetime


def timeline_bars(timeline: list[Occurrence]) -> list[Bar]:
    """A step chart of occurrences over time (search.Occurrence items, oldest first), laid out
    on a CHART_WIDTH x CHART_HEIGHT SVG: x follows dates, the last step runs to the edge."""
    if not timeline:
        return []
    top = max(item.count for item in timeline) or 1
    start, end = timeline[0].at, timeline[-1].at
    span = (end - start).total_seconds()
    room = CHART_WIDTH * (0.9 if len(timeline) > 1 else 0.0)

    def x_of(index: int) -> float:
        if span <= 0:
            return room * index / max(len(timeline) - 1, 1)
        return room * (timeline[index].at - start).total_seconds() / span

    bars = []
    for index, item in enumerate(timeline):
        x = x_of(index)
        right = x_of(index + 1) if index + 1 < len(timeline) else CHART_WIDTH
        height = (CHART_HEIGHT - 4) * item.count / top
        bars.append(
            Bar(
                round(x, 1),
                round(max(right - x, 1.0), 1),
                round(CHART_HEIGHT - height, 1),
                round(height, 1),
                item.count,
                item.version,
                item.at,
            )
        )
    return bars


@dataclass(frozen=True, slots=True)
class TextBlock:
    """What the version page shows for consecutive lines: one line, or a table of rows."""

    kind: str
    level: int
    html: Markup


def blocks(text: str) -> list[TextBlock]:
    """The lines of a version with links made links, consecutive rows gathered in one table."""
    out: list[TextBlock] = []
    rows: list[tuple[Markup, ...]] = []
    for line in lines(text):
        if line.kind == "row":
            rows.append(richtext.render([richtext.Run("=", line.text)], WEB, row=True).cells or ())
            continue
        if rows:
            out.append(TextBlock("table", 1, richtext.table(rows, WEB)))
            rows = []
        out.append(TextBlock(line.kind, line.level, rich_line(line.text)))
    if rows:
        out.append(TextBlock("table", 1, richtext.table(rows, WEB)))
    return out


def rich_line(text: str) -> Markup:
    return richtext.render([richtext.Run("=", text)], WEB, row=False).html


def rich_spans(spans: list[SpanView], block: str) -> Markup:
    """A change's word spans as HTML: links as links, a table row as a table (alerts.richtext)."""
    runs = [richtext.Run(sp.op, seg.text, seg.mark) for sp in spans for seg in sp.segs]
    return richtext.render(runs, WEB, row=block == BLOCK_LABELS["row"]).html


WEB = richtext.Style(
    ops={
        "+": ('<ins><span class="sr">[added: </span>', '<span class="sr">]</span></ins>'),
        "-": ('<del><span class="sr">[removed: </span>', '<span class="sr">]</span></del>'),
    },
    mark=("<mark>", "</mark>"),
    table_attrs='class="cells"',
)
