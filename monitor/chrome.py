"""What in a page is not the document: hidden elements, and site furniture found by shape.

`hidden()` judges an element by its attributes alone: hidden, display:none, a modal, a
navigation or banner landmark, a cookie-consent container.

Site furniture is found by the page's shape, not by its words or class names. A region
(`main`, `[role=main]`, a selected element) often holds more than the document: the site's
footer after a separator, a language picker, a breadcrumb, "related articles", a "was this
helpful?" widget. They sit beside the document, not inside it. So extraction follows the
region's *spine*: from the region down through each child that holds nearly all of its
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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, Tag

from monitor.urls import link_target

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


_DROP_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "dialog", "alertdialog", "search"}
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_BANNER_WORDS = "banner|notice|bar|popup|pop-up|modal|overlay|dialog|prompt|manager|wall|layer"
# A policy's own "Cookies" or "Consent" section must survive, so the word alone is not enough.
_CONSENT_ID = re.compile(
    rf"(?:cookie|consent|gdpr|cmp)[\w-]*?(?:{_BANNER_WORDS}|consent)"
    rf"|(?:{_BANNER_WORDS})[\w-]*?(?:cookie|consent)|onetrust|cookiebot|didomi|usercentrics",
    re.I,
)
_CONSENT_HINT = re.compile("cookie|consent|gdpr|cmp|onetrust|didomi|usercentrics")
_CONSENT_LABEL = re.compile(
    r"\b(?:allow|accept|use of|manage|about)\b[^.]{0,40}\bcookies\b"
    r"|\bcookie (?:banner|notice|consent)|\bconsent (?:banner|dialog|notice)",
    re.I,
)


def hidden(attrs: Mapping[str, object]) -> bool:
    """Hidden, navigation-like, modal or consent elements, judged by attributes alone."""
    if attrs.get("hidden") not in (None, "until-found"):
        return True
    # aria-hidden is not here: it hides from screen readers only, and pages put visible text
    # under it (a link's label repeated in its aria-label).
    if attrs.get("aria-modal") == "true":
        return True
    style = attrs.get("style")
    if isinstance(style, str) and _HIDDEN_STYLE.search(style):
        return True
    if attrs.get("role") in _DROP_ROLES:
        return True
    names = f"{attrs.get('id', '')} {attrs.get('class', '')}".lower()
    if _CONSENT_HINT.search(names) and _CONSENT_ID.search(names):
        return True
    label = attrs.get("aria-label")
    return isinstance(label, str) and bool(_CONSENT_LABEL.search(label))


def visible_regions(regions: list[PageElement]) -> list[PageElement]:
    """The regions not inside a hidden element (a copy of the page kept hidden for a script, as
    a server-rendered root under display:none), unless all of them are."""
    shown = [
        region
        for region in regions
        if not any(parent.attrs and hidden(parent.attrs) for parent in region.parents)
    ]
    return shown or regions


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
        href = node.get("href") if node.name == "a" else None
        is_link = isinstance(href, str) and link_target(href, "") != ""
        if is_link or node.name not in _INLINE:
            if pieces and (run := " ".join("".join(pieces).split())):
                yield run, linked
            pieces.clear()
            linked = linked or is_link
            stack.append(is_link)
        stack.extend(reversed(node.contents))
    if pieces and (run := " ".join("".join(pieces).split())):
        yield run, linked
