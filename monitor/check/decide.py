"""The decision of a check, and its incident, as pure functions of the page state and what was seen.

    decide(state, observation, guards) -> Decision

`state` is storage's PageState, read under the page's lock in the transaction that will record
the decision; `observation` is what acquiring and extracting the page gave. A Decision is one of
a tagged union (its `outcome`): new, changed, reverted, unchanged, not_modified, flip, pending,
failed. Version numbers in it come from the state, so two checks of one page never disagree.

Returning to an older text is told apart by what the checks saw since the latest version:

- the first time the page shows the text of an older version (within `flip_window`), the check
  is `pending`: a return is news only when it persists;
- the next check seeing that text again makes a version marked as a reversion to it (an alert
  goes out): a rollback;
- a return after the page already showed another text since the latest version (it alternates,
  an A/B test) is a `flip`: no version, no alert.

A capture that differs from the latest version by a new block that is only an error message
("This page isn't available right now": a part of the page failed to load) is `failed`
(error_page): when the page loads again it is unchanged, so nothing alerts either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from monitor.errors import CheckError, ExtractError
from monitor.extract.document import Document
from monitor.extract.guards import error_blocks, no_new_error_block, not_the_document
from storage.values import CheckOut, IncidentIn, PageState, VersionMeta

PendingKind = Literal["shrink", "return"]


@dataclass(frozen=True, slots=True)
class Page:
    """An extracted page: its document and the fingerprint of its bytes (None: not trusted)."""

    doc: Document
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class SamePage:
    """The page's fingerprint is the last good check's: its text is that check's, unextracted."""

    fingerprint: str


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server answered 304 Not Modified."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The page could not be fetched or is not the document."""

    error: CheckError


Observation = Page | SamePage | NotModified | Failed


@dataclass(frozen=True, slots=True)
class Guards:
    shrink_ratio: float
    flip_window: int


# -- the decisions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class New:
    outcome: Literal["new"] = "new"


@dataclass(frozen=True, slots=True)
class Changed:
    base: VersionMeta  # the latest version, which the new one is compared with
    outcome: Literal["changed"] = "changed"


@dataclass(frozen=True, slots=True)
class Reverted:
    base: VersionMeta  # the latest version
    to: VersionMeta  # the older version whose text came back
    outcome: Literal["reverted"] = "reverted"


@dataclass(frozen=True, slots=True)
class Seen:
    """No version: the page is a version we have (unchanged, not modified, a flip)."""

    version: VersionMeta
    outcome: Literal["unchanged", "not_modified", "flip"]
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    kind: PendingKind
    message: str
    outcome: Literal["pending"] = "pending"


@dataclass(frozen=True, slots=True)
class Refused:
    error: CheckError
    outcome: Literal["failed"] = "failed"


Decision = New | Changed | Reverted | Seen | Pending | Refused


def decide(
    state: PageState,
    observation: Observation,
    guards: Guards,
    latest_text: Callable[[], Document],
    sha256: str | None = None,
) -> Decision:
    """What the check found, from the page's state and what it observed. `latest_text` reads
    the latest version's document (only a shrink needs it); `sha256` is the observed text's."""
    latest = state.latest
    if isinstance(observation, Failed):
        return Refused(observation.error)
    if isinstance(observation, NotModified):
        return Seen(latest, "not_modified") if latest else Refused(_nothing_to_compare())
    if isinstance(observation, SamePage):
        assert latest is not None, "a fingerprint is trusted only when a version was seen"
        return Seen(latest, "unchanged")
    doc = observation.doc
    sha = sha256 or doc.sha256
    if latest is None:
        return New()
    if sha == latest.text_sha256:
        return Seen(latest, "unchanged")
    older = next(
        (v for v in state.recent[1 : guards.flip_window + 1] if v.text_sha256 == sha), None
    )
    if older is not None:
        return _return_to(state, older, sha)
    if error_blocks(doc):  # a part of the page failed to load, unless the last version had it
        try:
            no_new_error_block(doc, latest_text())
        except ExtractError as exc:
            return Refused(exc)
    if doc.words < latest.words * guards.shrink_ratio:
        try:
            not_the_document(doc, latest_text(), shrink_ratio=guards.shrink_ratio)
        except ExtractError as exc:
            return Refused(exc)
        if not _again(state.last_seen, "pending", sha):
            return Pending(
                "shrink",
                f"text shrank from {latest.words:,} to {doc.words:,} words; it becomes a "
                f"version only if the next check sees the same text",
            )
    return Changed(latest)


def _return_to(state: PageState, older: VersionMeta, sha: str) -> Decision:
    latest = state.latest
    assert latest is not None
    if _again(state.last_seen, "pending", sha):
        return Reverted(latest, older)
    others = [seen for seen in state.seen_since_latest if seen != latest.text_sha256]
    if others:
        return Seen(
            older,
            "flip",
            f"same text as version {older.number}: the page alternates between variants",
        )
    return Pending(
        "return",
        f"the text went back to version {older.number}'s; it becomes a version (a reversion) "
        f"if the next check sees it again",
    )


def _again(last: CheckOut | None, outcome: str, sha: str) -> bool:
    return last is not None and last.outcome == outcome and last.text_sha256 == sha


def _nothing_to_compare() -> CheckError:
    return CheckError("fetch", "the server answered 304 Not Modified to a first check")


# -- incidents ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentStep:
    """What a check does to its page's incident, and the alert that goes with it (if any)."""

    incident: IncidentIn | None
    alert: Literal["incident_opened", "incident_closed"] | None = None


def incident_step(state: PageState, decision: Decision, *, after: int) -> IncidentStep:
    """Open an incident after `after` failed checks in a row, close it on the first good one.

    One alert when it opens and one when it closes; none while the failure continues; a pending
    check neither counts nor breaks the streak.
    """
    open_incident = state.incident
    if isinstance(decision, Pending):
        return IncidentStep(None)
    if not isinstance(decision, Refused):
        if open_incident is None:
            return IncidentStep(None)
        close = IncidentIn("close", open_incident.kind, open_incident.last_error or "")
        return IncidentStep(close, "incident_closed")
    kind, message = decision.error.kind, decision.error.message
    if open_incident is not None:
        return IncidentStep(IncidentIn("continue", kind, message))
    failures = state.failures + 1
    if failures < after:
        return IncidentStep(None)
    return IncidentStep(
        IncidentIn("open", kind, message, since=state.failing_since, failures=failures),
        "incident_opened",
    )
