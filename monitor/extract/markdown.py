"""Markdown (as archived policy versions are kept) -> Document: the same blocks HTML would give."""

from __future__ import annotations

import html as htmllib
import re

from monitor.errors import ExtractError
from monitor.extract.document import (
    BlockKind,
    Document,
    RawBlock,
    bold_heading,
    bold_level,
    clean_text,
    with_paths,
    without_page_navigation,
)
from monitor.extract.urls import canonical_text_urls, canonical_url


def normalize_markdown(text: str, *, min_chars: int = 0) -> Document:
    """Read Markdown (as archived policy versions are kept) into the same blocks HTML would give."""
    doc = Document(with_paths(_MarkdownReader().read(text)))
    if len(doc.text) < min_chars:
        raise ExtractError(
            "too_short", f"extracted text is only {len(doc.text)} characters (minimum {min_chars})"
        )
    return doc


_ATX = re.compile(r"(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"(=+|-+)[ \t]*$")
_HR = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|$)")
_FENCE = re.compile(r"(`{3,}|~{3,})")
_TABLE_SEP = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_QUOTE = re.compile(r"(?:>[ \t]?)+")
_BR = re.compile(r"<br\s*/?>", re.I)
_HARD_BREAK = re.compile(r"(?: {2,}|\\)$")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^)]*\)")
_LINK = re.compile(
    r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^\s)>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
    r"|<(https?://[^\s<>]+)>"
)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_PAGE_LINK = re.compile(r"\[[^\[\]]*\]\(\s*<?#[^\s)]*>?\s*\)")  # [Section](#section)
_WHOLE_BOLD = re.compile(r"(\*\*|__)(?=\S)(?:(?!\1).)+(?<=\S)\1$")
# `**strong**`, `*em*` and the underscore forms (which never open or close inside a word); a
# marker without its pair is text.
_EMPHASIS = re.compile(r"(\*\*?)(?=\S)(.+?)(?<=\S)\1|(?<!\w)(__?)(?=\S)(.+?)(?<=\S)\3(?!\w)")
_CELL_MARKER = re.compile(r"^(?:#{1,6}|[-*+]|\d{1,9}[.)])[ \t]+")
_MD_BASE = "https://www.facebook.com/"
# Escaped punctuation is parked in the private-use area while markers are stripped.
_PRIVATE = 0xE000
_PARKED = re.compile("[\ue000-\ue07f]")
_LINK_SLOT = 0xF0000
_SLOT = re.compile("[\U000f0000-\U000ffffd]")


def _protect(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(_PRIVATE + ord(m.group(1))), text)


def _restore(text: str) -> str:
    if not _PARKED.search(text):
        return text
    return _PARKED.sub(lambda m: chr(ord(m.group()) - _PRIVATE), text)


def _unmark(m: re.Match[str]) -> str:
    return m.group(2) if m.group(1) else m.group(4)


def _md_plain(text: str) -> str:
    """Inline text without links: strip tags, code ticks and emphasis markers that pair up."""
    if "<" in text:
        text = _TAG.sub("", text)
    if "`" in text:
        text = text.replace("`", "")
    while ("*" in text or "_" in text) and (unmarked := _EMPHASIS.sub(_unmark, text)) != text:
        text = unmarked
    text = _restore(text)
    text = htmllib.unescape(text) if "&" in text else text
    return canonical_text_urls(text, _MD_BASE)


def _md_link(m: re.Match[str]) -> str:
    if m.group(3):
        url = anchor = m.group(3)
    else:
        anchor = clean_text(_md_plain(m.group(1)))
        url = htmllib.unescape(_restore(m.group(2)))
    target = "" if url[:1] in ("", "#") else canonical_url(url, _MD_BASE)
    return f"[{anchor}]({target})" if anchor and target else anchor


def _md_inline(text: str) -> str:
    """Inline Markdown (escapes already protected) -> canonical inline text with `[a](u)` links."""
    if "[" not in text and "<" not in text:
        return clean_text(_md_plain(text))
    if "![" in text:
        text = _IMAGE.sub("", text)
    # Links are parked in one private-use character each, so emphasis can pair across them
    # (`**[a](u)**`) without touching their targets.
    links: list[str] = []

    def park(m: re.Match[str]) -> str:
        links.append(_md_link(m))
        return chr(_LINK_SLOT + len(links) - 1)

    text = _md_plain(_LINK.sub(park, text))
    if links:
        text = _SLOT.sub(lambda m: links[ord(m.group()) - _LINK_SLOT], text)
    return clean_text(text)


class _MarkdownReader:
    """A small line-based block reader: enough Markdown for archived policy versions, and fast."""

    def __init__(self) -> None:
        self.out: list[RawBlock] = []
        self.lines: list[str] = []
        self.kind: BlockKind = "paragraph"
        self.level = 1
        self.lists: list[int] = []  # content columns of the open list items
        self.blank = True
        self.fence = ""
        self.real_level = 0  # level of the last # or setext heading
        self.contents_entries: list[int] = []  # blocks that are wholly a link within the page

    def read(self, text: str) -> list[RawBlock]:
        for raw in text.splitlines():
            self._line(raw)
        self._close()
        return without_page_navigation(self.out, self.contents_entries)

    def _line(self, raw: str) -> None:
        if self.fence:
            if raw.strip().startswith(self.fence):
                self.fence = ""
            else:
                self._emit("paragraph", clean_text(raw), 1)  # code is literal
            return
        line = raw.expandtabs(4)
        body = line.lstrip()
        if body.startswith(">"):
            line = _QUOTE.sub("", body, count=1)
            body = line.lstrip()
        if not body:
            self._close()
            self.blank = True
            return
        indent = len(line) - len(body)
        self._block_line(body, indent)
        self.blank = False

    def _block_line(self, body: str, indent: int) -> None:
        if self.lines and not self.blank and self.kind == "paragraph" and _SETEXT.match(body):
            level = 1 if body[0] == "=" else 2
            self.lines, lines = [], self.lines
            self._heading(_md_inline(_protect(" ".join(lines))), level)
            return
        if _HR.match(body):
            self._close()
        elif m := _FENCE.match(body):
            self._close()
            self.fence = m.group(1)[:3]
        elif body.startswith("|"):
            self._close()
            self._pop_lists(indent)
            if not _TABLE_SEP.match(body):
                self._row(body)
        elif (m := _ATX.match(body)) and (indent <= 3 or self.lists):
            self._close()
            self._pop_lists(indent)
            self._heading(_md_inline(_protect(m.group(2) or "")), len(m.group(1)))
        elif m := _ITEM.match(body):
            self._item(indent, m)
        elif self.lines and not self.blank:
            self.lines.append(body)  # a continuation line, lazy or not
        else:
            self._close()
            self._pop_lists(indent)
            self._start("paragraph", 1, body)

    def _item(self, indent: int, m: re.Match[str]) -> None:
        spaces = m.group(2) or " "
        content = indent + len(m.group(1)) + (len(spaces) if len(spaces) <= 4 else 1)
        self._close()
        self._pop_lists(indent)
        self.lists.append(content)
        self._start("item", len(self.lists), m.group(3) or "")

    def _pop_lists(self, indent: int) -> None:
        while self.lists and indent < self.lists[-1]:
            self.lists.pop()

    def _start(self, kind: BlockKind, level: int, text: str) -> None:
        self.kind, self.level, self.lines = kind, level, [text]

    def _close(self) -> None:
        if not self.lines:
            return
        lines, self.lines = self.lines, []
        kind, level = self.kind, self.level
        # Hard line breaks and <br> become separate blocks, as they do in HTML.
        parts: list[str] = [""]
        for line in lines:
            pieces = _BR.split(line)
            parts[-1] += " " + pieces[0]
            parts.extend(pieces[1:])
            if _HARD_BREAK.search(line):
                parts.append("")
        for part in parts:
            text = _md_inline(_protect(part.removesuffix("\\")))
            bold = kind == "paragraph" and _WHOLE_BOLD.match(part.strip())
            if text and bold and bold_heading(text):  # a bold line is a heading, as in HTML
                kind, level = "heading", bold_level(self.real_level)
            if text:
                if _PAGE_LINK.fullmatch(part.strip()):
                    self.contents_entries.append(len(self.out))
                self._emit(kind, text, level)
                kind, level = "paragraph", 1

    def _emit(self, kind: BlockKind, text: str, level: int) -> None:
        if text:
            self.out.append((kind, text, level))

    def _heading(self, text: str, level: int) -> None:
        self.real_level = level
        self._emit("heading", text, level)

    def _row(self, body: str) -> None:
        row = _protect(body.strip())
        cells = row.removeprefix("|").removesuffix("|").split("|")
        texts = [
            _md_inline(" ".join(_CELL_MARKER.sub("", p.strip()) for p in _BR.split(cell)))
            for cell in cells
        ]
        if any(texts):
            self._emit("row", " | ".join(texts), 1)
