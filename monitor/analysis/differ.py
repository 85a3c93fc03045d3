"""Compare two Documents into a ChangeSet: align blocks, pair edited blocks, diff words inside them.

Pure functions, no I/O. Only changed blocks are diffed at word level, so a 300 KB pair takes ms.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal, cast, overload

from diff_match_patch import diff_match_patch

from monitor.extract.document import Block, Document

Op = Literal["=", "-", "+"]
Span = tuple[Op, str]
ChangeKind = Literal["added", "removed", "modified", "moved"]

# Pairing a removed and an added block into one modified block: word-multiset Dice (difflib's
# quick_ratio over words) of at least PAIR_THRESHOLD, or a block of CONTAINED_MIN_WORDS or more
# found almost whole (CONTAINED_SHARE) in the other. A removed block is compared with the next
# PAIR_WINDOW added blocks only, so a rewritten section stays linear. A block replaced in place (a
# gap of one removed and one added block) needs only LONE_PAIR_THRESHOLD: its place says the rest.
PAIR_THRESHOLD = 0.5
LONE_PAIR_THRESHOLD = 0.3
CONTAINED_MIN_WORDS = 4
CONTAINED_SHARE = 0.8
PAIR_WINDOW = 32

_OPS: dict[int, Op] = {-1: "-", 0: "=", 1: "+"}
_KINDS: tuple[ChangeKind, ...] = ("added", "removed", "modified", "moved")
# A word or a punctuation mark with the spaces before it: dmp's semantic cleanup weighs an
# equality by its token count, and spaces of their own would make "you" between two edits weigh 3.
_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
# A sentence with the spaces after it (the danda ends a sentence in Hindi), or what is left.
_SENTENCE = re.compile(r"[^.!?\u0964]*(?:[.!?\u0964]+|$)\s*")
DIFF_BUDGET = 1_000_000
"""Shared tokens of one block between its common prefix and suffix, multiplied side by side,
above which words give way to sentences: dmp's worst case is that product (about half a
second of CPU at this size)."""
_WORD = re.compile(r"\w+")


def _new_dmp() -> diff_match_patch:
    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0  # no deadline: the same pair always gives the same diff, on any machine
    return dmp


_DMP = _new_dmp()


@dataclass(frozen=True, slots=True)
class Change:
    """One changed block. `before`/`after` are canonical lines; `spans` run over the block texts."""

    kind: ChangeKind
    section: tuple[str, ...]
    before: str | None
    after: str | None
    spans: tuple[Span, ...]
    old_index: int | None
    new_index: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "section": list(self.section),
            "before": self.before,
            "after": self.after,
            "spans": [[op, text] for op, text in self.spans],
            "old_index": self.old_index,
            "new_index": self.new_index,
        }


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Every change between two versions, in new-document order (removed ones where they were)."""

    changes: tuple[Change, ...]

    def apply(self, old: Document) -> Document:
        """Rebuild the new document from the old one; exact for a ChangeSet made from `old`."""
        old_lines = [block.line for block in old.blocks]
        consumed = {c.old_index for c in self.changes if c.old_index is not None}
        placed = {c.new_index: c.after for c in self.changes if c.new_index is not None}
        kept = [line for i, line in enumerate(old_lines) if i not in consumed]
        if any(i >= len(old_lines) for i in consumed if i is not None):
            raise ValueError("change set refers to a block past the end of the old document")
        size = len(kept) + len(placed)
        if any(j >= size for j in placed):
            raise ValueError("change set places a block past the end of the new document")
        rest = iter(kept)
        lines = [placed[j] if j in placed else next(rest) for j in range(size)]
        return Document.from_text("\n".join(cast(list[str], lines)), old.title)

    def to_json(self) -> list[dict[str, object]]:
        return [change.to_json() for change in self.changes]

    @classmethod
    def from_json(cls, data: object) -> ChangeSet:
        """Read back `to_json` output; a wrong shape raises ValueError naming the change and key."""
        if not isinstance(data, list):
            raise ValueError(f"change set JSON must be a list, not {type(data).__name__}")
        return cls(tuple(_change_from_json(i, item) for i, item in enumerate(data)))


def _change_from_json(i: int, item: object) -> Change:
    if not isinstance(item, dict):
        raise ValueError(f"change {i}: must be an object, not {type(item).__name__}")
    kind = item.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"change {i}: kind {kind!r} is not one of {', '.join(_KINDS)}")
    section = item.get("section")
    if not isinstance(section, list) or not all(isinstance(s, str) for s in section):
        raise ValueError(f"change {i}: section {section!r} is not a list of strings")
    before, after = item.get("before"), item.get("after")
    for key, value in (("before", before), ("after", after)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"change {i}: {key} {value!r} is neither a string nor null")
    if (before is None) != (kind == "added") or (after is None) != (kind == "removed"):
        raise ValueError(f"change {i}: a {kind} change has before={before!r}, after={after!r}")
    old_index, new_index = item.get("old_index"), item.get("new_index")
    for key, value in (("old_index", old_index), ("new_index", new_index)):
        if value is not None and (type(value) is not int or value < 0):
            raise ValueError(f"change {i}: {key} {value!r} is not a block index")
    return Change(
        cast(ChangeKind, kind),
        tuple(section),
        cast("str | None", before),
        cast("str | None", after),
        _spans_from_json(i, item.get("spans")),
        cast("int | None", old_index),
        cast("int | None", new_index),
    )


def _spans_from_json(i: int, spans: object) -> tuple[Span, ...]:
    if not isinstance(spans, list):
        raise ValueError(f"change {i}: spans {spans!r} is not a list")
    out: list[Span] = []
    for span in spans:
        if (
            not isinstance(span, list | tuple)
            or len(span) != 2
            or span[0] not in ("=", "-", "+")
            or not isinstance(span[1], str)
        ):
            raise ValueError(f"change {i}: span {span!r} is not [op, text] with op one of = - +")
        out.append((cast(Op, span[0]), span[1]))
    return tuple(out)


def diff_documents(old: Document, new: Document) -> ChangeSet:
    """The blocks that were added, removed, modified (with word spans) or moved from old to new."""
    a = [block.line for block in old.blocks]
    b = [block.line for block in new.blocks]
    if a == b:
        return ChangeSet(())
    start = _common_prefix(a, b)
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    kept = [(i + start, j + start) for i, j in _align(a[start:end_a], b[start:end_b])]
    gaps = _gaps([(start - 1, start - 1), *kept, (end_a, end_b)])
    moved = _find_moves(gaps, a, b)
    keyed: list[tuple[tuple[int, int, int], Change]] = []
    for removed, added in gaps:
        keyed.extend(_gap_changes(old.blocks, new.blocks, removed, added, moved))
    for j, i in moved.items():
        block = new.blocks[j]
        change = Change("moved", block.path, a[i], b[j], _whole("=", block.text), i, j)
        keyed.append(((j, 1, i), change))
    keyed.sort(key=lambda item: item[0])
    return ChangeSet(tuple(change for _, change in keyed))


def diff_words(before: str, after: str) -> tuple[Span, ...]:
    """Word-precision spans: "=" and "-" join to `before`, "=" and "+" join to `after`.

    The cost is bounded: when the words the two texts share are too many for dmp's worst case
    (DIFF_BUDGET), the block is diffed sentence by sentence, and past that replaced whole. The
    spans stay exact either way; they are only coarser.
    """
    if before == after:
        return _whole("=", before)
    for split, readable in ((_TOKEN.findall, True), (_sentences, False)):
        tokens_a, tokens_b = split(before), split(after)
        kept = _align(tokens_a, tokens_b, budget=DIFF_BUDGET)
        if kept is not None:
            return _spans(tokens_a, tokens_b, kept, readable)
    return _tidy([("-", before), ("+", after)])


def _sentences(text: str) -> list[str]:
    return [sentence for sentence in _SENTENCE.findall(text) if sentence]


def _spans(
    tokens_a: list[str], tokens_b: list[str], kept: list[tuple[int, int]], readable: bool
) -> tuple[Span, ...]:
    sym_a, sym_b = _encode(tokens_a, tokens_b)
    diffs = _as_diffs(sym_a, sym_b, kept)
    if readable:
        _DMP.diff_cleanupSemantic(diffs)
    spans: list[Span] = []
    pos_a = pos_b = 0
    for code, chunk in diffs:
        op = _OPS[code]
        if op == "+":
            text = "".join(tokens_b[pos_b : pos_b + len(chunk)])
        else:
            text = "".join(tokens_a[pos_a : pos_a + len(chunk)])
        pos_a += len(chunk) if op != "+" else 0
        pos_b += len(chunk) if op != "-" else 0
        if spans and spans[-1][0] == op:
            spans[-1] = (op, spans[-1][1] + text)
        elif text:
            spans.append((op, text))
    return _tidy(spans)


def _tidy(spans: list[Span]) -> tuple[Span, ...]:
    """Hand the spaces a replacement's both sides start or end with to the text around it, so
    "do not" -> "may" reads as such rather than as " do not" -> " may"."""
    out: list[Span] = []
    i = 0
    while i < len(spans):
        if spans[i][0] == "=":
            _append(out, spans[i])
            i += 1
            continue
        if i + 1 == len(spans) or spans[i + 1][0] == "=":
            i = _slide(out, spans, i)
            continue
        first, second = spans[i], spans[i + 1]
        removed, added = (first[1], second[1]) if first[0] == "-" else (second[1], first[1])
        lead = _shared_space(removed, added, at_end=False)
        _append(out, ("=", removed[:lead]))
        removed, added = removed[lead:], added[lead:]
        trail = _shared_space(removed, added, at_end=True)
        _append(out, ("-", removed[: len(removed) - trail]))
        _append(out, ("+", added[: len(added) - trail]))
        _append(out, ("=", removed[len(removed) - trail :]))
        i += 2
    return tuple(out)


def _slide(out: list[Span], spans: list[Span], i: int) -> int:
    """Append the lone edit spans[i], moving its leading spaces to its end when the text after it
    starts with the same spaces ("We[ do not] use" -> "We [do not ]use"), as dmp does for text."""
    op, edit = spans[i]
    rest = spans[i + 1][1] if i + 1 < len(spans) else ""
    n = 0
    while n < min(len(edit) - 1, len(rest)) and edit[n].isspace() and edit[n] == rest[n]:
        n += 1
    _append(out, ("=", edit[:n]))
    _append(out, (op, edit[n:] + rest[:n]))
    if rest:
        _append(out, ("=", rest[n:]))
    return i + 2


def _shared_space(a: str, b: str, *, at_end: bool) -> int:
    """Length of the whitespace both texts start (or end) with, leaving each something else."""
    n = 0
    while n < min(len(a), len(b)) - 1:
        x, y = (a[-1 - n], b[-1 - n]) if at_end else (a[n], b[n])
        if x != y or not x.isspace():
            break
        n += 1
    return n


def _append(spans: list[Span], span: Span) -> None:
    if not span[1]:
        return
    if spans and spans[-1][0] == span[0]:
        spans[-1] = (span[0], spans[-1][1] + span[1])
    else:
        spans.append(span)


def _whole(op: Op, text: str) -> tuple[Span, ...]:
    return ((op, text),) if text else ()


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _symbol(i: int) -> str:
    # Private-use planes first: those characters have no word or space class, so dmp's boundary
    # scoring (made for real text) treats every token alike. Past them, ordinary astral planes.
    if i < 0x20000:
        return chr(0xF0000 + i)
    if i < 0x20000 + 0xE0000:
        return chr(0x10000 + i - 0x20000)
    raise ValueError("more than a million distinct lines or words in one diff")


def _encode(a: Sequence[str], b: Sequence[str]) -> tuple[str, str]:
    """One character per distinct item (the line-mode trick), so dmp diffs items, not characters."""
    table: dict[str, str] = {}

    def encode(items: Sequence[str]) -> str:
        out = []
        for item in items:
            sym = table.get(item)
            if sym is None:
                sym = table[item] = _symbol(len(table))
            out.append(sym)
        return "".join(out)

    return encode(a), encode(b)


@overload
def _align(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]: ...
@overload
def _align(a: Sequence[str], b: Sequence[str], budget: int) -> list[tuple[int, int]] | None: ...
def _align(
    a: Sequence[str], b: Sequence[str], budget: int | None = None
) -> list[tuple[int, int]] | None:
    """Pairs (i, j), increasing in both, of equal items (lines or words) the diff keeps; None
    when the items both sides share are more than `budget` allows (their product bounds dmp).

    Items found on one side only can never be kept, so they are left out before diffing: a
    rewritten page then costs no more than the items it shares, instead of dmp's O(N*D) worst case.
    """
    in_a, in_b = set(a), set(b)
    index_a = [i for i, line in enumerate(a) if line in in_b]
    index_b = [j for j, line in enumerate(b) if line in in_a]
    if budget is not None:
        same = _common_prefix([a[i] for i in index_a], [b[j] for j in index_b])
        tail = _common_prefix(
            [a[i] for i in reversed(index_a[same:])], [b[j] for j in reversed(index_b[same:])]
        )
        if (len(index_a) - same - tail) * (len(index_b) - same - tail) > budget:
            return None
    sym_a, sym_b = _encode([a[i] for i in index_a], [b[j] for j in index_b])
    pairs: list[tuple[int, int]] = []
    x = y = 0
    for code, chunk in _DMP.diff_main(sym_a, sym_b, False):
        n = len(chunk)
        if code == 0:
            pairs.extend(zip(index_a[x : x + n], index_b[y : y + n], strict=True))
        x += n if code != 1 else 0
        y += n if code != -1 else 0
    return pairs


def _as_diffs(sym_a: str, sym_b: str, kept: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """The dmp diff (delete, insert, equal runs) of two symbol strings that keeps `kept`."""
    diffs: list[tuple[int, str]] = []
    x = y = 0
    for i, j in [*kept, (len(sym_a), len(sym_b))]:
        if i > x:
            diffs.append((-1, sym_a[x:i]))
        if j > y:
            diffs.append((1, sym_b[y:j]))
        if i < len(sym_a):
            if diffs and diffs[-1][0] == 0:
                diffs[-1] = (0, diffs[-1][1] + sym_a[i])
            else:
                diffs.append((0, sym_a[i]))
        x, y = i + 1, j + 1
    return diffs


def _gaps(anchors: list[tuple[int, int]]) -> list[tuple[range, range]]:
    """(old range, new range) of the edits between consecutive kept lines."""
    gaps = []
    for (i0, j0), (i1, j1) in pairwise(anchors):
        if i1 - i0 > 1 or j1 - j0 > 1:
            gaps.append((range(i0 + 1, i1), range(j0 + 1, j1)))
    return gaps


def _find_moves(gaps: list[tuple[range, range]], a: list[str], b: list[str]) -> dict[int, int]:
    """New index -> old index of lines removed in one place and added, identical, in another."""
    removed: dict[str, list[int]] = {}
    for old_range, _ in gaps:
        for i in old_range:
            removed.setdefault(a[i], []).append(i)
    moved: dict[int, int] = {}
    for _, new_range in gaps:
        for j in new_range:
            olds = removed.get(b[j])
            if olds:
                moved[j] = olds.pop(0)
    return moved


def _gap_changes(
    old: Sequence[Block],
    new: Sequence[Block],
    old_range: range,
    new_range: range,
    moved: dict[int, int],
) -> list[tuple[tuple[int, int, int], Change]]:
    """Changes of one gap, each with a sort key placing it in new-document order."""
    taken = set(moved.values())
    removed = [i for i in old_range if i not in taken]
    added = [j for j in new_range if j not in moved]
    pairs = _pair(old, new, removed, added)
    out: list[tuple[tuple[int, int, int], Change]] = []
    for i, j in pairs:
        spans = diff_words(old[i].text, new[j].text)
        change = Change("modified", new[j].path, old[i].line, new[j].line, spans, i, j)
        out.append(((j, 1, i), change))
    paired_new = {j for _, j in pairs}
    for j in added:
        if j not in paired_new:
            change = Change(
                "added", new[j].path, None, new[j].line, _whole("+", new[j].text), None, j
            )
            out.append(((j, 1, -1), change))
    paired_old = {i for i, _ in pairs}
    for i in removed:
        if i not in paired_old:
            # After the last pair that precedes it in the old text, else at the gap's start.
            where = max((pj + 1 for pi, pj in pairs if pi < i), default=new_range.start)
            change = Change(
                "removed", old[i].path, old[i].line, None, _whole("-", old[i].text), i, None
            )
            out.append(((where, 0, i), change))
    return out


def _pair(
    old: Sequence[Block], new: Sequence[Block], removed: list[int], added: list[int]
) -> list[tuple[int, int]]:
    """Greedy, order-keeping pairing of removed and added blocks that share most of their words."""
    if not removed or not added:
        return []
    bags: dict[tuple[int, int], Counter[str]] = {}

    def bag(side: int, index: int) -> Counter[str]:
        key = (side, index)
        if key not in bags:
            text = (old if side == 0 else new)[index].text
            # Numbers count as one word, so a bumped date or version keeps its block paired.
            bags[key] = Counter("#" if w.isdigit() else w for w in _WORD.findall(text.lower()))
        return bags[key]

    threshold = LONE_PAIR_THRESHOLD if len(removed) == len(added) == 1 else PAIR_THRESHOLD
    pairs: list[tuple[int, int]] = []
    start = 0
    for i in removed:
        best, best_k = -1.0, -1
        for k in range(start, min(len(added), start + PAIR_WINDOW)):
            score = _similarity(old[i].text, new[added[k]].text, bag(0, i), bag(1, added[k]))
            if score >= threshold and score > best:
                best, best_k = score, k
                if score == 1.0:
                    break
        if best_k >= 0:
            pairs.append((i, added[best_k]))
            start = best_k + 1
            if start == len(added):
                break
    return pairs


def _similarity(text_a: str, text_b: str, bag_a: Counter[str], bag_b: Counter[str]) -> float:
    """Dice over word multisets, raised to the threshold when one block holds the other (a
    paragraph that gained or lost a sentence is still the same paragraph)."""
    size_a, size_b = bag_a.total(), bag_b.total()
    if size_a + size_b == 0:
        return 1.0 if text_a.strip() == text_b.strip() else 0.0
    small = min(size_a, size_b)
    if small < CONTAINED_MIN_WORDS and 2 * small < LONE_PAIR_THRESHOLD * (size_a + size_b):
        return 0.0  # too different in length for either measure; skip the counting
    overlap = (bag_a & bag_b).total()
    dice = 2 * overlap / (size_a + size_b)
    if (
        small >= CONTAINED_MIN_WORDS
        and overlap >= CONTAINED_SHARE * small
        and _held_in_order(text_a, text_b, small)
    ):
        return max(dice, PAIR_THRESHOLD)
    return dice


def _held_in_order(text_a: str, text_b: str, small: int) -> bool:
    """Whether the shorter text's words appear, mostly in their order, in the longer one: the
    rest of a paragraph that gained or lost a sentence, not common words scattered through an
    unrelated one ("Allow the use of cookies on this browser?" is not in a paragraph on ads)."""
    a, b = _WORD.findall(text_a.lower()), _WORD.findall(text_b.lower())
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    matcher = difflib.SequenceMatcher(None, short, long, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) >= CONTAINED_SHARE * small
