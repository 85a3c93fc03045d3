"""The opt-out map: every control the watched pages describe today, where it lives, since when,
and its history of moves and renames; and every control change, newest first, for the feed.

One walk through each document's versions, oldest first: the controls of each version are
matched with those of the one before (monitor.analysis.controls.match_controls, the identity
`compare` and the assessment use), so a control keeps its history through moves and renames.
`since` is the version from which a control reads as it does today (path, label and link), its
`first` the version it first appeared in. The CLI (`policywatch controls`), the web page
`/controls`, `/api/controls` and the feed `/feeds/controls.atom` all read this. Pure: versions
come from the caller (`versions_of` reads them lazily from any history with `version_count`
and `version`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from monitor.analysis.controls import (
    Control,
    ControlChangeKind,
    differences,
    extract_controls,
    match_controls,
)
from monitor.extract.document import Document


class VersionLike(Protocol):
    @property
    def number(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def text(self) -> str: ...


class History(Protocol):
    def version_count(self, slug: str) -> int: ...
    def version(self, slug: str, number: int) -> VersionLike | None: ...


def versions_of(history: History, slug: str) -> Iterator[VersionLike]:
    """A document's versions, oldest first, each read when the walk reaches it."""
    for number in range(1, history.version_count(slug) + 1):
        version = history.version(slug, number)
        if version is not None:
            yield version


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """One change of a control: its kind, the version (and date) that made it, before and after."""

    document: str
    kind: ControlChangeKind
    version: int
    at: datetime
    before: Control | None
    after: Control | None

    @property
    def control(self) -> Control:
        found = self.after or self.before
        assert found is not None
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "kind": self.kind,
            "version": self.version,
            "date": self.at.isoformat(),
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


@dataclass(slots=True)
class MappedControl:
    """A control as the latest version describes it, with where it came from."""

    document: str
    control: Control
    first_version: int
    first_at: datetime
    since_version: int
    since_at: datetime
    history: list[ControlEvent] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.document,
            **self.control.to_json(),
            "since_version": self.since_version,
            "since": self.since_at.isoformat(),
            "first_version": self.first_version,
            "first_seen": self.first_at.isoformat(),
            "history": [event.to_json() for event in self.history],
        }


@dataclass(slots=True)
class DocumentControls:
    """One document's map: its controls today and every control change, oldest first."""

    document: str
    today: list[MappedControl]
    events: list[ControlEvent]


def document_controls(document: str, versions: Iterable[VersionLike]) -> DocumentControls:
    """The map of one document from its versions, oldest first."""
    tracked: list[tuple[Control, MappedControl]] = []
    events: list[ControlEvent] = []
    for seen, version in enumerate(versions):
        current = _controls(version.text)
        by_control = {id(c): m for c, m in tracked}
        now: list[tuple[Control, MappedControl]] = []
        for old, new in match_controls([c for c, _ in tracked], current):
            if new is None:
                assert old is not None
                gone = ControlEvent(
                    document, "control_removed", version.number, version.created_at, old, None
                )
                events.append(gone)
                continue
            if old is None:
                mapped = MappedControl(
                    document, new, version.number, version.created_at, version.number,
                    version.created_at,
                )  # fmt: skip
                if seen:  # the first version describes the controls; later ones add
                    event = ControlEvent(
                        document, "control_added", version.number, version.created_at, None, new
                    )
                    events.append(event)
                    mapped.history.append(event)
                now.append((new, mapped))
                continue
            mapped = by_control[id(old)]
            changed = [
                ControlEvent(document, c.kind, version.number, version.created_at, old, new)
                for c in differences(old, new)
            ]
            if (old.path, old.label, old.link) != (new.path, new.label, new.link):
                mapped.since_version, mapped.since_at = version.number, version.created_at
            mapped.control = new
            mapped.history.extend(changed)
            events.extend(changed)
            now.append((new, mapped))
        tracked = now
    return DocumentControls(document, [m for _, m in tracked], events)


def _controls(text: str) -> tuple[Control, ...]:
    return tuple(extract_controls(Document.from_text(text)))


class MapCache:
    """Each document's map, kept while its newest version stays the same (`key`: its number,
    date and text hash): a map changes only when a version is recorded or imported, so a web
    process walks a document's versions once per new version, not once per request."""

    def __init__(self) -> None:
        self._maps: dict[str, tuple[Hashable, DocumentControls]] = {}

    def get(
        self, document: str, key: Hashable, build: Callable[[], DocumentControls]
    ) -> DocumentControls:
        kept = self._maps.get(document)
        if kept is not None and kept[0] == key:
            return kept[1]
        built = build()
        self._maps[document] = (key, built)
        return built


def control_map(documents: Iterable[tuple[str, Iterable[VersionLike]]]) -> list[DocumentControls]:
    """The map of each document, from (slug, versions oldest first)."""
    return [document_controls(slug, versions) for slug, versions in documents]


def latest_events(maps: Iterable[DocumentControls], limit: int) -> list[ControlEvent]:
    """The `limit` most recent control changes across documents, newest first (those of one
    version in the order of the page)."""
    events = list(enumerate(event for m in maps for event in m.events))
    events.sort(key=lambda pair: (pair[1].at, pair[1].version, -pair[0]), reverse=True)
    return [event for _, event in events[:limit]]
