"""HTML and plain text -> Document: the extraction step, pure functions with no I/O.

Guards (monitor.extract.guards) refuse a page that is not the document; Markdown is
monitor.extract.markdown's.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from monitor.errors import ExtractError
from monitor.extract.chrome import find_furniture, hidden, visible_regions
from monitor.extract.decode import decode_page
from monitor.extract.document import (
    Document,
    RawBlock,
    bold_heading,
    bold_level,
    clean_text,
    with_paths,
    without_page_navigation,
)
from monitor.extract.guards import guard
from monitor.extract.regions import (
    cut_ranges,
    removed_ids,
    select_regions,
)
from monitor.extract.rules import ExtractRules
from monitor.extract.urls import IN_PAGE, canonical_text_urls, link_target


def normalize_text(text: str) -> Document:
    """Plain text: each blank-line separated paragraph is one block."""
    paragraphs = (clean_text(chunk) for chunk in re.split(r"\n[ \t\r\f\v]*\n", text))
    return Document(with_paths([("paragraph", p, 1) for p in paragraphs if p]))


# ---------------------------------------------------------------- HTML

_DROP_TAGS = frozenset(
    {
        *("script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed"),
        *("form", "button", "input", "select", "textarea", "nav", "aside", "dialog"),
        *("head", "title", "meta", "link", "base"),
    }
)
RAW_TEXT_TAGS = frozenset({"script", "style"})
"""Elements whose text is never content, wherever they are (the fingerprint relies on it)."""
_INLINE_TAGS = frozenset(
    {
        *("a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn"),
        *("em", "font", "i", "ins", "kbd", "label", "mark", "nobr", "q", "rp", "rt", "ruby", "s"),
        *("samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var"),
        *("wbr", "img", "picture", "source", "video", "audio", "canvas", "map", "area", "meter"),
        *("progress", "output", "slot"),
    }
)
_LIST_TAGS = frozenset({"ul", "ol", "menu", "dir"})
_BOLD_TAGS = frozenset({"b", "strong"})
_ALNUM = re.compile(r"[^\W_]")
_LAYOUT_ROLES = frozenset({"presentation", "none"})
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}
_SECTIONING = frozenset({"main", "article", "section"})
_FORM_CONTENT = ["main", "article", "h1"]


class _Exit:
    """A marker on the walk stack: run `action` when the element's subtree is done."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action


@dataclass(slots=True)
class _Link:
    target: str
    start: int
    inpage: bool = False


@dataclass(slots=True)
class _Item:
    depth: int
    emitted: bool = False


class _Walker:
    """Turns element subtrees into raw blocks in one pass over the tree (no per-node get_text)."""

    def __init__(self, base_url: str, skip: AbstractSet[int], shown: AbstractSet[int]) -> None:
        self.base_url = base_url
        self.skip = skip
        self.shown = shown
        self.tables: list[bool] = []  # for each open table: whether it is a layout table
        self.blocks: list[RawBlock] = []
        self.pieces: list[str] = []
        self.items: list[_Item] = []
        self.heading = 0
        self.list_depth = 0
        self.sectioned = 0
        self.flat = 0  # > 0 inside a heading: block edges become spaces
        self.pre = 0
        self.link: _Link | None = None
        self.cells: list[str] | None = None
        self.cell_start: int | None = None
        # Whole-block marks: text under <b>/<strong> (a bold line is a heading by convention)
        # and text of links within the page (a table of contents repeats the headings).
        self.marking = 0  # open <b>, <strong> and in-page links
        self.bold = 0
        self.bold_chars = 0
        self.inpage_chars = 0
        self.real_level = 0  # level of the last h1-h6 or role=heading
        self.contents_entries: list[int] = []  # blocks that are wholly an in-page link

    def walk(self, root: PageElement) -> None:
        if not isinstance(root, Tag):  # a range that starts or ends inside a text
            if type(root) is NavigableString:
                self.pieces.append(root)
            return
        if root.name in RAW_TEXT_TAGS:  # a selector that matched a script: never content
            return
        self.sectioned = int(root.name in _SECTIONING or root.get("role") == "main")
        self._flush()
        stack: list[PageElement | _Exit] = []
        self._enter(root, stack)
        pop, append = stack.pop, self.pieces.append
        # The hot loop of extraction: exact type checks first, as nearly every node is plain text
        # or a Tag.
        while stack:
            node = pop()
            if type(node) is NavigableString:
                if self.pre:
                    self._text(node)
                else:
                    append(node)
                if self.marking:
                    self._mark(node)
            elif type(node) is _Exit:
                node.action()
            elif isinstance(node, Tag):
                if not self._dropped(node):
                    self._enter(node, stack)
            elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
                self._text(node)
        self._flush()

    def _dropped(self, tag: Tag) -> bool:
        name = tag.name
        if name in _DROP_TAGS:
            return not self._exempt(tag)
        if id(tag) in self.skip or (name in ("header", "footer") and not self.sectioned):
            return True
        attrs = tag.attrs
        return bool(attrs) and hidden(attrs) and id(tag) not in self.shown

    def _exempt(self, tag: Tag) -> bool:
        """Chrome tags that hold the document on some sites: accordion headings are buttons, and
        some server frameworks wrap the whole page in one <form>."""
        if tag.name == "button":
            return bool(self.heading)
        return tag.name == "form" and tag.find(_FORM_CONTENT) is not None

    def _enter(self, tag: Tag, stack: list[PageElement | _Exit]) -> None:
        name = tag.name
        if name == "br":
            self._break()
            return
        if name in _INLINE_TAGS:
            if name == "a" and self.link is None and isinstance(href := tag.get("href"), str):
                self._open_link(href, stack)
            elif name in _BOLD_TAGS:
                self._open_bold(stack)
            stack.extend(reversed(tag.contents))
            return
        if self.cells is not None or (self.flat and not _is_heading(tag)):
            self._enter_flat(name, stack)
        else:
            self._flush()
            stack.append(_Exit(self._block_exit(tag)))
        stack.extend(reversed(tag.contents))

    def _block_exit(self, tag: Tag) -> Callable[[], None]:
        """Open the block contexts `tag` starts; return what closes them."""
        name = tag.name
        level = _HEADING_TAGS.get(name) or _aria_heading(tag)
        if level:
            self.flat += 1
            self.heading = level
            return self._close_heading
        if name == "li":
            self.items.append(_Item(max(1, self.list_depth)))
            return self._close_item
        if name == "table":
            self.tables.append(layout_table(tag))
            return self._close_table
        if name == "tr" and not (self.tables and self.tables[-1]):
            self.cells = []
            return self._close_row
        counters = (
            int(name in _LIST_TAGS),
            int(name in _SECTIONING),
            int(name == "pre"),
        )
        self.list_depth += counters[0]
        self.sectioned += counters[1]
        self.pre += counters[2]

        def close() -> None:
            self._flush()
            self.list_depth -= counters[0]
            self.sectioned -= counters[1]
            self.pre -= counters[2]

        return close

    def _enter_flat(self, name: str, stack: list[PageElement | _Exit]) -> None:
        """Inside a heading or a table row, block edges are only spaces."""
        if name in ("td", "th") and self.cells is not None and self.cell_start is None:
            self.cell_start = len(self.pieces)
            stack.append(_Exit(self._close_cell))
        else:
            self.pieces.append(" ")
            stack.append(_Exit(lambda: self.pieces.append(" ")))

    def _close_heading(self) -> None:
        self._flush()
        self.flat -= 1
        # A heading inside a heading ends the outer one, as a browser's parser does: the text
        # after the inner heading is no heading at all.
        self.real_level = self.heading or self.real_level
        self.heading = 0

    def _close_table(self) -> None:
        self._flush()
        self.tables.pop()

    def _open_bold(self, stack: list[PageElement | _Exit]) -> None:
        self.bold += 1
        self.marking += 1

        def close() -> None:
            self.bold -= 1
            self.marking -= 1

        stack.append(_Exit(close))

    def _mark(self, text: str) -> None:
        chars = sum(map(len, text.split()))
        if self.bold:
            self.bold_chars += chars
        if self.link is not None and self.link.inpage:
            self.inpage_chars += chars

    def _close_item(self) -> None:
        self._flush()
        self.items.pop()

    def _close_cell(self) -> None:
        self._end_link_segment()
        start = self.cell_start or 0
        if self.cells is not None:
            cell = clean_text("".join(self.pieces[start:]))
            self.cells.append(canonical_text_urls(cell, self.base_url))
        del self.pieces[start:]
        self.cell_start = None
        if self.link is not None:
            self.link.start = len(self.pieces)

    def _close_row(self) -> None:
        cells, self.cells = self.cells or [], None
        self.pieces.clear()
        if any(cells):
            self.blocks.append(("row", " | ".join(cells), 1))

    def _text(self, text: str) -> None:
        if self.pre and "\n" in text and not self.flat and self.cells is None:
            first, *rest = text.split("\n")
            self.pieces.append(first)
            for line in rest:
                self._flush()
                self.pieces.append(line)
        else:
            self.pieces.append(text)

    def _break(self) -> None:
        # A <br> separates settings steps and address lines: a block of its own reads and diffs
        # better than one long run-on line. Inside headings and table cells it is a space.
        if self.flat or self.cells is not None:
            self.pieces.append(" ")
        else:
            self._flush()

    def _open_link(self, href: str, stack: list[PageElement | _Exit]) -> None:
        target = link_target(href, self.base_url)
        inpage = target == IN_PAGE
        if inpage:
            target = ""  # a same-page anchor: the words are content, the jump is not
            self.marking += 1
        link = self.link = _Link(target, len(self.pieces), inpage)

        def close() -> None:
            self._end_link_segment()
            if self.link is link:
                self.link = None
            if inpage:
                self.marking -= 1

        stack.append(_Exit(close))

    def _end_link_segment(self) -> None:
        """Wrap the pieces since the link opened as `[anchor](target)`."""
        link = self.link
        if link is None:
            return
        raw = "".join(self.pieces[link.start :])
        anchor = clean_text(raw)
        if anchor and link.target:
            lead = " " if raw[:1].isspace() else ""
            trail = " " if raw[-1:].isspace() else ""
            self.pieces[link.start :] = [f"{lead}[{anchor}]({link.target}){trail}"]
        link.start = len(self.pieces)

    def _flush(self) -> None:
        if self.cells is not None or not self.pieces:
            return
        self._end_link_segment()
        text = canonical_text_urls(clean_text("".join(self.pieces)), self.base_url)
        self.pieces.clear()
        if self.link is not None:
            self.link.start = 0
        bold, inpage = self.bold_chars, self.inpage_chars
        self.bold_chars = self.inpage_chars = 0
        if not _ALNUM.search(text):
            return  # an icon, a bullet or a rule drawn in characters: decoration
        chars = sum(map(len, text.split()))
        if inpage >= chars:
            self.contents_entries.append(len(self.blocks))
        if self.heading:
            self.blocks.append(("heading", text, self.heading))
        elif self.items and not self.items[-1].emitted:
            self.items[-1].emitted = True
            self.blocks.append(("item", text, self.items[-1].depth))
        elif bold >= chars and bold_heading(text):
            self.blocks.append(("heading", text, bold_level(self.real_level)))
        else:
            self.blocks.append(("paragraph", text, 1))

    def document_blocks(self) -> list[RawBlock]:
        return without_page_navigation(self.blocks, self.contents_entries)


def layout_table(table: Tag) -> bool:
    """A table that lays the page out rather than holding data: role presentation or none, or a
    single column (no row has two cells). Its rows and cells are unwrapped, never flattened."""
    if table.get("role") in _LAYOUT_ROLES:
        return True
    for part in table.contents:
        if not isinstance(part, Tag):
            continue
        rows = [part] if part.name == "tr" else [r for r in part.contents if isinstance(r, Tag)]
        for row in rows:
            cells = (c for c in row.contents if isinstance(c, Tag) and c.name in ("td", "th"))
            if row.name == "tr" and sum(1 for _ in cells) > 1:
                return False
    return True


def _is_heading(tag: Tag) -> bool:
    return tag.name in _HEADING_TAGS or tag.get("role") == "heading"


def _aria_heading(tag: Tag) -> int:
    if tag.get("role") != "heading":
        return 0
    level = str(tag.get("aria-level", "2"))
    return min(max(int(level), 1), 6) if level.isdigit() else 2


def _walk(
    regions: Iterable[PageElement],
    base_url: str,
    skip: AbstractSet[int],
    shown: AbstractSet[int],
) -> list[RawBlock]:
    walker = _Walker(base_url, skip, shown)
    for region in regions:
        walker.walk(region)
    return walker.document_blocks()


def normalize_html(
    html: str | bytes,
    rules: ExtractRules,
    *,
    base_url: str,
    encoding: str | None = None,
    guarded: bool = True,
) -> Document:
    """Extract the document from a page, or raise ExtractError saying why the page is not it.

    The region is every `rules.select` match (else `main`, `[role=main]`, `body`) minus `remove`.
    Inside it, chrome is dropped: scripts, forms, buttons, nav, aside, dialogs, consent banners,
    hidden elements, and header/footer unless they belong to a main, article or section. Each
    <br> outside headings and table cells ends a block (settings steps read one per line).
    Guards, in order: challenge, login_wall, empty_shell, too_short (none when not `guarded`:
    `compare` reads a wall's text to say what it would have replaced).
    """
    text = decode_page(html, encoding) if isinstance(html, bytes) else html
    with warnings.catch_warnings():  # a page that opens with <?xml ...?> is still HTML to us
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(text, "lxml", multi_valued_attributes=None)
    title_tag = soup.head.find("title") if soup.head else None  # not an <svg><title> icon
    title = clean_text(title_tag.get_text()) if title_tag else ""
    cut_ranges(soup, rules.remove)
    regions = visible_regions(select_regions(soup, rules.select))
    if not regions:
        # A wall or a shell explains a miss better than the selector does.
        page = Document(with_paths(_walk([soup.body or soup], base_url, set(), set())), title)
        if guarded:
            guard(page, soup, min_chars=0)
        selectors = ", ".join(map(str, rules.select))
        raise ExtractError("selector_miss", f"selector {selectors!r} matched nothing on the page")
    skip, shown = removed_ids(regions, rules.remove), set[int]()
    for region in regions:
        if not isinstance(region, Tag):
            continue
        furniture = find_furniture(region)
        skip |= furniture.skip
        shown |= furniture.shown
    doc = Document(with_paths(_walk(regions, base_url, skip, shown)), title)
    if guarded:
        guard(doc, soup, min_chars=rules.min_chars)
    return doc
