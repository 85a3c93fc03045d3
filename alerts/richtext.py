"""Canonical text made HTML: `[text](https://...)` as a link and a table row (`| a | b |`) as
cells, over a diff's runs (kept, removed, added; topic terms marked), everything escaped.

The canonical text keeps writing links and rows as it does (it is what is diffed and stored);
this is only how the change view and alert emails show it. A link becomes an `<a>` only when its
target is an http(s) URL that one side of the diff wrote whole (a link whose address changed is
shown as the changed words it is), with `rel="noopener noreferrer nofollow"`; any other text,
a `javascript:` link included, stays text. The caller styles the runs (`Style`): the web UI with
its classes, emails with inline styles.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from markupsafe import Markup, escape

LINK = re.compile(r"\[([^\[\]\n]+)\]\((https?://[^\s()<>\[\]]+)\)")
CELL = " | "
ROW_START, ROW_END = "| ", " |"
REL = "noopener noreferrer nofollow"


@dataclass(frozen=True, slots=True)
class Run:
    op: str  # "=" kept, "-" removed, "+" added
    text: str
    mark: bool = False  # a matched topic term


@dataclass(frozen=True, slots=True)
class Style:
    """How runs look: the HTML around removed ("-") and added ("+") words and around marked
    terms, and the attributes of links and tables (`style="..."` for emails, `class="..."` for
    the web). Consecutive words of one kind share one wrapper, closed at link and cell edges."""

    ops: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    mark: tuple[str, str] = ("", "")
    link_attrs: str = ""
    table_attrs: str = ""
    cell_attrs: str = ""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A line as HTML: inline HTML, or for a table row its cells (each inline HTML)."""

    html: Markup
    cells: tuple[Markup, ...] | None = None


def render(runs: Iterable[Run], style: Style, *, row: bool | None = None) -> Rendered:
    """The runs of one canonical line as HTML; `row` None: a row when the text is written as one
    (`| a | b |`)."""
    runs = [r for r in runs if r.text]
    text = "".join(r.text for r in runs)
    starts: list[int] = []
    at = 0
    for r in runs:
        starts.append(at)
        at += len(r.text)
    links = [m for m in LINK.finditer(text) if _whole(m, runs, starts) and _safe(m.group(2))]
    drops: list[tuple[int, int]] = []
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for m in links:
        drops += [(m.start(), m.start(1)), (m.end(1), m.end())]
        href = escape(m.group(2))
        attrs = f" {style.link_attrs}" if style.link_attrs else ""
        opens.setdefault(m.start(1), []).append(f'<a href="{href}" rel="{REL}"{attrs}>')
        closes.setdefault(m.end(1), []).append("</a>")
    is_row = text.startswith(ROW_START) and text.endswith(ROW_END) if row is None else row
    cells: list[tuple[int, int]] = []
    if is_row:
        lo, hi = 0, len(text)
        if text.startswith(ROW_START) and text.endswith(ROW_END) and len(text) >= 4:
            drops += [(0, 2), (len(text) - 2, len(text))]
            lo, hi = 2, len(text) - 2
        inside = [(m.start(), m.end()) for m in links]
        cut = lo
        for sep in re.finditer(re.escape(CELL), text[lo:hi]):
            s, e = sep.start() + lo, sep.end() + lo
            if any(a <= s < b for a, b in inside):
                continue
            cells.append((cut, s))
            drops.append((s, e))
            cut = e
        cells.append((cut, hi))
    html = _emit(runs, starts, len(text), drops, opens, closes, cells, style)
    if not is_row:
        return Rendered(Markup(html[0]))
    cell_html = tuple(Markup(h) for h in html)
    return Rendered(table([cell_html], style), cell_html)


def table(rows: Sequence[Sequence[Markup]], style: Style) -> Markup:
    """Rows of cells as one `<table>`."""
    attrs = f" {style.table_attrs}" if style.table_attrs else ""
    cell = f"<td {style.cell_attrs}>" if style.cell_attrs else "<td>"
    body = "".join("<tr>" + "".join(f"{cell}{c}</td>" for c in r) + "</tr>" for r in rows)
    return Markup(f"<table{attrs}>{body}</table>")


def _emit(
    runs: Sequence[Run],
    starts: Sequence[int],
    length: int,
    drops: Sequence[tuple[int, int]],
    opens: dict[int, list[str]],
    closes: dict[int, list[str]],
    cells: Sequence[tuple[int, int]],
    style: Style,
) -> list[str]:
    """The HTML of each cell (one piece when there are no cells), runs cut at every boundary."""
    cuts = sorted(
        {0, length, *starts, *opens, *closes, *(p for d in drops for p in d)}
        | {p for c in cells for p in c}
    )
    dropped: set[int] = set()
    for a, b in drops:
        dropped.update(range(a, b))
    out: list[str] = []
    for lo, hi in list(cells) or [(0, length)]:
        cell = _Cell(style)
        for a, b in itertools.pairwise(cuts):
            if a < lo or b > hi:
                continue
            if a in closes or a in opens:
                cell.switch("=")
                cell.parts += closes.get(a, []) + opens.get(a, [])
            if a not in dropped:
                i = _index(starts, a)
                cell.switch(runs[i].op)
                piece = str(escape(runs[i].text[a - starts[i] : b - starts[i]]))
                cell.parts.append(piece.join(style.mark) if runs[i].mark else piece)
        cell.switch("=")
        out.append("".join(cell.parts + closes.get(hi, [])))
    return out


class _Cell:
    """The HTML of one cell (or line) being written, and the kind of words open in it."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self.parts: list[str] = []
        self.current = "="

    def switch(self, op: str) -> None:
        if op != self.current:
            self.parts.append(self.style.ops.get(self.current, ("", ""))[1])
            self.parts.append(self.style.ops.get(op, ("", ""))[0])
            self.current = op


def _index(starts: Sequence[int], at: int) -> int:
    """The run holding position `at`."""
    return bisect.bisect_right(starts, at) - 1


def _whole(m: re.Match[str], runs: Sequence[Run], starts: Sequence[int]) -> bool:
    """Whether the link's syntax (`[` and `](address)`) lies in runs of one kind: a link whose
    address changed, or that was put around words that were there, is shown as the diff."""
    positions = [m.start(), *range(m.end(1), m.end())]
    return len({runs[_index(starts, p)].op for p in positions}) == 1


def _safe(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
