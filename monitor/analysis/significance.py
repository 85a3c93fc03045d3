"""How much a change matters: cosmetic < minor < substantive (DESIGN.md), and its flags.

Pure functions, no I/O. A modified block is read hunk by hunk (a run of edited words between
kept ones) after normalising away what never changes meaning (typography, entities, footnote
markers, numbering, link targets); a hunk is minor when it only touches dates, closed-class
words, spelling, a name, a label beside a date, or repeats a substitution the whole change set
makes (a term renamed throughout). An added or removed block is substantive when it is a
sentence of some length, except a notice that the document was updated. Dates, stop words and
update notices are read in English, French and Hindi, the languages of the watched pages.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.analysis.differ import Change, ChangeSet, diff_words
from monitor.analysis.links import destination
from monitor.extract.document import Block, parse_line
from storage.vocab import SIGNIFICANCE_LEVELS, Significance

Flag = Literal[
    "negation_flip",
    "modal_change",
    "date_change",
    "notice",
    "moved",
    "not_the_document",
    "capture_scope",
    "furniture",
    "label",
    "renamed",
    "term_renamed",
    "relinked",
    "control_moved",
    "control_renamed",
    "control_added",
    "control_removed",
    "form_link_changed",
]
Rename = tuple[str, str]


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u00a0\u2007\u2009\u200a\u202f", " "),
        **dict.fromkeys("\u00ad\u200b\u2060\ufeff", None),
        "\u2026": "...",
    }
)
_LINK_TARGET = re.compile(r"\[((?:\\.|[^\]\\])*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_FRAGMENT_TARGET = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(#[^()\s]*\)")  # a link within the page
# The tail of a link whose opening bracket an extraction lost: "Ads](https://...)"
_ORPHAN_TARGET = re.compile(r"\]\((?:https?://|#|/)(?:[^()\s]|\([^()\s]*\))*\)")
_FOOTNOTE = re.compile(r"\\?\[\d{1,3}\\?\]")  # [4] or \[4\]: renumbered whenever a note is added
_NUMBERING = re.compile(r"^\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)]\s+")
_TRAILING = re.compile(r"[\s.;:,]+$")
_WORD = re.compile(r"\w+(?:'\w+)*")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
# Day-month-year forms in French and Hindi ("15 juin 2023", "14 नवंबर 2024").
_MONTH_DMY = (
    r"(?:janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[ûu]t|septembre|octobre|novembre"
    r"|d[ée]cembre|जनवरी|फ़?फरवरी|फ़रवरी|मार्च|अप्रैल|मई|जून|जुलाई|अगस्त|सितंबर|सितम्बर|अक्टूबर"
    r"|अक्तूबर|नवंबर|नवम्बर|दिसंबर|दिसम्बर)"
)
_DATE = re.compile(  # case-sensitive on purpose: "May 2025" is a date, "may" is a modal
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b"
    rf"|\b(?:1er|\d{{1,2}})\s+{_MONTH_DMY}\s+\d{{4}}\b"
    rf"|\b{_MONTH}\s+\d{{4}}\b|\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b"
    r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b(?:19|20)\d{2}\b"
)
_NEGATIONS = _word_set("not no never none nor neither nothing nobody cannot without")
_MODALS = _word_set("may might will shall must can could would should")
_CONTRACTED = {"won": "will", "ca": "can", "sha": "shall"}
_STOPWORDS = _word_set(
    "a an the this that these those of to in on at by for from with as and or also such its it "
    "is are be been being was were has have had do does did which who whom whose there their "
    "our your his her then than so very just into onto upon within about via per etc "
    # French closed-class words (elided forms are split off by the word pattern: l' d' qu')
    "le la les l un une des du de d et ou à au aux en dans par pour sur avec sans ce cet cette "
    "ces son sa ses leur leurs notre nos votre vos qui que qu dont où est sont été être a ont "
    "il ils elle elles nous vous se s y ne "
    # Hindi postpositions, conjunctions and copulas
    "का की के को में से पर और या है हैं था थी थे यह वह ये वे भी तो ही एक"
)
# Wording of a notice that the document was updated ("We updated our Privacy Policy on ...",
# "Nous avons mis à jour ...", "... से लागू"): a notice that only points to the update.
_NOTICE = re.compile(
    r"\b(?:updat|revis|amend|chang|modifi)\w*|\beffective\b|\bin effect\b|\btakes? effect\b"
    r"|\bmise?s? à jour\b|\ben vigueur\b|अपडेट|लागू|संशोधित",
    re.I,
)
_NOTICE_WORDS = 40
# A changelog line: the document saying what its update changed in it ("We've added information
# about ...", "WhatsApp has made several updates to its Privacy Policy", "Nous avons précisé les
# informations ..."): about the text, not about a practice.
_CHANGELOG = re.compile(
    r"^(?:we(?:'ve| have)|[A-Z]\w*(?: \w+)? (?:has|have)|nous avons)\s+(?:also\s+)?"
    r"(?:added|updated|clarified|expanded|revised|removed|made|ajouté|mis à jour|précisé"
    r"|clarifié|apporté|supprimé)\b.*\b(?:information|details|polic(?:y|ies)|terms|changes"
    r"|updates|sections?|informations|politique|conditions|modifications)\b",
    re.I,
)
_LABEL_WORDS = 3  # "Effective", "Last updated:", "Date de révision": a label beside a date
_NEAR = 3  # characters between a label and its date (": ", " ")
_LEVELS = SIGNIFICANCE_LEVELS


def highest(levels: Iterable[Significance]) -> Significance | None:
    """The most significant of `levels`, None for none."""
    return max(levels, key=_LEVELS.index, default=None)


def renames(changeset: ChangeSet) -> frozenset[Rename]:
    """One-word substitutions the change set makes in RENAME_TIMES places or more: a term
    renamed throughout the document ("abonnés" -> "followers"), which changes no commitment."""
    counts: Counter[Rename] = Counter()
    for change in changeset.changes:
        spans = change.spans
        for i in range(len(spans) - 1):
            (op_a, a), (op_b, b) = spans[i], spans[i + 1]
            if {op_a, op_b} != {"-", "+"} or (i and spans[i - 1][0] != "="):
                continue
            if i + 2 < len(spans) and spans[i + 2][0] != "=":
                continue
            removed, added = (a, b) if op_a == "-" else (b, a)
            if len(_WORD.findall(removed)) == 1 and len(_WORD.findall(added)) == 1:
                counts[(removed.strip().lower(), added.strip().lower())] += 1
    return frozenset(pair for pair, times in counts.items() if times >= RENAME_TIMES)


RENAME_TIMES = 3

SCOPE_BLOCKS = 50
"""A capture-scope change adds (or removes) at least this many blocks..."""
SCOPE_RUNS = 8
"""...in at least this many separate runs spread through the document..."""
SCOPE_OTHER_SIDE = 0.05
"""...while removing (or adding) almost none: at most this share of as many blocks."""


def capture_scope(changeset: ChangeSet) -> frozenset[str]:
    """ "added" and/or "removed" when the blocks the change set adds (removes) are a change in
    what the capture includes rather than an edit: many blocks, scattered through the document
    in separate runs, with next to nothing taken away (put back) on the other side. That is the
    shape of collapsible sections captured expanded, or no longer; of footnotes or examples an
    extraction starts or stops reading; of a part of the page that did not load. An editor who
    adds passages rewords around them; the blocks modified alongside are judged as usual."""
    added = sorted(
        c.new_index for c in changeset.changes if c.kind == "added" and c.new_index is not None
    )
    removed = sorted(
        c.old_index for c in changeset.changes if c.kind == "removed" and c.old_index is not None
    )
    out = set()
    for kind, mine, other in (("added", added, removed), ("removed", removed, added)):
        if (
            len(mine) >= SCOPE_BLOCKS
            and _runs(mine) >= SCOPE_RUNS
            and len(other) <= SCOPE_OTHER_SIDE * len(mine)
        ):
            out.add(kind)
    return frozenset(out)


REPEATS = 3
"""A short line added (or removed) in this many places at once is page furniture..."""
REPEATED_WORDS = 5
"""...when it has at most this many words: "Return to top", "Play video", "Learn more"."""


def repeated_furniture(changeset: ChangeSet) -> frozenset[str]:
    """Short lines the change set adds, or removes, in REPEATS places or more: links and labels
    a page repeats by the section (back to top, play video), never a sentence."""
    counts: Counter[tuple[str, str]] = Counter()
    for change in changeset.changes:
        line = change.after if change.kind == "added" else change.before
        if change.kind in ("added", "removed") and line is not None:
            counts[(change.kind, line)] += 1
    return frozenset(
        line
        for (_, line), times in counts.items()
        if times >= REPEATS
        and len(_WORD.findall(cosmetic_form(parse_line(line)[1]))) <= REPEATED_WORDS
    )


LINK_LIST = 2
"""A section whose body is at least this many lines, each only a link, is a list of links..."""


def link_lists(blocks: Sequence[Block]) -> frozenset[int]:
    """The indices of blocks that are items of a list of links: a section whose whole body is
    lines that are each one link and nothing else ("Related articles", "More resources"). Such
    a list points elsewhere and says nothing itself (RUBRIC.md: page furniture); a section that
    says anything in words besides its links and a caption is not one."""
    out: set[int] = set()
    body: list[int] = []
    for i, block in enumerate((*blocks, None)):
        if block is not None and block.kind != "heading":
            body.append(i)
            continue
        links = sum(_only_link(blocks[j].text) for j in body)
        if links >= LINK_LIST and all(
            _only_link(blocks[j].text) or _caption(blocks[j].text) for j in body
        ):
            out.update(body)
        body = []
    return frozenset(out)


def _only_link(text: str) -> bool:
    return _LINK_TARGET.fullmatch(text.strip()) is not None


def _caption(text: str) -> bool:
    """A few words naming a list, not a sentence ("Related articles" printed again)."""
    words = _WORD.findall(text)
    return 0 < len(words) <= REPEATED_WORDS and not _SENTENCE_STOP.search(text.strip() + " ")


def is_notice(text: str) -> bool:
    """Whether `text` is a notice that the document was updated, few words long: a date with
    update wording ("We updated our Privacy Policy on April 7, 2025. View our previous
    policy."), or a changelog line ("We've added information about ...")."""
    norm = cosmetic_form(text)
    words = _WORD.findall(norm)
    if not words or len(words) > _NOTICE_WORDS:
        return False
    return bool(_DATE.search(norm) and _NOTICE.search(norm)) or bool(_CHANGELOG.match(norm))


def notice_edit(removed: str, added: str) -> bool:
    """Whether an edit only takes an update notice out of a text or puts one in: once the words
    both sides share at its ends are set aside, one side is empty and the other a notice."""
    a, b = _trim_shared(removed.split(), added.split())
    return not (a and b) and is_notice(" ".join(a or b))


def is_label(text: str) -> bool:
    """Whether `text` is an inline title, few words ending in a colon ("Undertaking research for
    social good:"): it names what follows."""
    norm = text.strip()
    words = _WORD.findall(cosmetic_form(norm))
    return (
        0 < len(words) <= _TITLE_WORDS
        and norm.endswith(":")
        and norm[:1].isupper()
        and not _SENTENCE_STOP.search(norm[:-1])
    )


_TITLE_WORDS = 8
_SENTENCE_STOP = re.compile(r"[.;:!?](?:\s|$)")


def label_edit(removed: str, added: str) -> bool:
    """Whether an edit only takes an inline title off the front of a text or puts one on (once
    the words both sides share at its ends are set aside, one side is empty and the other a
    label): the row's words, and what they say, are the same."""
    a, b = _trim_shared(removed.split(), added.split())
    return not (a and b) and is_label(" ".join(a or b))


def _trim_shared(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """The words of `a` and `b` once those both share at their ends are set aside (a word
    capitalised because a title before it went counts as shared)."""
    while a and b and a[-1].casefold() == b[-1].casefold():
        a, b = a[:-1], b[:-1]
    while a and b and a[0].casefold() == b[0].casefold():
        a, b = a[1:], b[1:]
    return a, b


def _runs(indices: list[int]) -> int:
    """How many runs of consecutive numbers `indices` (sorted) holds."""
    return sum(1 for i, n in enumerate(indices) if i == 0 or n != indices[i - 1] + 1)


def significance_of(
    change: Change, *, has_topics: bool, renamed: frozenset[Rename] = frozenset()
) -> tuple[Significance, tuple[Flag, ...]]:
    """How much one change matters, and its flags; `has_topics` says whether it carries a topic,
    `renamed` holds the change set's renames (see `renames`)."""
    if change.kind == "moved":
        return "cosmetic", ("moved",)
    if change.before is None or change.after is None:
        line = change.after if change.before is None else change.before
        return _block_significance(line or "", has_topics)
    before, after = parse_line(change.before)[1], parse_line(change.after)[1]
    norm_before, norm_after = cosmetic_form(before), cosmetic_form(after)
    if norm_before == norm_after:
        # A link that now points elsewhere matters when the sentence is about a topic (an opt-out
        # form that moved), and is noise otherwise.
        retargeted = _targets(before) != _targets(after)
        if retargeted and has_topics:
            return "minor", ("relinked",)
        return "cosmetic", ()
    dates = (_date_ranges(norm_before), _date_ranges(norm_after))
    level, flags = 0, set[Flag]()
    for hunk in _hunks(norm_before, norm_after):
        if (hunk.removed.strip().lower(), hunk.added.strip().lower()) in renamed:
            level = max(level, 1)  # a term renamed throughout: minor
            # A product or setting renamed concerns the sentence naming it; a common noun swept
            # through the text ("data" -> "information") says nothing of its sentences.
            named = _names_renamed(hunk, norm_before, norm_after)
            flags.add("renamed" if named else "term_renamed")
            continue
        hunk_level, hunk_flags = _hunk_significance(hunk, norm_before, norm_after, dates)
        level = max(level, hunk_level)
        flags |= hunk_flags
    return _LEVELS[level], tuple(sorted(flags))


def cosmetic_form(text: str, *, links: bool = True) -> str:
    """`text` with what never changes its meaning normalised away: whitespace, typography,
    footnote markers, list numbering, trailing punctuation and link targets (only those within
    the page when `links` is false).
    Case is kept: it can be meaningful."""
    if "&" in text:
        text = html.unescape(text)  # "&gt;" printed by a page that escaped twice
    text = text.translate(_TYPOGRAPHY)
    text = _FOOTNOTE.sub("", text)
    if links:  # a link is its words: "[Meta Products](...)" reads as "Meta Products"
        text = _ORPHAN_TARGET.sub("", _LINK_TARGET.sub(r"\1", text)).replace("[", "")
    else:
        text = _FRAGMENT_TARGET.sub(r"\1", text)
    text = " ".join(text.split())
    return _TRAILING.sub("", _NUMBERING.sub("", text))


def _targets(text: str) -> list[str]:
    """Where the links of `text` lead, in order (links.destination: a new tracking parameter or
    logging redirect leads to the same page)."""
    return [destination(m.group(0)[2:-1]) for m in _TARGET.finditer(text)]


_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")


def _block_significance(line: str, has_topics: bool) -> tuple[Significance, tuple[Flag, ...]]:
    kind, text, _ = parse_line(line)
    norm = cosmetic_form(text)
    words = _WORD.findall(norm)
    if not words or all(w.isdigit() for w in words):
        return "cosmetic", ()  # a footnote or list marker on a line of its own
    dates = _date_ranges(norm)
    if dates and len(words) - len(_words_within(norm, 0, dates)) <= 3:
        return "minor", ("date_change",)
    if is_notice(norm):
        return "cosmetic", ("notice",)  # "We updated our Privacy Policy on ...": a banner
    if kind == "heading" or is_label(text):
        return "minor", ("label",)  # names a section: what the section says carries the news
    if len(words) >= 6 or has_topics:
        return "substantive", ()
    return "minor", ()


@dataclass(slots=True)
class _Hunk:
    """One run of edits between kept words: what it removed and added, and where."""

    at_before: int
    at_after: int
    removed: str = ""
    added: str = ""


def _hunks(before: str, after: str) -> list[_Hunk]:
    hunks: list[_Hunk] = []
    pos_before = pos_after = 0
    current: _Hunk | None = None
    for op, text in diff_words(before, after):
        if op == "=":
            current = None
            pos_before, pos_after = pos_before + len(text), pos_after + len(text)
            continue
        if current is None:
            current = _Hunk(pos_before, pos_after)
            hunks.append(current)
        if op == "-":
            current.removed += text
            pos_before += len(text)
        else:
            current.added += text
            pos_after += len(text)
    return hunks


def _hunk_significance(
    hunk: _Hunk, before: str, after: str, dates: tuple[list[tuple[int, int]], list[tuple[int, int]]]
) -> tuple[int, set[Flag]]:
    """0 (cosmetic: an update notice), 1 (minor) or 2 (substantive) for one hunk, with its
    flags."""
    removed, added = _WORD.findall(hunk.removed), _WORD.findall(hunk.added)
    if not removed and not added:
        return 1, set()  # punctuation only
    if notice_edit(hunk.removed, hunk.added):
        return 0, {"notice"}  # an update banner run into the block, or taken out of it
    if label_edit(hunk.removed, hunk.added):
        return 0, {"label"}  # a row's inline title dropped: the row says what it said
    dated_removed = _words_within(hunk.removed, hunk.at_before, dates[0])
    dated_added = _words_within(hunk.added, hunk.at_after, dates[1])
    undated_removed = _content_words(_without(removed, dated_removed))
    undated_added = _content_words(_without(added, dated_added))
    same_date = Counter(dated_removed) == Counter(dated_added)
    if (dated_removed or dated_added) and not (undated_removed or undated_added):
        return 1, (set() if same_date else {"date_change"})  # a new date, or one rewritten
    if (
        same_date
        and len(undated_removed) <= _LABEL_WORDS
        and len(undated_added) <= _LABEL_WORDS
        and _touches_date(hunk, dates)
    ):
        return 1, set()  # "Effective" added before an unchanged date: a label
    flags = _flips(removed, added)
    if flags:
        return 2, flags
    lowered = [w.lower() for w in removed + added]
    if all(w in _STOPWORDS or w in _NEGATIONS or _modal(w) or w.endswith("n't") for w in lowered):
        return 1, set()  # flips were ruled out above, so negations and modals here are balanced
    if _respelled(removed, added) or _respelled(_content_words(removed), _content_words(added)):
        return 1, set()  # a spelling, or an article added to the same noun
    if _names_renamed(hunk, before, after):
        return 1, {"renamed"}  # a renamed product or setting
    return 2, set()


def _without(words: list[str], dated: list[str]) -> list[str]:
    left = Counter(dated)
    out = []
    for word in words:
        if left[word]:
            left[word] -= 1
        else:
            out.append(word)
    return out


def _content_words(words: list[str]) -> list[str]:
    return [w for w in words if w.lower() not in _STOPWORDS]


def _touches_date(hunk: _Hunk, dates: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> bool:
    """Whether the hunk overlaps a date or ends within a few characters of one, on either side."""
    edges = (
        (hunk.at_before, hunk.at_before + len(hunk.removed), dates[0]),
        (hunk.at_after, hunk.at_after + len(hunk.added), dates[1]),
    )
    return any(
        start <= date_end + _NEAR and date_start <= end + _NEAR
        for start, end, ranges in edges
        for date_start, date_end in ranges
    )


def flips_meaning(removed: str, added: str) -> bool:
    """Whether an edit that removed `removed` and added `added` flips a negation or a modal verb:
    it changes what the whole sentence around it commits to."""
    return bool(_flips(_WORD.findall(removed), _WORD.findall(added)))


CLAUSE_WORDS = 3
"""Content words (not a date, a number or a closed-class word) an edit must add or take away to
say something new in its sentence: "and to recommend things you might enjoy"."""


def says_more(removed: str, added: str) -> bool:
    """Whether an edit adds or takes away a clause of its own (CLAUSE_WORDS content words or
    more on one side, not a respelling of the other): a new purpose, a new place, a new kind of
    data. What the sentence it sits in is about, the edit is about."""
    before = [w for w in _content_words(_WORD.findall(removed)) if not w.isdigit()]
    after = [w for w in _content_words(_WORD.findall(added)) if not w.isdigit()]
    if max(len(before), len(after)) < CLAUSE_WORDS:
        return False
    return not _respelled(before, after)


def _flips(removed: list[str], added: list[str]) -> set[Flag]:
    """negation_flip / modal_change, for replacements and for small insertions or deletions (a
    whole new sentence with "may" in it is new content, not a modal change)."""
    if not (removed and added) and len(removed) + len(added) > 6:
        return set()
    flags: set[Flag] = set()
    if _negations(removed) != _negations(added):
        flags.add("negation_flip")
    if sorted(filter(None, map(_modal, removed))) != sorted(filter(None, map(_modal, added))):
        flags.add("modal_change")
    return flags


def _negations(words: list[str]) -> int:
    return sum(1 for w in words if w.lower() in _NEGATIONS or w.lower().endswith("n't"))


def _modal(word: str) -> str:
    """The modal verb `word` is a form of ("won't" -> "will"), or ""."""
    word = word.lower()
    if word == "cannot":
        return "can"
    if word.endswith("n't"):
        word = _CONTRACTED.get(word[:-3], word[:-3])
    return word if word in _MODALS else ""


def _respelled(removed: list[str], added: list[str]) -> bool:
    """Spelling-level: same letters ("e-mail"/"email", case), or each word a near miss of the
    other ("organisation"/"organization", "Center"/"Centre", "share"/"shared"); never numbers."""
    if "".join(removed).lower() == "".join(added).lower():
        return True
    if len(removed) != len(added):
        return False
    return all(_near(a, b) for a, b in zip(removed, added, strict=True))


def _near(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    if a == b:
        return True
    if any(c.isdigit() for c in a + b) or a[0] != b[0] or min(len(a), len(b)) < 4:
        return False
    stem = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    if stem >= 5 and stem >= 0.75 * min(len(a), len(b)):
        return True  # another form of the same word: "provide" / "providing"
    distance = _edit_distance(a, b)
    return distance <= 2 and 3 * distance <= max(len(a), len(b))


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[-1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def _names_renamed(hunk: _Hunk, before: str, after: str) -> bool:
    """Both sides of a hunk are names (short capitalised phrases): a product or setting renamed."""
    removed, added = _WORD.findall(hunk.removed), _WORD.findall(hunk.added)
    return _name_like(removed, before, hunk.at_before, hunk.removed) and _name_like(
        added, after, hunk.at_after, hunk.added
    )


def _name_like(words: list[str], text: str, offset: int, edit: str) -> bool:
    """A short capitalised phrase, not merely the capital that starts a sentence."""
    if not 1 <= len(words) <= 6 or not words[0][:1].isupper():
        return False
    first = _WORD.search(edit)
    start = offset + (first.start() if first else 0)
    preceding = text[:start].rstrip().rstrip("\"'([")
    at_sentence_start = not preceding or preceding[-1] in ".!?:"
    return not at_sentence_start or sum(1 for w in words if w[:1].isupper()) >= 2


def _date_ranges(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DATE.finditer(text)]


def _words_within(edit: str, offset: int, ranges: list[tuple[int, int]]) -> list[str]:
    """The words of `edit` (which starts at `offset` of its text) lying inside one of `ranges`."""
    return [
        m.group(0)
        for m in _WORD.finditer(edit)
        if any(s <= offset + m.start() and offset + m.end() <= e for s, e in ranges)
    ]
