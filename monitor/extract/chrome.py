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
things the extraction fingerprint hashes (monitor.extract.fingerprint).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bs4.element import NavigableString, PageElement, Tag

from monitor.extract.urls import IN_PAGE, link_target

DOMINANT = 0.6
"""A child holding at least this share of its parent's text is where the document continues."""
REVEALED = 0.85
"""A wrapper hidden by its style that holds this share of the region's text is the document,
hidden until a script reveals it."""

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


def _hidden_by_style(tag: Tag) -> bool:
    """Hidden by `hidden` or an inline style alone, the way scripts hide a page until it is
    ready (not a dialog, a landmark or a consent box)."""
    attrs = tag.attrs
    if not attrs or not hidden(attrs):
        return False
    rest = {k: v for k, v in attrs.items() if k not in ("hidden", "style")}
    return not hidden(rest)


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
        at = kids.index(big)
        skip.update(id(kid) for kid in _edge_run(kids[:at][::-1]) + _edge_run(kids[at + 1 :]))
        if sizes[id(big)] >= REVEALED * sizes[id(region)] and _hidden_by_style(big):
            shown.add(id(big))
        node = big
    return Furniture(frozenset(skip), frozenset(shown))


def _edge_run(siblings: list[Tag]) -> list[Tag]:
    """The furniture among the siblings on one side of the spine, from the spine outwards: the
    ones past the last sibling that is content (chrome surrounds the document, it does not
    interleave with it)."""
    verdicts = [is_furniture(sibling) for sibling in siblings]
    last_content = max((i for i, furniture in enumerate(verdicts) if not furniture), default=-1)
    return siblings[last_content + 1 :]


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
    every = list(text_runs(element))
    runs = [(run, target) for run, target in every if _WORDLIKE.search(run)]
    copyright = [run for run, _ in runs if "\u00a9" in run and len(run) <= _COPYRIGHT_CHARS]
    if copyright:  # "© 2025 Company": the rest decides
        runs = [(run, target) for run, target in runs if run not in copyright]
        if not runs:
            return True
    if not runs:
        return False
    loose = [run for run, target in runs if not target]
    if any(_DIGIT.search(run) for run in loose):
        return False  # an effective date, a version number: content
    prose = [run for run in loose if len(run.split()) >= _PROSE_WORDS]
    if not prose:  # labels and links only: a link list, a breadcrumb, a language picker
        return any(target for _, target in every) or len(runs) >= 3
    # A feedback widget: one short question, then short choices that lead nowhere else.
    question = prose[0]
    choices = [target for run, target in runs if run != question]
    return (
        len(prose) == 1
        and question.endswith(_QUESTION_ENDS)
        and len(question.split()) <= _QUESTION_WORDS
        and len(choices) >= 2
        and all(target in ("", IN_PAGE) for target in choices)
    )


def text_runs(element: Tag) -> Iterator[tuple[str, str]]:
    """The element's text as runs (text between block edges and link edges), each with the
    link it is the text of: "" for none, IN_PAGE for a link within the page, else a target."""
    pieces: list[str] = []
    target = ""
    stack: list[PageElement | tuple[str]] = [element]
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):  # leaving a block or a link: the target outside it
            if pieces and (run := " ".join("".join(pieces).split())):
                yield run, target
            pieces.clear()
            target = node[0]
            continue
        if type(node) is NavigableString:
            pieces.append(node)
            continue
        if not isinstance(node, Tag) or node.name in _UNCOUNTED:
            continue
        href = node.get("href") if node.name == "a" else None
        link = link_target(href, "") if isinstance(href, str) else ""
        if link or node.name not in _INLINE:
            if pieces and (run := " ".join("".join(pieces).split())):
                yield run, target
            pieces.clear()
            stack.append((target,))
            target = target or link
        stack.extend(reversed(node.contents))
    if pieces and (run := " ".join("".join(pieces).split())):
        yield run, target
