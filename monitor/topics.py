"""Classify a ChangeSet: the topics each change touches (with evidence), significance and flags.

Pure functions, no I/O. Topic rules are compiled once per rule set (cached), since this runs on
every check. Significance follows DESIGN.md: cosmetic < minor < substantive.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from monitor.differ import Change, ChangeSet, Span, diff_words
from monitor.document import parse_line
from monitor.errors import ConfigError

Significance = Literal["cosmetic", "minor", "substantive"]
SIGNIFICANCE_ORDER: dict[str, int] = {"cosmetic": 0, "minor": 1, "substantive": 2}
Where = Literal["added", "removed", "context"]
Flag = Literal["negation_flip", "modal_change", "date_change", "moved"]

_WHERE_ORDER: dict[str, int] = {"added": 0, "removed": 1, "context": 2}
_JOINER = r"[\s\-\u2010\u2011]+"  # words of a phrase may be split by spaces or hyphens
_BOUNDED = r"(?<!\w)(?:{})(?!\w)"


@dataclass(frozen=True, slots=True)
class TopicRule:
    """A topic and how to spot it in a sentence.

    `terms` are case-insensitive words or phrases matched on word boundaries; the words of a
    phrase may be joined by spaces or hyphens ("opt out" also finds "opt-out"). A trailing `*`
    makes the last word a prefix: "train*" finds train, trains, trained, training, trainer and
    trainee, but not "restrain" or "constraint". `patterns` are case-insensitive regular
    expressions. A sentence containing one of the `exclude` terms does not count for the topic.
    """

    name: str
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def compile(self) -> CompiledTopic:
        """The rule's regular expressions; cached, so calling it again is free."""
        return _compile_rule(self)


@dataclass(frozen=True, slots=True)
class CompiledTopic:
    name: str
    matchers: tuple[re.Pattern[str], ...]
    exclude: re.Pattern[str] | None

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, matched text) of every match in `text`, in order, longest first."""
        hits = [
            (m.start(), m.end(), m.group(0))
            for rx in self.matchers
            for m in rx.finditer(text)
            if m.end() > m.start()
        ]
        return sorted(hits, key=lambda hit: (hit[0], -hit[1]))


def term_regex(term: str) -> str:
    """The regular expression for one term (see TopicRule)."""
    return _BOUNDED.format(_term_body(term))


def _term_body(term: str) -> str:
    prefix = term.endswith("*")
    words = [word for word in re.split(_JOINER, term.rstrip("*").strip()) if word]
    if not words:
        raise ValueError(f"term {term!r} has no words")
    return _JOINER.join(re.escape(word) for word in words) + (r"\w*" if prefix else "")


def _alternation(terms: Iterable[str]) -> str:
    # One boundary check around all the terms: the engine then tests the terms only where a word
    # starts, ten times faster on a long text than a boundary per term. Longest terms first, so
    # "Meta AI" is reported rather than the "AI" inside it.
    ordered = sorted(terms, key=len, reverse=True)
    return _BOUNDED.format("|".join(_term_body(t) for t in ordered))


@lru_cache(maxsize=256)
def _compile_rule(rule: TopicRule) -> CompiledTopic:
    key = f"topics.{rule.name}"
    if not rule.terms and not rule.patterns:
        raise ConfigError(f"topic {rule.name!r} has neither terms nor patterns", key=key)
    try:
        matchers = [re.compile(_alternation(rule.terms), re.I)] if rule.terms else []
    except ValueError as exc:
        raise ConfigError(f"{exc} in topic {rule.name!r}", key=f"{key}.terms") from exc
    for pattern in rule.patterns:
        try:
            matchers.append(re.compile(pattern, re.I))
        except re.error as exc:
            raise ConfigError(f"bad pattern {pattern!r}: {exc}", key=f"{key}.patterns") from exc
    try:
        exclude = re.compile(_alternation(rule.exclude), re.I) if rule.exclude else None
    except ValueError as exc:
        raise ConfigError(f"{exc} in topic {rule.name!r}", key=f"{key}.exclude") from exc
    return CompiledTopic(rule.name, tuple(matchers), exclude)


@lru_cache(maxsize=32)
def compile_rules(rules: tuple[TopicRule, ...]) -> tuple[CompiledTopic, ...]:
    """Compile a rule set once; `classify` calls this, so repeated checks reuse the patterns."""
    return tuple(rule.compile() for rule in rules)


DEFAULT_TOPICS: tuple[TopicRule, ...] = (
    TopicRule(
        "ai-training",
        terms=(
            "artificial intelligence", "AI", "generative AI", "Meta AI", "machine learning",
            "deep learning", "large language model*", "LLM", "LLMs", "Llama", "neural network*",
            "train*", "retrain*",
        ),
        patterns=(r"\b(?:language|foundation|generative|learning|AI|ML)\s+models?\b",),
        exclude=("staff training", "employee training", "training for our employees"),
    ),
    TopicRule(
        "research",
        terms=(
            "research*", "study", "studies", "academic*", "scientific", "scholar*",
            "experiment*", "innovation",
        ),
    ),
    TopicRule(
        "behavioral-data",
        terms=(
            "keystroke*", "keypress*", "typing rhythm*", "typing pattern*", "typing speed",
            "typing cadence",
            "clicks", "taps", "swipes", "scrolling", "scrolls", "hovering", "hover",
            "dwell time", "how you interact with", "interaction data", "behavioral data",
            "behavioural data",
        ),
        patterns=(
            # "mouse movements", "cursor or pointer movements", "your mouse is moving"
            r"\b(?:mouse|cursor|pointer)(?:\s+(?:or|and)\s+(?:mouse|cursor|pointer))?"
            r"\s+(?:(?:is|are)\s+)?mov(?:e|es|ed|ing|ements?)\b",
        ),
        exclude=("click here", "tap here", "hover over the", "scroll down to"),
    ),
    TopicRule(
        "opt-out-controls",
        terms=(
            "opt out", "opt-out", "object", "objection*", "right to object", "Privacy Center",
            "Privacy Centre", "settings", "control",
            "controls", "turn off", "turn it off", "unsubscribe", "delete", "deletion",
            "your choices",
        ),
        patterns=(
            r"\baccounts?\s+cent(?:er|re)\b",
            r"\bwithdraw\w*\s+(?:your\s+)?consent\b",
            r"\bform\b(?!\s+of\b)",
        ),
    ),
    TopicRule(
        "data-sharing",
        terms=(
            "third part*", "partner*", "vendor*", "service provider*", "transfer*", "sell",
            "sells", "selling", "sale of", "affiliates", "Meta Companies", "disclose*",
        ),
        patterns=(
            r"\b(?:we|meta|they)\s+(?:\w+\s+){0,3}?shar(?:e|es|ed|ing)\b",
            r"\bshared\s+with\b",
            r"\bsharing\s+(?:of\s+)?(?:your\s+|this\s+|such\s+)?(?:information|data)\b",
        ),
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a change carries a topic: the matched words and the sentence they sit in."""

    topic: str
    term: str
    where: Where
    sentence: str


@dataclass(frozen=True, slots=True)
class AssessedChange:
    change: Change
    topics: tuple[Evidence, ...]
    significance: Significance
    flags: tuple[Flag, ...]

    def to_json(self) -> dict[str, object]:
        c = self.change
        return {
            "kind": c.kind,
            "section": list(c.section),
            "before": c.before,
            "after": c.after,
            "spans": [[op, text] for op, text in c.spans],
            "topics": [
                {"topic": e.topic, "term": e.term, "where": e.where, "sentence": e.sentence}
                for e in self.topics
            ],
            "significance": self.significance,
            "flags": list(self.flags),
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    changes: tuple[AssessedChange, ...]
    significance: Significance | None
    topics: tuple[str, ...]
    flags: tuple[Flag, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "significance": self.significance,
            "topics": list(self.topics),
            "flags": list(self.flags),
            "changes": [change.to_json() for change in self.changes],
        }


def classify(changeset: ChangeSet, rules: Sequence[TopicRule]) -> Assessment:
    """Topics, evidence, significance and flags for every change, and for the set as a whole."""
    compiled = compile_rules(tuple(rules))
    assessed = []
    for change in changeset.changes:
        evidence = find_evidence(change, compiled)
        significance, flags = significance_of(change, has_topics=bool(evidence))
        assessed.append(AssessedChange(change, evidence, significance, flags))
    levels = [a.significance for a in assessed]
    return Assessment(
        tuple(assessed),
        max(levels, key=_LEVELS.index) if levels else None,
        tuple(sorted({e.topic for a in assessed for e in a.topics})),
        tuple(sorted({f for a in assessed for f in a.flags})),
    )


def find_evidence(change: Change, topics: Sequence[CompiledTopic]) -> tuple[Evidence, ...]:
    """The evidence for each topic the change touches, in rule order."""
    before = _Text(parse_line(change.before)[1] if change.before is not None else "")
    after = _Text(parse_line(change.after)[1] if change.after is not None else "")
    edits = _Edits.from_change(change, after)
    found: list[Evidence] = []
    for topic in topics:
        found.extend(_topic_evidence(topic, before, after, edits))
    return tuple(found)


class _Text:
    """A block text split into sentences, with the addresses in it (which never count as terms)."""

    __slots__ = ("sentences", "starts", "text", "urls")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sentences = split_sentences(text)
        self.starts = [start for start, _ in self.sentences]
        self.urls = [m.span() for m in _URL.finditer(text)]

    def sentence_at(self, pos: int) -> int:
        return max(bisect_right(self.starts, pos) - 1, 0)

    def hits(self, topic: CompiledTopic) -> list[tuple[int, int, str, int]]:
        """(start, end, term, sentence index) of the topic's matches outside addresses and
        outside excluded sentences."""
        out = []
        for start, end, term in topic.find(self.text) if self.text else ():
            if self.urls and _overlaps(self.urls, start, end):
                continue  # "/privacy/genai" or "#4-PartnersWhoUseOur" is an address, not a claim
            index = self.sentence_at(start)
            if topic.exclude is not None and topic.exclude.search(self.sentence(index)):
                continue
            out.append((start, end, term, index))
        return out

    def sentence(self, index: int) -> str:
        start, end = self.sentences[index]
        return self.text[start:end]


@dataclass(frozen=True, slots=True)
class _Edits:
    """Where a change edited its texts: removed ranges of `before`, added ranges of `after`, and
    the sentences of `after` the edit touched (a pure deletion touches the one it left a gap in)."""

    removed: tuple[tuple[int, int], ...]
    added: tuple[tuple[int, int], ...]
    touched: frozenset[int]

    @classmethod
    def from_change(cls, change: Change, after: _Text) -> _Edits:
        if change.kind == "moved":
            return cls((), (), frozenset(range(len(after.sentences))))
        removed, added, points = _edit_ranges(change.spans)
        touched: set[int] = set()
        for start, end in points:
            touched.update(
                range(after.sentence_at(start), after.sentence_at(max(end - 1, start)) + 1)
            )
        return cls(tuple(removed), tuple(added), frozenset(touched))


def _edit_ranges(
    spans: Sequence[Span],
) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]:
    removed, added, points = [], [], []
    pos_before = pos_after = 0
    for op, text in spans:
        if op == "=":
            pos_before += len(text)
            pos_after += len(text)
        elif op == "-":
            removed.append((pos_before, pos_before + len(text)))
            points.append((pos_after, pos_after))
            pos_before += len(text)
        else:
            added.append((pos_after, pos_after + len(text)))
            points.append((pos_after, pos_after + len(text)))
            pos_after += len(text)
    return removed, added, points


def _topic_evidence(
    topic: CompiledTopic, before: _Text, after: _Text, edits: _Edits
) -> list[Evidence]:
    after_hits = after.hits(topic)
    direct = [
        Evidence(topic.name, term, "added", after.sentence(i))
        for start, end, term, i in after_hits
        if _overlaps(edits.added, start, end)
    ] + [
        Evidence(topic.name, term, "removed", before.sentence(i))
        for start, end, term, i in before.hits(topic)
        if _overlaps(edits.removed, start, end)
    ]
    if direct:
        return _unique(direct)
    return _unique(
        [
            Evidence(topic.name, term, "context", after.sentence(i))
            for _, _, term, i in after_hits
            if i in edits.touched
        ]
    )


_URL = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)|\b(?:https?://|www\.)\S+")


def _overlaps(ranges: Iterable[tuple[int, int]], start: int, end: int) -> bool:
    return any(r_start < end and start < r_end for r_start, r_end in ranges)


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in sorted(evidence, key=lambda e: _WHERE_ORDER[e.where]):
        key = (e.term.lower(), e.where, e.sentence)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SENTENCE_END = re.compile(r"([.!?]+[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
_ABBREVIATIONS = _word_set(
    "e.g. i.e. etc. inc. ltd. co. corp. mr. mrs. ms. dr. st. vs. no. approx. incl. cf. fig. "
    "jr. sr. ave. dept. est. jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec."
)
_INITIALS = re.compile(r"^(?:\w\.){2,}$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split after . ! ? followed by a space and a capital or digit,
    except after abbreviations ("e.g.", "Inc.") and initials ("U.S.")."""
    out = []
    start = len(text) - len(text.lstrip())
    for m in _SENTENCE_END.finditer(text):
        words = text[start : m.start() + 1].split()
        last = words[-1].lstrip("([\"'\u201c\u2018").lower() if words else ""
        if m.group(1) == "." and (last in _ABBREVIATIONS or _INITIALS.match(last)):
            continue
        out.append((start, m.end(1)))
        start = m.end()
    end = len(text.rstrip())
    if start < end or not out:
        out.append((start, max(end, start)))
    return out


# Significance ------------------------------------------------------------------------------------

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
_LINK_TARGET = re.compile(r"(\[(?:\\.|[^\]\\])*\])\((?:[^()\s]|\([^()\s]*\))*\)")
_FRAGMENT_TARGET = re.compile(r"(\[(?:\\.|[^\]\\])*\])\(#[^()\s]*\)")  # a link within the page
_FOOTNOTE = re.compile(r"\\?\[\d{1,3}\\?\]")  # [4] or \[4\]: renumbered whenever a note is added
_NUMBERING = re.compile(r"^\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)]\s+")
_TRAILING = re.compile(r"[\s.;:,]+$")
_WORD = re.compile(r"\w+(?:'\w+)*")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = re.compile(  # case-sensitive on purpose: "May 2025" is a date, "may" is a modal
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}\b"
    rf"|\b{_MONTH}\s+\d{{4}}\b|\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b"
    r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b(?:19|20)\d{2}\b"
)
_NEGATIONS = _word_set("not no never none nor neither nothing nobody cannot without")
_MODALS = _word_set("may might will shall must can could would should")
_CONTRACTED = {"won": "will", "ca": "can", "sha": "shall"}
_STOPWORDS = _word_set(
    "a an the this that these those of to in on at by for from with as and or also such its it "
    "is are be been being was were has have had do does did which who whom whose there their "
    "our your his her then than so very just into onto upon within about via per etc"
)
_LEVELS: tuple[Significance, ...] = ("cosmetic", "minor", "substantive")


def significance_of(change: Change, *, has_topics: bool) -> tuple[Significance, tuple[Flag, ...]]:
    """How much one change matters, and its flags; `has_topics` says whether it carries a topic."""
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
        retargeted = cosmetic_form(before, links=False) != cosmetic_form(after, links=False)
        return ("minor" if retargeted and has_topics else "cosmetic"), ()
    dates = (_date_ranges(norm_before), _date_ranges(norm_after))
    level, flags = 1, set[Flag]()
    for hunk in _hunks(norm_before, norm_after):
        hunk_level, hunk_flags = _hunk_significance(hunk, norm_before, norm_after, dates)
        level = max(level, hunk_level)
        flags |= hunk_flags
    return _LEVELS[level], tuple(sorted(flags))


def cosmetic_form(text: str, *, links: bool = True) -> str:
    """`text` with what never changes its meaning normalised away: whitespace, typography,
    footnote markers, list numbering, trailing punctuation and link targets (only those within
    the page when `links` is false).
    Case is kept: it can be meaningful."""
    text = text.translate(_TYPOGRAPHY)
    text = _LINK_TARGET.sub(r"\1", text) if links else _FRAGMENT_TARGET.sub(r"\1", text)
    text = " ".join(_FOOTNOTE.sub("", text).split())
    return _TRAILING.sub("", _NUMBERING.sub("", text))


def _block_significance(line: str, has_topics: bool) -> tuple[Significance, tuple[Flag, ...]]:
    kind, text, _ = parse_line(line)
    norm = cosmetic_form(text)
    words = _WORD.findall(norm)
    if not words:
        return "cosmetic", ()
    dates = _date_ranges(norm)
    if dates and len(words) - len(_words_within(norm, 0, dates)) <= 3:
        return "minor", ("date_change",)
    if kind != "heading" and (len(words) >= 6 or has_topics):
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
    """1 (minor) or 2 (substantive) for one hunk, with its flags."""
    removed, added = _WORD.findall(hunk.removed), _WORD.findall(hunk.added)
    if not removed and not added:
        return 1, set()  # punctuation only
    dated = _words_within(hunk.removed, hunk.at_before, dates[0]) + _words_within(
        hunk.added, hunk.at_after, dates[1]
    )
    if len(dated) == len(removed) + len(added):
        return 1, {"date_change"}
    flags = _flips(removed, added)
    if flags:
        return 2, flags
    lowered = [w.lower() for w in removed + added]
    if all(w in _STOPWORDS or w in _NEGATIONS or _modal(w) or w.endswith("n't") for w in lowered):
        return 1, set()  # flips were ruled out above, so negations and modals here are balanced
    if _respelled(removed, added):
        return 1, set()
    if _name_like(removed, before, hunk.at_before, hunk.removed) and _name_like(
        added, after, hunk.at_after, hunk.added
    ):
        return 1, set()  # a renamed product or setting
    return 2, set()


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
