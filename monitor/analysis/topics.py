"""Classify a ChangeSet: the topics each change touches (with evidence), significance and flags.

Pure functions, no I/O. Topic rules are compiled once per rule set (cached), since this runs on
every check. Significance is monitor.analysis.significance's.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from monitor.analysis.differ import Change, Span
from monitor.errors import ConfigError
from monitor.extract.document import parse_line

Where = Literal["added", "removed", "context"]

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
