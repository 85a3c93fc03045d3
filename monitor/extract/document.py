"""Block and Document: the structured text of a page, and its canonical one-block-per-line form.

The canonical text is what is hashed, stored, diffed and shown. One block per line:

    # Heading            (one `#` per level, 1 to 6)
    - list item          (two spaces of indent per nesting level beyond the first)
    | cell | cell |      (a table row)
    plain paragraph      (a leading `\\` escapes a paragraph that would read as one of the above)

Links are kept inline as `[anchor](target)`; the target is already canonical (see normalizer).
`Document.from_text(doc.text) == doc` for every document, so a stored version can be read back
into blocks with their heading paths.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "item", "row"]
RawBlock = tuple[BlockKind, str, int]  # (kind, text, level), before heading paths are given

_HEADING = re.compile(r"^(#{1,6}) (.*)$")
_ITEM = re.compile(r"^((?:  )*)- (.*)$")
_ESCAPE_NEEDED = re.compile(r"^(?:#{1,6} |(?:  )*- |\| |\\)")


@dataclass(frozen=True, slots=True)
class Block:
    """One unit of text: a heading (level 1-6), a paragraph, a list item (level = depth) or a row.

    `path` is the chain of enclosing heading texts, outermost first (a heading's own path does not
    include itself).
    """

    kind: BlockKind
    text: str
    level: int = 1
    path: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        """The block's line in the canonical text."""
        if self.kind == "heading":
            return "#" * self.level + " " + self.text
        if self.kind == "item":
            return "  " * (self.level - 1) + "- " + self.text
        if self.kind == "row":
            return "| " + self.text + " |"
        if _ESCAPE_NEEDED.match(self.text):
            return "\\" + self.text
        return self.text


_BOLD_HEADING_WORDS = 20
_NOT_A_TITLE_END = (".", ",", ";", ":", "\u3002", "\u0964")  # a sentence or a lead-in


def bold_level(last_level: int) -> int:
    """The level of a bold-line heading: one below the last real heading, else 2."""
    return min(last_level + 1, 6) if last_level else 2


def bold_heading(text: str) -> bool:
    """Whether a paragraph that is bold throughout reads as a title: short, with letters, and
    not ending like a sentence or a lead-in."""
    return (
        len(text.split()) <= _BOLD_HEADING_WORDS
        and not text.endswith(_NOT_A_TITLE_END)
        and any(ch.isalpha() for ch in text)
    )


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def clean_text(text: str) -> str:
    """Block text as stored: whitespace collapsed (NBSP too), zero-width characters dropped, NFC."""
    if text.isascii():
        return " ".join(text.split())
    return unicodedata.normalize("NFC", " ".join(_INVISIBLE.sub("", text).split()))


def parse_line(line: str) -> tuple[BlockKind, str, int]:
    """Read one canonical line back into (kind, text, level)."""
    if m := _HEADING.match(line):
        return "heading", m.group(2), len(m.group(1))
    if m := _ITEM.match(line):
        return "item", m.group(2), len(m.group(1)) // 2 + 1
    if line.startswith("| ") and line.endswith(" |") and len(line) >= 4:
        return "row", line[2:-2], 1
    if line.startswith("\\"):
        return "paragraph", line[1:], 1
    return "paragraph", line, 1


def without_page_navigation(blocks: list[RawBlock], entries: Iterable[int]) -> list[RawBlock]:
    """`blocks` without in-page navigation: of the blocks at `entries` (each wholly a link within
    the page), those that repeat a heading (a table of contents) or each other ("back to top")."""
    marked = set(entries)
    if not marked:
        return blocks
    headings = {
        text.casefold()
        for index, (kind, text, _) in enumerate(blocks)
        if kind == "heading" and index not in marked
    }
    repeats = Counter(blocks[index][1].casefold() for index in marked)
    return [
        block
        for index, block in enumerate(blocks)
        if index not in marked
        or (block[1].casefold() not in headings and repeats[block[1].casefold()] < 2)
    ]


def with_paths(blocks: list[tuple[BlockKind, str, int]]) -> tuple[Block, ...]:
    """Give each (kind, text, level) its heading path, from the headings that precede it."""
    stack: list[tuple[int, str]] = []
    out: list[Block] = []
    for kind, text, level in blocks:
        if kind == "heading":
            while stack and stack[-1][0] >= level:
                stack.pop()
            out.append(Block(kind, text, level, tuple(t for _, t in stack)))
            stack.append((level, text))
        else:
            out.append(Block(kind, text, level, tuple(t for _, t in stack)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Document:
    """The extracted text of one page: its blocks in reading order, and the page title."""

    blocks: tuple[Block, ...]
    title: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        """The canonical text: one line per block, joined with newlines, no trailing newline."""
        return "\n".join(block.line for block in self.blocks)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def words(self) -> int:
        return sum(len(block.text.split()) for block in self.blocks)

    @classmethod
    def from_text(cls, text: str, title: str = "") -> Document:
        """Parse canonical text (as produced by `.text`) back into a Document."""
        lines = [line for line in text.split("\n") if line != ""] if text else []
        return cls(with_paths([parse_line(line) for line in lines]), title)
