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
from monitor.analysis.significance import (
    cosmetic_form,
    flips_meaning,
    label_edit,
    notice_edit,
    says_more,
)
from monitor.errors import ConfigError
from monitor.extract.document import Block, parse_line

Where = Literal["added", "removed", "context", "heading", "document"]
Basis = Literal["words", "sentence", "heading", "document"]

_WHERE_ORDER: dict[str, int] = {"added": 0, "removed": 1, "context": 2, "heading": 3, "document": 4}
_BASIS: dict[str, Basis] = {
    "added": "words",
    "removed": "words",
    "context": "sentence",
    "heading": "heading",
    "document": "document",
}
_WORD_CHARS = re.compile(r"\w+")
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
    # Training or improving AI models, and AI features that use people's data.
    TopicRule(
        "ai-training",
        terms=(
            "artificial intelligence", "AI", "AIs", "generative AI", "Meta AI", "machine learning",
            "deep learning", "large language model*", "LLM", "LLMs", "Llama", "neural network*",
            "train*", "retrain*", "fine-tun*", "chatbot*", "generative", "GPT", "GPTs",
            # the words AI products use for themselves and what people give them
            "assistant", "assistants", "prompts", "saved memories", "memory feature",
            # French and Hindi, the other languages of the watched pages
            "intelligence artificielle", "IA", "IA générative", "apprentissage automatique",
            "apprentissage profond", "modèle* de langage", "एआई", "कृत्रिम बुद्धिमत्ता",
            "मशीन लर्निंग",
        ),
        patterns=(
            r"\b(?:language|foundation|generative|learning|AI|ML)\s+models?\b",
            # "model responses", "model training", "outputs of the model"; "a prompt"
            r"\bmodels?\s+(?:training|outputs?|performance|responses?|improvement)\b",
            r"\b(?:your|a|the|each|any)\s+prompt\b(?!\s+(?:notice|payment|attention))",
            # "to improve our models", "develop and train the models behind ..."
            r"\b(?:improv|train|develop|build|fine[\s-]?tun|evaluat)\w*\s+(?:and\s+\w+\s+)?"
            r"(?:our|the|its|their|these|those)\s+(?:\w+\s+)?models?\b",
            # "entraîner nos outils", "l'entraînement des modèles" (not "entraîner" = to cause)
            r"\bentra[îi]n\w*\s+(?:\w+\s+){0,2}?(?:mod[èe]les?|outils|algorithmes?|syst[èe]mes?)\b",
        ),
        exclude=(
            "staff training", "employee training", "training for our employees", "business model*",
        ),
    ),
    TopicRule(
        "research",
        terms=(
            "research*", "study", "studies", "academic*", "scientific", "scholar*",
            "experiment*", "innovation",
            "recherche", "recherches", "chercheur*", "chercheuse*", "universitaire*",
            "scientifique*", "शोध", "अनुसंधान", "शोधकर्ता*",
        ),
        # "recherche" is also a search, and "rechercher" always is: a search bar or history is
        # not research. Neither is a kind of organisation that data comes from ("datasets from
        # research institutions").
        exclude=(
            "research institution*", "research organi*", "research group*",
            "barre de recherche", "historique de recherche", "historique des recherches",
            "moteur de recherche", "moteurs de recherche", "résultats de recherche",
            "vos recherches",
        ),
    ),
    # Interaction telemetry (rubric): keystrokes, typing rhythm, mouse or cursor movement,
    # clicks, taps, scrolling, swipes, hovering, dwell or pause times; not generic activity,
    # not the content people type or send.
    TopicRule(
        "behavioral-data",
        terms=(
            "keystroke*", "keypress*", "key press*", "typing rhythm*", "typing pattern*",
            "typing speed", "typing cadence", "clicks", "taps", "swipes", "scrolling", "scrolls",
            "hovering", "dwell time*", "interaction signals", "behavioral data",
            "behavioural data",
            "frappe* au clavier", "défilement", "माउस",
        ),
        patterns=(
            # "mouse movements", "cursor or pointer movements", "your mouse is moving"
            r"\b(?:mouse|cursor|pointer)(?:\s+(?:or|and)\s+(?:mouse|cursor|pointer))?"
            r"\s+(?:(?:is|are)\s+)?mov(?:e|es|ed|ing|ements?)\b",
            r"\b(?:mouse|cursor|pointer|trackpad)\s+(?:motion|position|activity|events?)s?\b",
            # "how you move your cursor", "where people move the mouse"
            r"\b(?:how|where|when)\s+(?:you|people|users|they)\s+mov(?:e|es)\s+"
            r"(?:your|their|the)\s+(?:mouse|cursor|pointer)\b",
            # "the rhythm of your typing", "the speed at which you type"
            r"\b(?:rhythm|speed|cadence|pace|timing|pattern)s?\s+(?:of|at\s+which)\s+"
            r"(?:your\s+|you\s+|their\s+|people\s+)?(?:typ\w*|keystrokes?)\b",
            r"\bhow\s+(?:far|fast|quickly|long)\s+(?:you|people|users|they)\s+"
            r"(?:scroll|type|hover|pause)\w*\b",
            # "whether you are typing", "pausing typing", "typing indicators": a state the app
            # reads from the keyboard, not what was typed
            r"\bwhether\s+(?:you|someone|people|users|they|a\s+person)\s+(?:are|is)\s+"
            r"(?:typing|scrolling|hovering|clicking|tapping|swiping)\b",
            r"\b(?:paus\w*|stop\w*)\s+typing\b|\btyping\s+(?:indicators?|status)\b",
            # "si votre souris bouge", "les mouvements de la souris"
            r"\bsouris\s+(?:bouge|se\s+d[ée]place)\w*",
            r"\b(?:mouvements?|d[ée]placements?)\s+(?:de\s+(?:la|votre)\s+|du\s+)(?:souris|curseur)\b",
        ),
        exclude=("click here", "tap here", "hover over the", "scroll down to", "scroll to the"),
    ),
    TopicRule(
        "opt-out-controls",
        terms=(
            "opt out", "opt-out", "object", "objection*", "right to object", "Privacy Center",
            "Privacy Centre", "settings", "control",
            "controls", "turn off", "turn it off", "unsubscribe", "delete", "deletion",
            "your choices",
            "paramètres", "vous opposer", "opposition", "droit d’opposition",
            "droit d'opposition", "désactiver", "supprimer", "suppression", "vos choix",
            "Espace Comptes", "Centre de confidentialité", "सेटिंग*", "आपत्ति",
        ),
        patterns=(
            r"\baccounts?\s+cent(?:er|re)\b",
            r"\bwithdraw\w*\s+(?:your\s+)?consent\b",
            r"\bretirer\s+(?:votre\s+)?consentement\b",
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
    """Why a change carries a topic, strongest first by `basis`:

    - `words`: the term is in the words the change added or removed (`where` says which);
    - `sentence`: the term is in a sentence whose wording the change altered (not only a number,
      a footnote mark, punctuation or typography);
    - `heading`: the term is in a heading the change sits under ("a change under an AI section
      concerns AI"), or in the lines that lead into the list it is an item of ("Develop and
      improve AI ...: Information categories we use:"); `sentence` holds that line;
    - `document`: the document is declared to be about the topic (`topics` in its config).
    """

    topic: str
    term: str
    where: Where
    sentence: str

    @property
    def basis(self) -> Basis:
        return _BASIS[self.where]


def find_evidence(
    change: Change,
    topics: Sequence[CompiledTopic],
    document_topics: Sequence[str] = (),
    leads: Sequence[str] = (),
    *,
    under_headings: bool = True,
) -> tuple[Evidence, ...]:
    """The evidence for each topic the change touches, in rule order: its changed words, else
    the sentences its wording altered, else what it sits under (its lead-in lines, `leads`,
    nearest first, then its headings unless it is not `under_headings`: a footnote's body that
    the page prints after a section), else the document's declared topics."""
    before = _Text(parse_line(change.before)[1] if change.before is not None else "")
    after = _Text(parse_line(change.after)[1] if change.after is not None else "")
    edits = _Edits.from_change(change, after)
    if edits.trivial:
        return ()
    found: list[Evidence] = []
    for topic in topics:
        evidence = _topic_evidence(topic, before, after, edits)
        if not evidence and change.kind != "moved":
            section = change.section if under_headings else ()
            evidence = _heading_evidence(topic, (*section, *reversed(leads)))
        if not evidence and topic.name in document_topics and change.kind != "moved":
            evidence = [Evidence(topic.name, topic.name, "document", "")]
        found.extend(evidence)
    return tuple(found)


def _heading_evidence(topic: CompiledTopic, section: Sequence[str]) -> list[Evidence]:
    for heading in reversed(section):  # the nearest heading first
        hits = _Text(heading).hits(topic)
        if hits:
            return [Evidence(topic.name, hits[0][2], "heading", heading)]
    return []


class _Text:
    """A block text split into sentences, with the addresses in it (which never count as terms)."""

    __slots__ = ("sentences", "starts", "text", "urls")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sentences = split_sentences(text)
        self.starts = [start for start, _ in self.sentences]
        self.urls = [m.span() for m in _URL.finditer(text)]

    def link_of(self, point: tuple[int, int]) -> tuple[int, int]:
        """`point`, widened to the whole link when it lies in a link's target: a form that now
        lives elsewhere is an edit of the link's words ("[this page](...)"), however long the
        address."""
        start, end = point
        for u_start, u_end in self.urls:
            if u_start <= start and end <= u_end and self.text.startswith("](", u_start):
                opening = self.text.rfind("[", 0, u_start)
                return (opening if opening >= 0 else start), end
        return point

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

    def length(self, index: int) -> int:
        start, end = self.sentences[index] if self.sentences else (0, 0)
        return end - start


SENTENCE_CHARS = 300
"""A sentence up to this long is one claim: an edit that says more in it (a new purpose, a new
place, a new kind of data: significance.says_more) concerns all it is about..."""
REACH = 40
"""...past that, and for any other edit, how far (in characters, about eight words) from the
edit a term of its sentence still counts as what the edit is about: a legal-basis row can run
one "sentence" over hundreds of words, and a footnote renumbered at its end says nothing about
the words at its start. An edit that flips a negation or a modal verb reaches its whole
sentence, however long."""


@dataclass(frozen=True, slots=True)
class _Edits:
    """Where a change edited its texts: removed ranges of `before`, added ranges of `after`, and
    the sentences of `after` the edit touched (a pure deletion touches the one it left a gap in)."""

    removed: tuple[tuple[int, int], ...]
    added: tuple[tuple[int, int], ...]
    touched: frozenset[int]
    trivial: bool = False  # every edit is only typography, case or a footnote mark
    points: tuple[tuple[int, int], ...] = ()  # where each edit sits in `after`
    whole: frozenset[int] = frozenset()  # sentences whose commitment an edit flips

    @classmethod
    def from_change(cls, change: Change, after: _Text) -> _Edits:
        if change.kind == "moved":
            return cls((), (), frozenset(), trivial=True)
        removed: list[tuple[int, int]] = []
        added: list[tuple[int, int]] = []
        points: list[tuple[int, int]] = []
        touched: set[int] = set()
        whole: set[int] = set()
        hunks = _hunks(change.spans)
        for hunk in hunks:
            if hunk.trivial:
                continue
            removed.extend(hunk.removed)
            added.extend(hunk.added)
            start, end = after.link_of(hunk.point)
            points.append((start, end))
            sentences = range(after.sentence_at(start), after.sentence_at(max(end - 1, start)) + 1)
            touched.update(sentences)
            if flips_meaning(hunk.removed_text, hunk.added_text) or (
                says_more(hunk.removed_text, hunk.added_text)
                and all(after.length(i) <= SENTENCE_CHARS for i in sentences)
            ):
                whole.update(sentences)
        trivial = bool(hunks) and all(h.trivial for h in hunks)
        return cls(
            tuple(removed),
            tuple(added),
            frozenset(touched),
            trivial,
            tuple(points),
            frozenset(whole),
        )

    def near(self, start: int, end: int) -> bool:
        """Whether a term at start:end of `after` lies within REACH characters of an edit."""
        return any(
            p_start - REACH < end and start < p_end + REACH for p_start, p_end in self.points
        )


@dataclass(slots=True)
class _Hunk:
    """A run of edits between kept text: its ranges in each text, and whether it is trivial."""

    removed: list[tuple[int, int]]
    added: list[tuple[int, int]]
    point: tuple[int, int]  # where it sits in the new text
    removed_text: str = ""
    added_text: str = ""

    @property
    def trivial(self) -> bool:
        """Only typography, case or a footnote mark changed, or an update notice or an inline
        title was run into the block or taken out of it (a link target is not trivial: an
        opt-out form that moved concerns opt-out controls)."""
        if _plain(self.removed_text) == _plain(self.added_text):
            return True
        return notice_edit(self.removed_text, self.added_text) or label_edit(
            self.removed_text, self.added_text
        )


def _plain(text: str) -> str:
    return " ".join(_WORD_CHARS.findall(cosmetic_form(text).casefold()))


def _hunks(spans: Sequence[Span]) -> list[_Hunk]:
    hunks: list[_Hunk] = []
    current: _Hunk | None = None
    pos_before = pos_after = 0
    for op, text in spans:
        if op == "=":
            current = None
            pos_before += len(text)
            pos_after += len(text)
            continue
        if current is None:
            current = _Hunk([], [], (pos_after, pos_after))
            hunks.append(current)
        if op == "-":
            current.removed.append((pos_before, pos_before + len(text)))
            current.removed_text += text
            pos_before += len(text)
        else:
            current.added.append((pos_after, pos_after + len(text)))
            current.added_text += text
            pos_after += len(text)
            current.point = (current.point[0], pos_after)
    return hunks


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
            for start, end, term, i in after_hits
            if i in edits.whole or (i in edits.touched and edits.near(start, end))
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


_SENTENCE_END = re.compile(
    r"([.!?]+[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])|(\s\|\s+)"
)
_ABBREVIATIONS = _word_set(
    "e.g. i.e. etc. inc. ltd. co. corp. mr. mrs. ms. dr. st. vs. no. approx. incl. cf. fig. "
    "jr. sr. ave. dept. est. jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec."
)
_INITIALS = re.compile(r"^(?:\w\.){2,}$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split after . ! ? followed by a space and a capital or digit,
    except after abbreviations ("e.g.", "Inc.") and initials ("U.S."), and between the cells of
    a table row (" | "): each cell says its own thing."""
    out = []
    start = len(text) - len(text.lstrip())
    for m in _SENTENCE_END.finditer(text):
        if m.group(2):  # a cell boundary
            if m.start() > start:
                out.append((start, m.start()))
            start = m.end()
            continue
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


def under_headings(blocks: Sequence[Block], index: int) -> bool:
    """Whether `blocks[index]` belongs to the section its headings name: not when a footnote's
    label (a paragraph that is only a number, "28") stands between it and its heading. Pages
    print footnote and pop-up bodies after the section that cites them; the data list of a
    footnote printed after "Researching and innovating for social good" is not research."""
    for block in reversed(blocks[:index]):
        if block.kind == "heading":
            return True
        if _footnote_label(block):
            return False
    return True


def _footnote_label(block: Block) -> bool:
    return block.kind == "paragraph" and _FOOTNOTE_LABEL.fullmatch(block.text.strip()) is not None


_FOOTNOTE_LABEL = re.compile(r"\[?\d{1,3}\]?")

LEAD_REACH = 12
"""How many blocks back `lead_lines` looks for what leads into a list item."""


def lead_lines(blocks: Sequence[Block], index: int) -> list[str]:
    """The lines that lead into the list item `blocks[index]`, nearest first: walking back over
    the items of its list and of lists before it, the paragraphs that end in a colon (lead-ins,
    "Information categories we use:") and the paragraph that opens the passage ("Develop and
    improve AI at Meta."); a heading or a second opening paragraph ends the walk. Empty for a
    block that is not a list item."""
    if not 0 <= index < len(blocks) or blocks[index].kind != "item":
        return []
    out: list[str] = []
    for block in reversed(blocks[max(index - LEAD_REACH, 0) : index]):
        if block.kind == "heading" or _footnote_label(block):
            break
        if block.kind == "item":
            continue
        out.append(block.text)
        if not block.text.rstrip().endswith(":"):
            break  # the passage's opening line
    return out
