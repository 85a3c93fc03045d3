"""Import archived versions of a watched document: Markdown to canonical text, each change
assessed as a check's would be (diff, topics, significance), then written in one transaction
(storage.imports), with no alert and no delivery.

What goes in, oldest first: versions dated after the newest one imported before and before the
first version policywatch's own checks recorded. Skipped, and counted in the report: commits
already imported, versions dated inside history already imported or at or after the first own
version (policywatch's own record of that time wins), texts too short to be the document
(`min_chars`: an archive's capture of an error page), and texts identical to the version before
(an archive's version that differed only in what canonical text drops: link tokens, markup).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from monitor.analysis.assessment import EARLIER_VERSIONS, assess
from monitor.archive.sources import ArchivedHistory
from monitor.config import DocumentSettings, Settings
from monitor.errors import UsageError
from monitor.extract.document import Document
from monitor.extract.markdown import normalize_markdown
from storage.imports import ImportAnchor, ImportedVersionIn
from storage.repo import Repo
from storage.values import ChangeIn, VersionIn

RULES = "markdown"
"""The rules_hash of an imported version: read from Markdown, not by the config's rules."""
PROGRESS_EVERY = 25

Progress = Callable[[str], None]


@dataclass
class ImportReport:
    source: str
    imported: int = 0
    renumbered: int = 0  # own versions moved up to follow the imported ones
    already: int = 0
    inside_imported: int = 0
    after_own: int = 0
    too_short: int = 0
    same_text: int = 0
    first: datetime | None = None
    last: datetime | None = None
    numbers: tuple[int, int] | None = None

    def lines(self) -> list[str]:
        if self.imported and self.numbers and self.first and self.last:
            head = (
                f"imported {self.imported} version{'s' if self.imported != 1 else ''} "
                f"(v{self.numbers[0]}-v{self.numbers[1]}, {self.first:%Y-%m-%d} to "
                f"{self.last:%Y-%m-%d}) from {self.source}"
            )
        else:
            head = f"imported nothing from {self.source}"
        out = [head]
        if self.renumbered:
            out.append(
                f"renumbered the {self.renumbered} version(s) policywatch recorded itself to "
                f"follow them (alerts sent before name their old numbers)"
            )
        skipped = [
            (self.already, "already imported"),
            (self.inside_imported, "dated before the newest version imported before"),
            (self.after_own, "dated at or after policywatch's own first version"),
            (self.too_short, "too short to be the document (min_chars)"),
            (self.same_text, "the same canonical text as the version before"),
        ]
        out += [f"skipped {n}: {why}" for n, why in skipped if n]
        return out


def import_history(
    repo: Repo,
    settings: Settings,
    doc: DocumentSettings,
    history: ArchivedHistory,
    progress: Progress | None = None,
    *,
    renumber: bool = False,
) -> ImportReport:
    """Import `history` into `doc`'s versions; returns what was imported and what skipped.

    Versions go ahead of those policywatch recorded itself, which are then renumbered: a version
    number is what alerts, notes and exports cite, so that needs `renumber` (UsageError, with
    nothing written, without it)."""
    report = ImportReport(history.source)
    anchor = repo.imports.anchor(doc.slug)
    newest_at = None
    recent: deque[Document] = deque(maxlen=EARLIER_VERSIONS + 1)
    if anchor.after:
        newest = repo.history.version(doc.slug, anchor.after)
        assert newest is not None
        newest_at = newest.created_at
        recent.append(Document.from_text(newest.text))
    min_chars = settings.rules(doc).min_chars
    planned: list[ImportedVersionIn] = []
    total = len(history.versions)
    for seen, archived in enumerate(history.versions, start=1):
        if progress is not None and seen % PROGRESS_EVERY == 0:
            progress(f"{doc.slug}: read {seen}/{total} ({archived.date:%Y-%m-%d})")
        skip = _out_of_place(archived.commit, archived.date, anchor, newest_at)
        if skip:
            setattr(report, skip, getattr(report, skip) + 1)
            continue
        text = normalize_markdown(archived.markdown())
        if len(text.text) < min_chars:
            report.too_short += 1
            continue
        if recent and recent[-1].sha256 == text.sha256:
            report.same_text += 1
            continue
        number = anchor.after + len(planned) + 1
        change = None
        if recent and not archived.technical:
            change = _change(settings, doc, recent, text, number - 1)
        version = VersionIn(text.text, text.sha256, RULES, text.words, archived.technical)
        planned.append(
            ImportedVersionIn(version, archived.date, history.source, archived.commit, change)
        )
        recent.append(text)
    if planned and anchor.own_first is not None and not renumber:
        raise _renumbering(repo, doc, anchor, len(planned))
    bridge = _bridge(repo, settings, doc, anchor, recent, len(planned))
    if progress is not None and planned:
        progress(f"{doc.slug}: writing {len(planned)} versions")
    report.imported = repo.imports.import_versions(doc.slug, anchor, planned, bridge)
    if planned:
        report.first, report.last = planned[0].created_at, planned[-1].created_at
        report.numbers = (anchor.after + 1, anchor.after + len(planned))
        if anchor.own_first is not None:
            report.renumbered = repo.history.version_count(doc.slug) - anchor.after - len(planned)
    return report


def _out_of_place(
    commit: str, date: datetime, anchor: ImportAnchor, newest_at: datetime | None
) -> str | None:
    """Why an archived version has no place in this import (the report's counter), or None."""
    if commit in anchor.imported_commits:
        return "already"
    if anchor.own_first_at is not None and date >= anchor.own_first_at:
        return "after_own"
    if newest_at is not None and date <= newest_at:
        return "inside_imported"
    return None


def _renumbering(repo: Repo, doc: DocumentSettings, anchor: ImportAnchor, count: int) -> UsageError:
    assert anchor.own_first is not None
    own = repo.history.version_count(doc.slug) - anchor.after
    return UsageError(
        f"{doc.slug}: {count} archived version(s) go before the {own} policywatch recorded "
        f"itself, which would be renumbered (v{anchor.own_first} becomes "
        f"v{anchor.own_first + count}) while alerts and exports already name their numbers; "
        "nothing imported (pass --renumber to import anyway)"
    )


def _change(
    settings: Settings,
    doc: DocumentSettings,
    recent: deque[Document],
    new: Document,
    from_number: int,
) -> ChangeIn:
    """The change from the newest of `recent` to `new`, assessed as a check assesses one."""
    old = recent[-1]
    before = list(recent)[:-1]

    def earlier() -> Iterator[str]:
        for document in reversed(before):
            yield from (b.line for b in document.blocks)

    assessment = assess(old, new, settings.topics, doc.topics, earlier)
    return ChangeIn(
        significance=assessment.significance or "cosmetic",
        topics=list(assessment.topics),
        flags=list(assessment.flags),
        changeset=[change.to_json() for change in assessment.changes],
        from_version=from_number,
    )


def _bridge(
    repo: Repo,
    settings: Settings,
    doc: DocumentSettings,
    anchor: ImportAnchor,
    recent: deque[Document],
    count: int,
) -> ChangeIn | None:
    """The change from the newest imported version into the first own one, once renumbered."""
    if anchor.own_first is None or not count:
        return None
    own = repo.history.version(doc.slug, anchor.own_first)
    assert own is not None
    return _change(settings, doc, recent, Document.from_text(own.text), anchor.after + count)
