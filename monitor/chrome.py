"""Site furniture found by the page's shape, not by its words or class names.

A region (`main`, `[role=main]`, a selected element) often holds more than the document: the
site's footer after a separator, a language picker, a breadcrumb, "related articles", a
"was this helpful?" widget. They sit beside the document, not inside it. So extraction follows
the region's *spine*: from the region down through each child that holds nearly all of its
parent's text (DOMINANT), stopping where the text divides between several children (the
document's own sections). The children left beside the spine are *peripheral*; a peripheral
element is furniture when it has no prose of its own (only links and short labels: link lists,
breadcrumbs, language pickers), when it is a short question followed by short choices (a
feedback widget), or when it is a copyright line. A dated line, a heading of the page's title
(`h1`) and any sentence keep a peripheral element in the document.

The spine also tells which hidden-looking wrappers hold the document: a page that hides its
whole body until a script runs (`style="visibility: hidden"` against a flash of unstyled
content) is shown as a browser shows it once the script ran.

Everything here reads only the tree's text, element names, links and `hidden()` verdicts, the
things the extraction fingerprint hashes (monitor.fingerprint).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, Tag

DOMINANT = 0.85
"""A child holding at least this share of its parent's text is where the document continues."""

_UNCOUNTED = frozenset({"script", "style", "noscript", "template", "svg", "math", "head"})
_INLINE = frozenset(
    {
        *("a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font"),
        *("i", "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strong"),
        *("sub", "sup", "time", "u", "var", "wbr", "img", "picture"),
    }
)
_PROSE_WORDS = 4  # a run of this many words outside a link is a sentence, not a label
_QUESTION_WORDS = 12
_QUESTION_ENDS = ("?", "\uff1f", "\u061f")  # ? in Latin, CJK full width and Arabic scripts
_COPYRIGHT_CHARS = 200
_DIGIT = re.compile(r"\d")
_WORDLIKE = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class Furniture:
    """What the walker skips (`skip`) and which hidden-looking elements it shows (`shown`)."""

    skip: frozenset[int]
    shown: frozenset[int]


def find_furniture(region: Tag) -> Furniture:
    """The furniture beside the spine of `region`, and the spine's hidden-looking wrappers."""
    sizes = text_sizes(region)
    skip: set[int] = set()
    shown: set[int] = set()
    node = region
    while True:
        kids = [c for c in node.contents if isinstance(c, Tag) and sizes.get(id(c), 0) > 0]
        if not kids:
            break
        big = max(kids, key=lambda kid: sizes[id(kid)])
        if sizes[id(big)] < DOMINANT * sizes[id(node)]:
            break
        skip.update(id(kid) for kid in kids if kid is not big and is_furniture(kid))
        shown.add(id(big))
        node = big
    return Furniture(frozenset(skip), frozenset(shown))


def text_sizes(root: Tag) -> dict[int, int]:
    """id(element) -> characters of text under it (whitespace runs count as one), for every
    element under `root`, in one pass without recursion (a page may nest thousands deep)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Tag, bool]] = [(root, False)]
    while stack:
        tag, done = stack.pop()
        if done:
            total = 0
            for child in tag.contents:
                if type(child) is NavigableString:
                    total += len(child.strip())
                elif isinstance(child, Tag):
                    total += sizes.get(id(child), 0)
            sizes[id(tag)] = total
            continue
        stack.append((tag, True))
        stack.extend(
            (child, False)
            for child in tag.contents
            if isinstance(child, Tag) and child.name not in _UNCOUNTED
        )
    return sizes


def is_furniture(element: Tag) -> bool:
    """Whether a peripheral element is site furniture rather than part of the document."""
    if element.find("h1") is not None:
        return False  # the page's title block
    runs = [(run, linked) for run, linked in text_runs(element) if _WORDLIKE.search(run)]
    copyright = [run for run, _ in runs if "\u00a9" in run and len(run) <= _COPYRIGHT_CHARS]
    if copyright:  # "© 2025 Company": the rest decides
        runs = [(run, linked) for run, linked in runs if run not in copyright]
        if not runs:
            return True
    if not runs:
        return False
    text = " ".join(run for run, _ in runs)
    loose = [run for run, linked in runs if not linked]
    if any(_DIGIT.search(run) for run in loose):
        return False  # an effective date, a version number: content
    prose = [run for run in loose if len(run.split()) >= _PROSE_WORDS]
    links = len(runs) - len(loose)
    if not prose:
        lone_link = len(runs) == 1 and links == 1 and len(text.split()) <= _PROSE_WORDS
        return links >= 2 or lone_link or len(runs) >= 3
    question = prose[0]
    return (
        len(prose) == 1
        and question.endswith(_QUESTION_ENDS)
        and len(question.split()) <= _QUESTION_WORDS
        and len(runs) >= 3
    )


def text_runs(element: Tag) -> Iterator[tuple[str, bool]]:
    """The element's text as runs (text between block edges and link edges), each with whether
    it is a link's text."""
    pieces: list[str] = []
    linked = False
    stack: list[PageElement | bool] = [element]
    while stack:
        node = stack.pop()
        if isinstance(node, bool):  # leaving a link (True) or a block (False)
            if pieces and (run := " ".join("".join(pieces).split())):
                yield run, linked
            pieces.clear()
            linked = False if node else linked
            continue
        if type(node) is NavigableString:
            pieces.append(node)
            continue
        if not isinstance(node, Tag) or node.name in _UNCOUNTED:
            continue
        is_link = node.name == "a" and bool(str(node.get("href") or "").strip("# "))
        if is_link or node.name not in _INLINE:
            if pieces and (run := " ".join("".join(pieces).split())):
                yield run, linked
            pieces.clear()
            linked = linked or is_link
            stack.append(is_link)
        stack.extend(reversed(node.contents))
    if pieces and (run := " ".join("".join(pieces).split())):
        yield run, linked
