"""Which part of a page is the document: CSS selectors, and ranges from one element to another.

A selector is a CSS selector (soupsieve's dialect) or a `Range`, the form Open Terms Archive
uses to cut a page where no element wraps exactly the document: from before or after the first
element matching `start`, up to before or after the first element matching `end`, in document
order. In `select`, a range is a region; in `remove`, a range is cut out of the page (the
footer that follows a separator inside the main region, up to the end of the body).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import soupsieve
from bs4 import BeautifulSoup
from bs4.element import PageElement, Tag

from monitor.errors import ExtractError


@dataclass(frozen=True, slots=True)
class Range:
    """From `start` to `end` (CSS selectors). `start_after` starts after the start element
    rather than at it; `end_before` ends before the end element rather than after it."""

    start: str
    end: str
    start_after: bool = False
    end_before: bool = False

    def __post_init__(self) -> None:
        check_css(self.start)
        check_css(self.end)

    def __str__(self) -> str:
        start = "after" if self.start_after else "before"
        end = "before" if self.end_before else "after"
        return f"from {start} {self.start!r} to {end} {self.end!r}"

    def to_json(self) -> dict[str, str]:
        start = "start_after" if self.start_after else "start_before"
        end = "end_before" if self.end_before else "end_after"
        return {start: self.start, end: self.end}


Selector = str | Range


def check_css(selector: str) -> str:
    """`selector` if soupsieve can parse it; else ValueError with the reason, in one line."""
    try:
        soupsieve.compile(selector)
    except (soupsieve.SelectorSyntaxError, NotImplementedError) as exc:  # ::pseudo-elements
        reason = str(exc).splitlines()[0]
        raise ValueError(f"invalid CSS selector {selector!r}: {reason}") from exc
    return selector


def css_strings(selectors: Iterable[Selector]) -> list[str]:
    """Every CSS selector the selectors use, ranges' ends included."""
    out: list[str] = []
    for selector in selectors:
        out.extend((selector.start, selector.end) if isinstance(selector, Range) else (selector,))
    return out


def wait_selectors(select: Iterable[Selector]) -> tuple[str, ...]:
    """What a browser waits for before the page counts as rendered: where each region starts."""
    return tuple(s.start if isinstance(s, Range) else s for s in select)


def to_json(selector: Selector) -> str | dict[str, str]:
    return selector.to_json() if isinstance(selector, Range) else selector


def select_regions(soup: BeautifulSoup, select: Sequence[Selector]) -> list[PageElement]:
    """The regions of the page, in document order, none inside another; [] when nothing matched.

    With no selector: `main`, else `[role=main]`, else `body`. A range whose start matches but
    whose end does not is an ExtractError: the page changed shape, and guessing would be worse.
    """
    if not select:
        found = soup.find("main") or soup.find(None, {"role": "main"}) or soup.body or soup
        return [found] if isinstance(found, Tag) else []
    css = [s for s in select if isinstance(s, str)]
    kept: list[PageElement] = []
    seen: set[int] = set()
    for match in soup.select(", ".join(css)) if css else ():
        if not any(id(parent) in seen for parent in match.parents):
            kept.append(match)
        seen.add(id(match))
    ranges = [s for s in select if isinstance(s, Range)]
    if not ranges:
        return kept
    order = _Order(soup)
    for selector in ranges:
        kept.extend(order.span(soup, selector, "select") or ())
    kept.sort(key=order.position)
    outer: list[PageElement] = []
    for node in kept:  # a CSS match inside a range, or ranges that overlap: keep the outer
        if not outer or order.position(node) > order.end(outer[-1]):
            outer.append(node)
    return outer


def cut_ranges(soup: BeautifulSoup, remove: Sequence[Selector]) -> None:
    """Take the `remove` ranges out of the page (CSS selectors in `remove` are left to
    `removed_ids`, as they only need to be skipped)."""
    ranges = [s for s in remove if isinstance(s, Range)]
    if not ranges:
        return
    order = _Order(soup)
    doomed = [node for selector in ranges for node in order.span(soup, selector, "remove") or ()]
    for node in doomed:
        node.extract()


def removed_ids(regions: Iterable[PageElement], remove: Sequence[Selector]) -> set[int]:
    """ids of the elements inside the regions that the CSS selectors of `remove` match."""
    css = [s for s in remove if isinstance(s, str)]
    if not css:
        return set()
    selector = ", ".join(css)
    return {
        id(match)
        for region in regions
        if isinstance(region, Tag)
        for match in region.select(selector)
    }


class _Order:
    """Document order of every node of a page: its position and the position of its last
    descendant, found in one pass without recursion."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.nodes: list[PageElement] = []
        self.last: dict[int, int] = {}
        stack: list[tuple[PageElement, bool]] = [(soup, False)]
        while stack:
            node, done = stack.pop()
            if done:
                self.last[id(node)] = len(self.nodes) - 1
                continue
            self.nodes.append(node)
            if isinstance(node, Tag):
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.contents))
        self.index = {id(node): i for i, node in enumerate(self.nodes)}

    def position(self, node: PageElement) -> int:
        return self.index[id(node)]

    def end(self, node: PageElement) -> int:
        return self.last.get(id(node), self.index[id(node)])

    def span(self, soup: BeautifulSoup, selector: Range, use: str) -> list[PageElement] | None:
        """The outermost nodes wholly inside the range; None when its start matches nothing."""
        start, end = soup.select_one(selector.start), soup.select_one(selector.end)
        if start is None:
            return None
        if end is None:
            raise ExtractError(
                "selector_miss",
                f"the {use} range {selector} found its start but not its end {selector.end!r}",
            )
        first = self.end(start) + 1 if selector.start_after else self.position(start)
        stop = self.position(end) if selector.end_before else self.end(end) + 1
        out: list[PageElement] = []
        i = first
        while i < stop:
            node = self.nodes[i]
            if self.end(node) < stop:
                out.append(node)
                i = self.end(node) + 1
            else:
                i += 1  # the node holds the range's end: go inside it
        return out
