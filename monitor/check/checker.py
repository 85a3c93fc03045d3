"""check_document(): fetch, normalise, compare, classify and record one document, as named steps.

The one place the steps are wired together. A check's outcome is a value (`CheckResult.outcome`),
never an exception: operational failures (fetch, extract) are recorded as a failed check and the
run goes on. CPU-heavy work (parse, diff) and the database run in a worker thread so the event
loop stays free for other fetches.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Protocol

from monitor.alerting.payloads import Alerting
from monitor.analysis.differ import diff_documents
from monitor.analysis.topics import classify
from monitor.config import DocumentSettings, Settings
from monitor.errors import CheckError, ExtractError, FetchError
from monitor.extract.decode import decode_page
from monitor.extract.document import Document
from monitor.extract.fingerprint import fingerprint
from monitor.extract.guards import not_the_document, reads_whole_page
from monitor.extract.html import normalize_html
from monitor.extract.regions import wait_selectors
from monitor.extract.rules import ExtractRules
from monitor.fetch.http import Clock, FetchResult
from storage.repo import Repo
from storage.values import (
    AlertIn,
    ChangeIn,
    CheckIn,
    CheckOut,
    IncidentIn,
    PageSpec,
    SnapshotIn,
    VersionIn,
    VersionMeta,
)

Outcome = Literal[
    "new", "changed", "unchanged", "not_modified", "flip", "technical", "pending", "failed"
]
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


# Failures that a real browser may get past: an empty JavaScript shell, a bot wall.
ESCALATE = frozenset({"empty_shell", "challenge"})
BLOCKING_STATUSES = frozenset({403, 406})


class Fetcher(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


class BrowserFetcherLike(Protocol):
    async def fetch(self, url: str, *, wait_for: Sequence[str] = ()) -> FetchResult: ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check did, for the log line, the CLI and the tests."""

    slug: str
    outcome: Outcome
    version: int | None = None
    error_kind: str | None = None
    message: str | None = None
    significance: str | None = None
    topics: tuple[str, ...] = ()
    changes: int = 0
    fetcher: str = "http"
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome not in ("failed", "pending")


def rules_for(settings: Settings, doc: DocumentSettings) -> ExtractRules:
    min_chars = doc.min_chars if doc.min_chars is not None else settings.guards.min_chars
    return ExtractRules(select=doc.select, remove=doc.remove, min_chars=min_chars)


def _fetch_order(doc: DocumentSettings, previous: CheckOut | None) -> tuple[str, ...]:
    if doc.fetcher != "auto":
        return (doc.fetcher,)
    if previous is not None and previous.fetcher == "browser":
        return ("browser",)
    return ("http", "browser")


def page_specs(settings: Settings) -> list[PageSpec]:
    return [
        PageSpec(d.slug, d.name, d.url, d.fetcher, rules_for(settings, d).digest)
        for d in settings.documents
    ]


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A fetch that reached the processing step, with its timing."""

    doc: DocumentSettings
    result: FetchResult
    started: datetime
    t0: float
    fetcher: str
    previous: CheckOut | None  # the last check that saw the document, when this one began


def _html_text(result: FetchResult) -> str:
    """The decoded page, or ExtractError("not_html")."""
    if result.content_type not in HTML_TYPES:
        raise ExtractError(
            "not_html",
            f"{result.final_url} returned {result.content_type or 'no content type'}, "
            f"not an HTML page",
        )
    return decode_page(result.body, result.charset)


@dataclass(frozen=True, slots=True)
class _Extracted:
    """What extraction made of a fetched page, and the page's fingerprint (None: not trusted)."""

    doc: Document
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class _Same:
    """The page's fingerprint is the last good check's, and that check saw the latest version."""

    version: VersionMeta
    fingerprint: str


_Extraction = _Extracted | _Same | ExtractError | None  # None: 304 Not Modified


@dataclass
class Checker:
    """Runs checks of configured documents against one repository."""

    settings: Settings
    repo: Repo
    http: Fetcher
    browser: BrowserFetcherLike
    clock: Clock
    alerting: Alerting | None = None
    _prepared: bool = field(default=False, init=False)

    async def prepare(self) -> list[CheckResult]:
        """Sync pages with the config; re-extract pages whose rules changed (technical versions)."""
        return await asyncio.to_thread(self._prepare)

    async def check(self, doc: DocumentSettings) -> CheckResult:
        """Check one document now and record what happened.

        `fetcher = "auto"` tries plain HTTP first and escalates to the browser when HTTP meets
        an empty JavaScript shell or a bot wall; once the browser worked for a document, its
        next checks start with the browser.
        """
        if not self._prepared:
            await self.prepare()
        started, t0 = self.clock.now(), time.perf_counter()
        previous = await asyncio.to_thread(self.repo.last_good_check, doc.slug)
        order = _fetch_order(doc, previous)
        for attempt, kind in enumerate(order):
            last = attempt == len(order) - 1
            try:
                result = await self._fetch(kind, doc, previous)
            except FetchError as exc:
                if not last and (exc.kind in ESCALATE or exc.status in BLOCKING_STATUSES):
                    continue
                return await asyncio.to_thread(
                    self._record_failure, doc, exc, started, t0, kind, exc.status
                )
            fetched = _Fetched(doc, result, started, t0, kind, previous)
            extracted = await asyncio.to_thread(self._extract_or_error, fetched)
            if isinstance(extracted, ExtractError) and not last and extracted.kind in ESCALATE:
                continue
            return await asyncio.to_thread(self._process, fetched, extracted)
        raise AssertionError("unreachable: the last fetcher always records")

    async def _fetch(
        self, kind: str, doc: DocumentSettings, previous: CheckOut | None
    ) -> FetchResult:
        if kind == "browser":
            return await self.browser.fetch(doc.url, wait_for=wait_selectors(doc.select))
        if previous is None or previous.fetcher != "http":  # no validators from a browser
            return await self.http.fetch(doc.url)
        return await self.http.fetch(
            doc.url, etag=previous.etag, last_modified=previous.last_modified
        )

    # -- steps, run in a worker thread -------------------------------------------------------

    def _prepare(self) -> list[CheckResult]:
        before = {page.slug: page.rules_hash for page in self.repo.pages()}
        self.repo.sync_pages(page_specs(self.settings), self.clock.now())
        self._prepared = True
        results = []
        for doc in self.settings.documents:
            digest = rules_for(self.settings, doc).digest
            if doc.slug in before and before[doc.slug] != digest:
                result = self._reextract(doc)
                if result is not None:
                    results.append(result)
        return results

    def _extract_or_error(self, fetched: _Fetched) -> _Extraction:
        """The page's document, the guard that refused it, or None for a 304.

        A page whose fingerprint is the last good check's is that check's text without being
        extracted again (monitor.extract.fingerprint says why that is sound): if that text is the
        latest version, the page is unchanged.
        """
        result = fetched.result
        if result.not_modified:
            return None
        try:
            rules = rules_for(self.settings, fetched.doc)
            text = _html_text(result)
            print_ = fingerprint(text, rules, base_url=result.final_url)
            if print_ is not None and (same := self._same_as_before(fetched, print_)):
                return _Same(same, print_)
            doc = normalize_html(text, rules, base_url=result.final_url)
        except ExtractError as exc:
            if result.final_url != result.url:  # a wall is often a redirect away
                exc.message = f"{exc.message} (redirected to {result.final_url})"
            return exc
        trusted = print_ if not reads_whole_page(len(doc.text)) else None
        return _Extracted(doc, trusted)

    def _same_as_before(self, fetched: _Fetched, print_: str) -> VersionMeta | None:
        last = fetched.previous
        if last is None or last.fingerprint != print_:
            return None
        latest = next(iter(self.repo.recent_versions(fetched.doc.slug, 1)), None)
        return latest if latest is not None and latest.text_sha256 == last.text_sha256 else None

    def _process(self, fetched: _Fetched, extracted: _Extraction) -> CheckResult:
        doc, result = fetched.doc, fetched.result
        base = self._check_in(fetched, result)
        if extracted is None:
            latest = next(iter(self.repo.recent_versions(doc.slug, 1)), None)
            return self._record(doc, base, "not_modified", seen=latest.number if latest else None)
        if isinstance(extracted, ExtractError):
            return self._record_failure(
                doc, extracted, fetched.started, fetched.t0, fetched.fetcher, result.status
            )
        if isinstance(extracted, _Same):
            base = replace(
                base,
                text_sha256=extracted.version.text_sha256,
                fingerprint=extracted.fingerprint,
            )
            return self._record(doc, base, "unchanged", seen=extracted.version.number)
        base = replace(base, fingerprint=extracted.fingerprint)
        return self._compare(fetched, base, extracted.doc)

    def _extract(self, doc: DocumentSettings, result: FetchResult) -> Document:
        rules = rules_for(self.settings, doc)
        return normalize_html(_html_text(result), rules, base_url=result.final_url)

    def _compare(self, fetched: _Fetched, base: CheckIn, new_doc: Document) -> CheckResult:
        doc, slug = fetched.doc, fetched.doc.slug
        sha = new_doc.sha256
        recent = self.repo.recent_versions(slug, self.settings.guards.flip_window + 1)
        base = replace(base, text_sha256=sha)
        latest = recent[0] if recent else None
        version = VersionIn(new_doc.text, sha, rules_for(self.settings, doc).digest, new_doc.words)
        snapshot = _snapshot_in(fetched.result)
        if latest is None:
            return self._record(doc, base, "new", version=version, snapshot=snapshot)
        if sha == latest.text_sha256:
            return self._record(doc, base, "unchanged", seen=latest.number)
        ratio = self.settings.guards.shrink_ratio
        if new_doc.words < latest.words * ratio:
            old = self.repo.version(slug, latest.number)
            assert old is not None, "recent_versions listed a version that cannot be read"
            try:
                not_the_document(new_doc, Document.from_text(old.text), shrink_ratio=ratio)
            except ExtractError as exc:
                return self._record_failure(
                    doc, exc, fetched.started, fetched.t0, fetched.fetcher, fetched.result.status
                )
        if self._unconfirmed_shrink(slug, latest.words, new_doc.words, sha):
            message = (
                f"text shrank from {latest.words:,} to {new_doc.words:,} words; it becomes a "
                f"version only if the next check sees the same text"
            )
            return self._record(doc, replace(base, error_kind="shrink", message=message), "pending")
        flip = next((v for v in recent[1:] if v.text_sha256 == sha), None)
        if flip is not None:
            message = f"same text as version {flip.number}: the page alternates between variants"
            return self._record(doc, replace(base, message=message), "flip", seen=flip.number)
        return self._record_change(doc, base, version, snapshot, latest)

    def _unconfirmed_shrink(self, slug: str, old_words: int, new_words: int, sha: str) -> bool:
        if new_words >= old_words * self.settings.guards.shrink_ratio:
            return False
        last = self.repo.last_check(slug)
        confirmed = last is not None and last.outcome == "pending" and last.text_sha256 == sha
        return not confirmed

    def _record_change(
        self,
        doc: DocumentSettings,
        base: CheckIn,
        version: VersionIn,
        snapshot: SnapshotIn,
        previous: VersionMeta,
    ) -> CheckResult:
        from_number = previous.number
        old = self.repo.version(doc.slug, from_number)
        assert old is not None, "recent_versions listed a version that cannot be read"
        changeset = diff_documents(Document.from_text(old.text), Document.from_text(version.text))
        assessment = classify(changeset, self.settings.topics)
        change = ChangeIn(
            significance=assessment.significance or "cosmetic",
            topics=list(assessment.topics),
            flags=list(assessment.flags),
            changeset=_changes_json(assessment.to_json()),
            from_version=from_number,
        )
        alerts = (
            self.alerting.for_change(
                doc, change, previous=previous, version=from_number + 1, at=base.started_at
            )
            if self.alerting
            else []
        )
        return self._record(
            doc, base, "changed", version=version, snapshot=snapshot, change=change, alerts=alerts
        )

    def _reextract(self, doc: DocumentSettings) -> CheckResult | None:
        """Re-extract the stored page under new rules; a different text is a technical version."""
        latest = self.repo.latest_version(doc.slug)
        if latest is None or latest.snapshot_id is None:
            return None
        snap = self.repo.snapshot(latest.snapshot_id)
        if snap is None:
            return None
        started, t0 = self.clock.now(), time.perf_counter()
        result = FetchResult(
            url=snap.url,
            final_url=snap.final_url,
            status=snap.status,
            headers=snap.headers,
            body=snap.body,
            content_type=snap.content_type,
            charset=None,
            fetched_at=snap.fetched_at,
            elapsed_ms=0.0,
            fetcher="stored",
        )
        try:
            new_doc = self._extract(doc, result)
        except ExtractError as exc:
            exc.message = f"new extraction rules fail on the stored page: {exc.message}"
            return self._record_failure(doc, exc, started, t0, "stored", None)
        base = CheckIn(
            started_at=started,
            finished_at=started,
            outcome="technical",
            fetcher="stored",
            duration_ms=0.0,
            text_sha256=new_doc.sha256,
        )
        if new_doc.sha256 == latest.text_sha256:
            return None
        digest = rules_for(self.settings, doc).digest
        version = VersionIn(new_doc.text, new_doc.sha256, digest, new_doc.words, technical=True)
        return self._record(
            doc, base, "technical", version=version, snapshot=_snapshot_in(result), t0=t0
        )

    # -- recording ---------------------------------------------------------------------------

    def _incident(
        self, doc: DocumentSettings, check: CheckIn
    ) -> tuple[IncidentIn | None, list[AlertIn]]:
        """Open an incident after N failed checks in a row, close it on the first good one.

        One alert when it opens and one when it closes; none while the failure continues.
        """
        if check.outcome == "pending":
            return None, []
        open_incident = self.repo.open_incident(doc.slug)
        if check.outcome != "failed":
            if open_incident is None:
                return None, []
            incident = IncidentIn("close", open_incident.kind, open_incident.last_error or "")
            opened_at, failures = open_incident.opened_at, open_incident.failures
        else:
            kind, message = check.error_kind or "fetch", check.message or ""
            if open_incident is not None:
                return IncidentIn("continue", kind, message), []
            streak, since = self.repo.failure_streak(doc.slug)
            if streak + 1 < self.settings.alerts.incident_after:
                return None, []
            opened_at, failures = since or check.started_at, streak + 1
            incident = IncidentIn("open", kind, message, since=opened_at, failures=failures)
        alerts = (
            self.alerting.for_incident(
                doc, incident, opened_at=opened_at, failures=failures, at=check.started_at
            )
            if self.alerting
            else []
        )
        return incident, alerts

    def _check_in(self, fetched: _Fetched, result: FetchResult) -> CheckIn:
        return CheckIn(
            started_at=fetched.started,
            finished_at=fetched.started,
            outcome="unchanged",
            fetcher=fetched.fetcher,
            duration_ms=0.0,
            http_status=result.status,
            body_sha256=hashlib.sha256(result.body).hexdigest() if result.body else None,
            etag=result.headers.get("etag"),
            last_modified=result.headers.get("last-modified"),
        )

    def _record_failure(
        self,
        doc: DocumentSettings,
        exc: CheckError,
        started: datetime,
        t0: float,
        fetcher: str,
        status: int | None,
    ) -> CheckResult:
        base = CheckIn(
            started_at=started,
            finished_at=started,
            outcome="failed",
            fetcher=fetcher,
            duration_ms=0.0,
            error_kind=exc.kind,
            message=exc.message,
            http_status=status,
        )
        return self._record(doc, base, "failed", t0=t0)

    def _record(
        self,
        doc: DocumentSettings,
        base: CheckIn,
        outcome: Outcome,
        *,
        seen: int | None = None,
        version: VersionIn | None = None,
        snapshot: SnapshotIn | None = None,
        change: ChangeIn | None = None,
        alerts: Sequence[AlertIn] = (),
        t0: float | None = None,
    ) -> CheckResult:
        elapsed = (time.perf_counter() - t0) * 1000 if t0 is not None else base.duration_ms
        check = replace(
            base,
            outcome=outcome,
            seen_version=seen,
            finished_at=self.clock.now(),
            duration_ms=elapsed,
        )
        incident, incident_alerts = self._incident(doc, check)
        recorded = self.repo.record_check(
            doc.slug,
            check,
            snapshot=snapshot,
            version=version,
            change=change,
            alerts=[*alerts, *incident_alerts],
            incident=incident,
        )
        return CheckResult(
            slug=doc.slug,
            outcome=outcome,
            version=recorded.version if recorded.version is not None else seen,
            error_kind=check.error_kind,
            message=check.message,
            significance=change.significance if change else None,
            topics=tuple(change.topics) if change else (),
            changes=len(change.changeset) if change else 0,
            fetcher=check.fetcher,
            duration_ms=elapsed,
        )


def _snapshot_in(result: FetchResult) -> SnapshotIn:
    return SnapshotIn(
        fetched_at=result.fetched_at,
        url=result.url,
        final_url=result.final_url,
        status=result.status,
        headers=dict(result.headers),
        content_type=result.content_type,
        body=result.body,
    )


def _changes_json(assessment: dict[str, object]) -> list[dict[str, object]]:
    changes = assessment.get("changes", [])
    assert isinstance(changes, list)
    return changes
