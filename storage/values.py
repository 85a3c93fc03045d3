"""The plain values storage takes and gives: frozen dataclasses, and the allowed enum values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FULL_EVERY = 16
"""A delta chain stores a full copy every FULL_EVERY rows, so a read decodes at most that many."""


class NotFound(LookupError):
    """A write named a page or version that does not exist."""


# ---- values in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSpec:
    slug: str
    name: str
    url: str
    fetcher: str
    rules_hash: str
    settings: str | None = None  # the document's settings (JSON), for workers


@dataclass(frozen=True)
class SnapshotIn:
    fetched_at: datetime
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content_type: str
    body: bytes


@dataclass(frozen=True)
class VersionIn:
    text: str
    text_sha256: str
    rules_hash: str
    words: int
    technical: bool = False
    reverts_to: int | None = None  # the older version whose text this one returned to


@dataclass(frozen=True)
class ChangeIn:
    significance: str
    topics: list[str]
    flags: list[str]
    changeset: list[dict[str, Any]]
    from_version: int  # the number of the version the new one was compared against


@dataclass(frozen=True)
class CheckIn:
    started_at: datetime
    finished_at: datetime
    outcome: str
    fetcher: str
    duration_ms: float
    error_kind: str | None = None
    message: str | None = None
    http_status: int | None = None
    body_sha256: str | None = None
    text_sha256: str | None = None
    seen_version: int | None = None  # an existing version this check saw (unchanged, flip...)
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = (
        None  # the page's extraction fingerprint (monitor.extract.fingerprint)
    )


@dataclass(frozen=True)
class AlertIn:
    kind: str
    payload: dict[str, Any]
    channels: list[str]  # one pending delivery per channel, due at once
    # channels whose first attempt waits (digest channels: the end of their period)
    due_at: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class IncidentIn:
    """What a check does to its page's incident: open one, count another failure, or close it."""

    action: str  # "open" | "continue" | "close"
    kind: str = ""  # the error kind of the failing checks
    message: str = ""  # the last error
    since: datetime | None = None  # for "open": when the failures began
    failures: int = 1  # for "open": the failed checks so far, this one included


@dataclass(frozen=True)
class IncidentOut:
    id: int
    slug: str
    kind: str
    opened_at: datetime
    closed_at: datetime | None
    failures: int
    last_error: str | None


@dataclass(frozen=True)
class PageState:
    """What a check decides from, read under the page's lock in the check's own transaction."""

    latest: VersionMeta | None
    recent: list[VersionMeta]  # newest first, the latest included
    last_check: CheckOut | None
    last_seen: CheckOut | None  # the last check that read a text (not failed)
    last_good: CheckOut | None  # the last check that saw the document (nor pending)
    incident: IncidentOut | None  # the page's open incident
    failures: int  # failed checks since the last good one (pending ones neither count nor break)
    failing_since: datetime | None
    seen_since_latest: list[
        str
    ]  # text SHA-256 of the checks since the latest version, newest first


@dataclass(frozen=True)
class Recorded:
    check_id: int
    version: int | None
    change_id: int | None
    alert_ids: list[int]
    incident_id: int | None = None


# ---- values out ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOut:
    id: int
    slug: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    fetcher: str
    duration_ms: float
    error_kind: str | None
    message: str | None
    http_status: int | None
    body_sha256: str | None
    text_sha256: str | None
    version: int | None
    snapshot_id: int | None
    etag: str | None
    last_modified: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class PageOut:
    slug: str
    name: str
    url: str
    fetcher: str
    rules_hash: str
    active: bool
    versions: int
    last_check: CheckOut | None


@dataclass(frozen=True)
class VersionMeta:
    number: int
    created_at: datetime
    text_sha256: str
    technical: bool
    words: int
    size: int
    reverts_to: int | None = None
    source: str | None = None  # set on an imported version: the archive it came from
    source_commit: str | None = None


@dataclass(frozen=True)
class VersionOut:
    number: int
    created_at: datetime
    text: str
    text_sha256: str
    rules_hash: str
    technical: bool
    words: int
    snapshot_id: int | None
    reverts_to: int | None = None
    source: str | None = None  # set on an imported version: the archive it came from
    source_commit: str | None = None


@dataclass(frozen=True)
class ChangeOut:
    id: int
    slug: str
    from_version: int
    to_version: int
    created_at: datetime
    significance: str
    topics: list[str]
    flags: list[str]
    changeset: list[dict[str, Any]]
    n_changes: int


@dataclass(frozen=True)
class SnapshotMeta:
    """A stored page without its body: what the evidence says about it."""

    id: int
    slug: str
    fetched_at: datetime
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    content_type: str
    body_sha256: str
    size: int


@dataclass(frozen=True)
class SnapshotOut(SnapshotMeta):
    """A stored page with its body, decoded."""

    body: bytes


@dataclass(frozen=True)
class DeliveryOut:
    """One delivery of an alert to one channel, with the alert it carries."""

    id: int
    alert_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    idempotency_key: str
    created_at: datetime
    kind: str
    slug: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class VersionRef:
    """A version as the evidence of its snapshot names it: no text, its hashes."""

    number: int
    created_at: datetime
    text_sha256: str
    rules_hash: str
    technical: bool


@dataclass(frozen=True)
class Evidence:
    """One stored page (body included) and the versions extracted from it, oldest first."""

    snapshot: SnapshotOut
    versions: list[VersionRef]
