"""A page's extraction fingerprint: equal fingerprints mean equal extracted text, without a soup.

Building the BeautifulSoup tree is most of the cost of a check (40-150 ms for a 200-800 KB
page, where libxml2 alone parses it in 2-6 ms), and most checks find the page unchanged. The
fingerprint hashes the event stream of the very parse BeautifulSoup's lxml builder consumes
(`etree.HTMLParser(target=..., recover=True)` fed the same decoded text in one piece), keeping
every element, in order, and every character of text, except what extraction never reads:

- the text of `<script>` and `<style>` elements (the extractor drops them wherever they are,
  and refuses one as a region);
- the contents of comments, processing instructions and doctypes (their places are kept);
- attributes, which the extractor reads only through `role`, `aria-level`, the verdict of
  `chrome.hidden()` and the canonical target of an `<a href>`: those four are hashed in
  place of the attributes. Attributes that a `select` or `remove` selector names (`#` reads
  `id`, `.` reads `class`, `[name...]` reads `name`) are hashed as they are.

So a per-request nonce, CSRF token, render timestamp, generated class name or tracking
parameter on a link leaves the fingerprint as it was, and any change to what extraction reads
changes it. The hash also covers the base URL, the extraction rules and NORMALIZER_VERSION.
Selectors that use pseudo-classes, namespaces or escapes could read anything: for them there
is no fingerprint (None), and every check extracts. The pipeline trusts a fingerprint only
for texts long enough that the guards read nothing but the text (guards.reads_whole_page).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import cast

from lxml import etree

from monitor.extract.chrome import hidden
from monitor.extract.html import RAW_TEXT_TAGS
from monitor.extract.rules import ExtractRules
from monitor.extract.urls import link_target

FINGERPRINT_VERSION = "1"

_READ = ("role", "aria-level")
_LANDMARKS = frozenset({"head", "main", "role=main", "body"})


def selector_attributes(rules: ExtractRules) -> frozenset[str] | None:
    """The attributes the rules' selectors may read, or None when that cannot be told."""
    return rules.read_attributes


class _Stream:
    """An lxml parser target writing the fingerprinted event stream as NUL-separated tokens.

    libxml2 never passes a NUL character through, so the tokens cannot run into each other.
    Consecutive text events are one token, as BeautifulSoup joins them into one string. It
    notes where the first `head`, `main`, `[role=main]` and `body` elements begin and end.
    """

    def __init__(self, base_url: str, keep: frozenset[str]) -> None:
        self.base_url = base_url
        self.keep = sorted(keep)
        self.parts: list[str] = []
        self.open: list[str] = []
        self.in_text = False
        self.spans: dict[str, list[int]] = {}  # landmark -> [first token, end, depth]
        self.unclosed: list[list[int]] = []
        self.unclosed_depths: set[int] = set()

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        parts = self.parts
        if tag in _LANDMARKS or (attrib and attrib.get("role") == "main"):
            self._landmark(tag, attrib)
        parts.append("\x00<" + tag)
        if attrib:
            if hidden(attrib):
                parts.append("\x00@hidden")
            for name in _READ:
                if (value := attrib.get(name)) is not None:
                    parts.append(f"\x00@{name}={value}")
            if tag == "a" and (href := attrib.get("href")) is not None:
                parts.append("\x00@href=" + link_target(href, self.base_url))
            for name in self.keep:
                if (value := attrib.get(name)) is not None:
                    parts.append(f"\x00={name}={value}")
        self.open.append(tag)
        self.in_text = False

    def end(self, tag: str) -> None:
        if self.open:
            self.open.pop()
        self.parts.append("\x00>")
        self.in_text = False
        if len(self.open) in self.unclosed_depths:
            depth = len(self.open)
            for span in self.unclosed:
                if span[2] == depth:
                    span[1] = len(self.parts)
            self.unclosed = [span for span in self.unclosed if span[1] < 0]
            self.unclosed_depths = {span[2] for span in self.unclosed}

    def _landmark(self, tag: str, attrib: Mapping[str, str]) -> None:
        for landmark in (tag, "role=main" if attrib.get("role") == "main" else ""):
            if landmark in _LANDMARKS and landmark not in self.spans:
                span = self.spans[landmark] = [len(self.parts), -1, len(self.open)]
                self.unclosed.append(span)
                self.unclosed_depths.add(span[2])

    def data(self, text: str) -> None:
        if self.open and self.open[-1] in RAW_TEXT_TAGS:
            return
        if not self.in_text:
            self.parts.append("\x00t")
            self.in_text = True
        self.parts.append(text)

    def comment(self, text: str) -> None:
        self._marker("\x00!")

    def pi(self, target: str, data: str) -> None:
        self._marker("\x00?")

    def doctype(self, name: str, pubid: str, system: str) -> None:
        self._marker("\x00D")

    def _marker(self, token: str) -> None:
        self.parts.append(token)
        self.in_text = False

    def close(self) -> _Stream:
        return self

    def span(self, landmark: str) -> list[str] | None:
        found = self.spans.get(landmark)
        if found is None:
            return None
        first, end, _ = found
        return self.parts[first : end if end >= 0 else len(self.parts)]

    def read_by_extraction(self, selectors: bool) -> list[str]:
        """The tokens extraction can read: the title's `head` and the default region.

        With selectors, regions can be anywhere: all tokens.
        """
        if selectors:
            return self.parts
        head = self.span("head") or []
        for landmark in ("main", "role=main", "body"):  # normalizer._regions' order
            region = self.span(landmark)
            if region is not None:
                return [*head, "\x00" + landmark, *region]
        return self.parts


def fingerprint(text: str, rules: ExtractRules, *, base_url: str) -> str | None:
    """The fingerprint of a decoded page under `rules`, or None when there is none to trust."""
    keep = selector_attributes(rules)
    if keep is None:
        return None
    if text[:1] == "\ufeff":  # as BeautifulSoup does before it feeds lxml
        text = text[1:]
    stream = _Stream(base_url, keep)
    # Parsing a str, lxml passes the target str only (the stubs allow bytes too).
    target = cast("etree.ParserTarget", stream)
    parser = etree.HTMLParser(target=target, recover=True, huge_tree=False)
    try:
        parser.feed(text)
        parser.close()
    except (etree.ParserError, UnicodeError, LookupError):
        return None
    digest = hashlib.sha256()
    header = "\x00".join((FINGERPRINT_VERSION, rules.digest, base_url))
    digest.update(header.encode("utf-8"))
    tokens = stream.read_by_extraction(bool(rules.select or rules.remove))
    digest.update("".join(tokens).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
