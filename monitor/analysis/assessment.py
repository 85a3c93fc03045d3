"""Document x Document -> Assessment: what changed, in which sections, about what, and how much.

The one assessment of a change, used by the checker (stored with the change), `compare`, the web
and the alerts, in one JSON shape (`Assessment.to_json()`, schema SCHEMA): per changed block its
kind, section (heading path), before and after lines, word spans, topics with their evidence,
significance and flags; for the whole, the highest significance, the topics and the flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.analysis.differ import Change, ChangeSet, diff_documents
from monitor.analysis.significance import Flag, highest, renames, significance_of
from monitor.analysis.topics import Evidence, TopicRule, compile_rules, find_evidence
from monitor.extract.document import Document
from storage.vocab import Significance

SCHEMA = "policywatch.changeset/1"


def assess(old: Document, new: Document, rules: Sequence[TopicRule]) -> Assessment:
    """Diff two documents and classify every change."""
    return classify(diff_documents(old, new), rules)


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
            "schema": SCHEMA,
            "significance": self.significance,
            "topics": list(self.topics),
            "flags": list(self.flags),
            "changes": [change.to_json() for change in self.changes],
        }


def classify(changeset: ChangeSet, rules: Sequence[TopicRule]) -> Assessment:
    """Topics, evidence, significance and flags for every change, and for the set as a whole."""
    compiled = compile_rules(tuple(rules))
    renamed = renames(changeset)
    assessed = []
    for change in changeset.changes:
        evidence = find_evidence(change, compiled)
        significance, flags = significance_of(change, has_topics=bool(evidence), renamed=renamed)
        if significance == "cosmetic":
            evidence = ()  # a renumbered footnote in a sentence about cursors says nothing of them
        assessed.append(AssessedChange(change, evidence, significance, flags))
    return Assessment(
        tuple(assessed),
        highest(a.significance for a in assessed),
        tuple(sorted({e.topic for a in assessed for e in a.topics})),
        tuple(sorted({f for a in assessed for f in a.flags})),
    )
