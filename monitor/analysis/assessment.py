"""Document x Document -> Assessment: what changed, in which sections, about what, and how much.

The one assessment of a change, used by the checker (stored with the change), `compare`, the web
and the alerts, in one JSON shape (`Assessment.to_json()`, schema SCHEMA): per changed block its
kind, section (heading path), before and after lines, word spans, topics with their evidence,
significance, flags and the controls it changed; for the whole, the highest significance, the
topics and the flags.

A change to a control (monitor.analysis.controls: a settings path that moved, a toggle renamed,
added or removed, a form that now lives elsewhere) is flagged on the first changed block that
describes it, with the kind of control change as its flag (`control_moved`...), counts as
evidence of CONTROLS_TOPIC, and makes the block at least minor; a removed control is
substantive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from monitor.analysis.controls import ControlChange, LocatedChange, located_changes
from monitor.analysis.differ import Change, ChangeSet, diff_documents
from monitor.analysis.significance import (
    SCOPE_BLOCKS,
    Flag,
    capture_scope,
    cosmetic_form,
    highest,
    link_lists,
    renames,
    repeated_furniture,
    significance_of,
)
from monitor.analysis.topics import (
    Evidence,
    TopicRule,
    compile_rules,
    find_evidence,
    lead_lines,
    under_headings,
)
from monitor.extract.document import Document, parse_line
from storage.vocab import Significance

SCHEMA = "policywatch.changeset/1"


Earlier = Callable[[], Iterable[str]]
"""The block lines of the page's versions before the old one (read only when needed)."""

EARLIER_VERSIONS = 100
"""How many versions before the one a change is diffed from `check`, `import` and `compare`
read to tell text a capture restores from new text (only for a capture that adds many blocks):
footnotes a page stopped printing for a year come back word for word."""


def assess(
    old: Document,
    new: Document,
    rules: Sequence[TopicRule],
    document_topics: Sequence[str] = (),
    earlier: Earlier | None = None,
) -> Assessment:
    """Diff two documents and classify every change; `document_topics` are the topics the
    document is declared to be about (an AI product's terms: every change concerns AI);
    `earlier` gives the lines of older versions, to tell text a capture restores from new text
    (see `classify`)."""
    return classify(diff_documents(old, new), rules, document_topics, earlier, (old, new))


@dataclass(frozen=True, slots=True)
class AssessedChange:
    change: Change
    topics: tuple[Evidence, ...]
    significance: Significance
    flags: tuple[Flag, ...]
    controls: tuple[ControlChange, ...] = ()

    def to_json(self) -> dict[str, object]:
        c = self.change
        return {
            "kind": c.kind,
            "section": list(c.section),
            "before": c.before,
            "after": c.after,
            "spans": [[op, text] for op, text in c.spans],
            "topics": [
                {
                    "topic": e.topic,
                    "term": e.term,
                    "where": e.where,
                    "basis": e.basis,
                    "sentence": e.sentence,
                }
                for e in self.topics
            ],
            "significance": self.significance,
            "flags": list(self.flags),
            "controls": [control.to_json() for control in self.controls],
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    changes: tuple[AssessedChange, ...]
    significance: Significance | None
    topics: tuple[str, ...]
    flags: tuple[Flag, ...]

    def not_the_document(self) -> Assessment:
        """This assessment for a pair where one capture is not the document (an error page, a
        capture that lost the text): every change cosmetic and flagged `not_the_document`; the
        topics stay, saying what the swapped text is about (RUBRIC.md: an error page replacing
        an AI paragraph concerns AI, and is not a change in meaning)."""
        flag: tuple[Flag, ...] = ("not_the_document",)
        changes = tuple(
            replace(c, significance="cosmetic", flags=tuple(sorted({*c.flags, *flag})))
            for c in self.changes
        )
        return Assessment(
            changes,
            "cosmetic" if changes else None,
            self.topics,
            tuple(sorted({*self.flags, *flag})),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "significance": self.significance,
            "topics": list(self.topics),
            "flags": list(self.flags),
            "changes": [change.to_json() for change in self.changes],
        }


RESTORED_SHARE = 0.5
"""A capture that adds back at least this share of its added blocks word for word from earlier
versions re-expands what the page showed before; what is new in it is read as an edit."""


def classify(
    changeset: ChangeSet,
    rules: Sequence[TopicRule],
    document_topics: Sequence[str] = (),
    earlier: Earlier | None = None,
    documents: tuple[Document, Document] | None = None,
) -> Assessment:
    """Topics, evidence, significance and flags for every change, and for the set as a whole.
    `documents` (old and new) give an added or removed list item the lines leading into its
    list, as evidence of what it is about.

    Blocks added or removed in a change of the capture's scope (significance.capture_scope:
    sections captured expanded or collapsed, an extraction that reads more or less) are
    cosmetic and carry no topic. So are many added blocks (SCOPE_BLOCKS or more) that mostly put
    back text the page showed before (`earlier`), whatever else the capture changed. Either way
    the added blocks the page never showed are still read as edits: a re-expanded section that
    now says something new.
    """
    compiled = compile_rules(tuple(rules))
    renamed = renames(changeset)
    scope = capture_scope(changeset)
    fresh: frozenset[str | None] = frozenset()
    added = sum(1 for c in changeset.changes if c.kind == "added")
    if "added" in scope or added >= SCOPE_BLOCKS:
        restored = _restoration(changeset, earlier, documents[0] if documents else None)
        if restored is not None:  # mostly what the page showed before: the capture re-expanded
            scope, fresh = scope | {"added"}, restored
    furniture = repeated_furniture(changeset)
    located = located_changes(*documents) if documents is not None else []
    listed = (  # a list of links is furniture, unless a control in it changed (a form moved)
        (
            link_lists(documents[0].blocks) - {i for lc in located for i in lc.old_blocks},
            link_lists(documents[1].blocks) - {i for lc in located for i in lc.new_blocks},
        )
        if documents is not None
        else (frozenset[int](), frozenset[int]())
    )
    carried = _Carried(documents) if documents is not None else None
    assessed = []
    for change in changeset.changes:
        if change.kind in scope and change.after not in fresh:
            assessed.append(AssessedChange(change, (), "cosmetic", ("capture_scope",)))
            continue
        if (change.after if change.kind == "added" else change.before) in furniture or (
            change.old_index in listed[0] or change.new_index in listed[1]
        ):
            assessed.append(AssessedChange(change, (), "cosmetic", ("furniture",)))
            continue
        evidence = find_evidence(
            change,
            compiled,
            document_topics,
            _leads(change, documents),
            under_headings=_under_headings(change, documents),
        )
        if carried is not None and any(e.where in ("added", "removed") for e in evidence):
            evidence = carried.drop(evidence)
        own = any(e.basis in ("words", "sentence") for e in evidence)  # not only its heading's
        significance, flags = significance_of(change, has_topics=own, renamed=renamed)
        if significance == "cosmetic" or "label" in flags:
            evidence = ()  # a renumbered footnote in a sentence about cursors says nothing of them,
            # and a heading that came or went names its section: the section carries the topics
        elif significance == "minor" and not {"renamed", "relinked"} & set(flags):
            # a respelling says nothing of what it sits in; a renamed setting, or a link that
            # now leads elsewhere, concerns the sentence that names it ("To opt out, open ...")
            evidence = tuple(e for e in evidence if e.basis in ("words", "document"))
        assessed.append(AssessedChange(change, evidence, significance, flags))
    if documents is not None:
        topic = CONTROLS_TOPIC if any(r.name == CONTROLS_TOPIC for r in rules) else None
        assessed = _with_controls(assessed, located, topic)
    return Assessment(
        tuple(assessed),
        highest(a.significance for a in assessed),
        tuple(sorted({e.topic for a in assessed for e in a.topics})),
        tuple(sorted({f for a in assessed for f in a.flags})),
    )


CONTROLS_TOPIC = "opt-out-controls"
"""The topic a control change is evidence of (when the rules have it)."""
_LOST: frozenset[str] = frozenset({"control_removed"})
"""Control changes that make their block substantive: a control people can no longer find."""


def _with_controls(
    assessed: list[AssessedChange], located: Sequence[LocatedChange], topic: str | None
) -> list[AssessedChange]:
    """Each control change on the first changed block that describes the control (a block the
    capture's scope or furniture explains is left alone): its kind as a flag, evidence of
    `topic`, at least minor significance (substantive for a removed control)."""
    found: dict[int, list[ControlChange]] = {}
    for lc in located:
        for i, a in enumerate(assessed):
            if {"capture_scope", "furniture"} & set(a.flags):
                continue
            if a.change.old_index in lc.old_blocks or a.change.new_index in lc.new_blocks:
                found.setdefault(i, []).append(lc.change)
                break
    out = list(assessed)
    for i, changes in found.items():
        a = out[i]
        level: Significance = "substantive" if _LOST & {c.kind for c in changes} else "minor"
        evidence = (
            tuple(
                Evidence(topic, _named(c), "added" if c.after else "removed", _told(c))
                for c in changes
            )
            if topic
            else ()
        )
        out[i] = replace(
            a,
            topics=(*evidence, *a.topics),
            significance=highest((a.significance, level)) or level,
            flags=tuple(sorted({*a.flags, *(c.kind for c in changes)})),
            controls=tuple(changes),
        )
    return out


def _named(change: ControlChange) -> str:
    control = change.after or change.before
    assert control is not None
    return control.label or (control.path[-1] if control.path else control.link or "")


def _told(change: ControlChange) -> str:
    control = change.after or change.before
    assert control is not None
    return control.sentence


def _restoration(
    changeset: ChangeSet, earlier: Earlier | None, old: Document | None = None
) -> frozenset[str | None] | None:
    """When the capture mostly puts back text the page showed before (at least RESTORED_SHARE
    of its added blocks), the added lines the page never showed; else None (and None without
    earlier versions: a first expansion has nothing to be compared with). A line whose words the
    old capture already held inside a longer block (a table row read cell by cell, where it was
    read as one line) is not new either: the capture split what it showed."""
    if earlier is None:
        return None
    seen = {_same(line) for line in earlier()}  # footnotes renumber as sections come and go
    added = [c.after for c in changeset.changes if c.kind == "added" and c.after is not None]
    fresh = [line for line in added if _same(line) not in seen]
    if not added or len(added) - len(fresh) < RESTORED_SHARE * len(added):
        return None
    if old is not None and fresh:
        shown = set().union(*(_shingles(_words(block.line)) for block in old.blocks))
        fresh = [line for line in fresh if not _told_before(line, shown)]
    return frozenset(fresh)


SHINGLE = 5
"""Words in a row that, found in the old capture, say those words were shown before..."""
SHOWN_SHARE = 0.9
"""...and a line counts as shown when at least this share of its words were."""


def _words(line: str) -> list[str]:
    return _WORDS.findall(_GLUED.sub(" ", _same(line)).casefold())


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 1))}


def _told_before(line: str, shown: set[tuple[str, ...]]) -> bool:
    """Whether the old capture already showed `line`'s words, however it cut them into blocks
    (a table row read as one line that is now read cell by cell, or glued to its row's label):
    a word counts as shown when a run of SHINGLE words holding it was."""
    words = _words(line)
    covered = [False] * len(words)
    for i in range(max(len(words) - SHINGLE + 1, 1)):
        if tuple(words[i : i + SHINGLE]) in shown:
            covered[i : i + SHINGLE] = [True] * len(covered[i : i + SHINGLE])
    return sum(covered) >= SHOWN_SHARE * len(words)


_WORDS = re.compile(r"\w+")
_GLUED = re.compile(r"(?<=[a-z.,;:)])(?=[A-Z])")  # "integrityWe use": cells read without a space


def _same(line: str) -> str:
    """A line as `cosmetic_form` reads it: a restored block matches whatever its numbering."""
    return cosmetic_form(parse_line(line)[1])


def _under_headings(change: Change, documents: tuple[Document, Document] | None) -> bool:
    """Whether the change's block belongs to the section it sits in (see topics.under_headings)."""
    if documents is None:
        return True
    if change.new_index is not None:
        return under_headings(documents[1].blocks, change.new_index)
    if change.old_index is not None:
        return under_headings(documents[0].blocks, change.old_index)
    return True


def _leads(change: Change, documents: tuple[Document, Document] | None) -> list[str]:
    """The lead-in lines of an added or removed list item, in the document that has it."""
    if documents is None:
        return []
    if change.kind == "added" and change.new_index is not None:
        return lead_lines(documents[1].blocks, change.new_index)
    if change.kind == "removed" and change.old_index is not None:
        return lead_lines(documents[0].blocks, change.old_index)
    return []


class _Carried:
    """What both documents say, to tell words an edit carried along (a table row moved to another
    legal basis, still saying "if your mouse is moving") from words it wrote or took out: an
    added term, with a few words either side, that the new document does not say more often
    than the old one did (a removed one the new document does not say less often) moved; it is
    not what the change is about."""

    def __init__(self, documents: tuple[Document, Document]) -> None:
        self._documents = documents
        self._texts: tuple[str, str] | None = None

    def drop(self, evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
        if self._texts is None:
            self._texts = (_flat(self._documents[0]), _flat(self._documents[1]))
        old, new = self._texts
        kept = []
        for e in evidence:
            if e.where in ("added", "removed"):
                window = _window(e)
                before, after = old.count(window), new.count(window)
                more, fewer = (after, before) if e.where == "added" else (before, after)
                if more - fewer < (max(2.0, fewer * BOILERPLATE_SHARE) if fewer else 1):
                    continue  # as often on both sides, give or take one copy of what it says
            kept.append(e)
        return tuple(kept)


BOILERPLATE_SHARE = 0.25
"""A phrase the page already says is carried by one more copy of it (a row copied under a second
legal basis), and a phrase it repeats in every table row ("if your mouse is moving", 26 times)
by a few more: it counts as written (or taken out) when its count grows (or falls) by two and
by at least this share. A phrase the page never said counts at once."""

CARRIED_WORDS = 6
"""Words on either side of a term that must come with it for it to count as carried along."""


def _flat(doc: Document) -> str:
    return "\n".join(_key(block.text) for block in doc.blocks)


def _window(e: Evidence) -> str:
    """The term of `e` with up to CARRIED_WORDS words either side, from its sentence."""
    words = _key(e.sentence).split()
    term = _key(e.term).split()
    for i in range(len(words) - len(term) + 1):
        if [w.strip(".,;:()") for w in words[i : i + len(term)]] == term:
            return " ".join(words[max(i - CARRIED_WORDS, 0) : i + len(term) + CARRIED_WORDS])
    return "\0"  # the term was not found word for word: never carried


def _key(text: str) -> str:
    return cosmetic_form(text).casefold()
