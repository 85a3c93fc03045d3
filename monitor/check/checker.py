"""check_document(): one check of one document, as named steps.

    acquire   monitor.fetch.acquire   fetch order, escalation, content type (network)
    extract   monitor.extract         the Document, or the fingerprint of an unchanged page
    decide    monitor.check.decide    new / changed / reverted / unchanged / flip / pending /
                                      failed, from the page state read under the page's lock
    record    storage.checks          snapshot, version, change, check, incident, alerts: the
                                      transaction that read the state writes them

A check's outcome is a value (`CheckResult.outcome`), never an exception: operational failures
are recorded as a failed check and the run goes on. CPU-heavy work (parse, diff) and the
database run in a worker thread so the event loop stays free for other fetches.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Protocol

from monitor.alerting.payloads import Alerting
from monitor.analysis.assessment import EARLIER_VERSIONS, assess
from monitor.check.decide import (
    Changed,
    Decision,
    Failed,
    Guards,
    New,
    NotModified,
    Observation,
    Page,
    Pending,
    Refused,
    Reverted,
    SamePage,
    Seen,
    decide,
    incident_step,
)
from monitor.config import DocumentSettings, Settings
from monitor.errors import ExtractError
from monitor.extract.document import Document
from monitor.extract.fingerprint import fingerprint
from monitor.extract.guards import reads_whole_page
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from monitor.fetch.acquire import Acquired, acquire, fetch_order, page_text
from monitor.fetch.http import Clock, FetchResult
from storage.checks import CheckTx
from storage.redact import redact, redact_optional
from storage.repo import Repo
from storage.values import (
    AlertIn,
    ChangeIn,
    CheckIn,
    CheckOut,
    PageSpec,
    PageState,
    SnapshotIn,
    VersionIn,
    VersionMeta,
)
from storage.vocab import Outcome


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


def page_specs(settings: Settings) -> list[PageSpec]:
    """The watch list to sync: each document's settings with its interval written out (its
    `every`, else `schedule.every`), so the next check can be told from the database alone."""
    return [
        PageSpec(
            d.slug,
            d.name,
            d.url,
            d.fetcher,
            settings.rules(d).digest,
            d.model_copy(update={"every": settings.interval(d)}).to_json(),
        )
        for d in settings.documents
    ]


@dataclass(frozen=True, slots=True)
class _Before:
    """What the check reads before fetching (not under the lock): the last check that saw the
    document and the latest version, for the fetch order, conditional requests and the
    fingerprint shortcut. The decision reads them again under the lock."""

    last_good: CheckOut | None
    latest: VersionMeta | None

    def unchanged_by(self, print_: str) -> bool:
        good, latest = self.last_good, self.latest
        return (
            good is not None
            and latest is not None
            and good.fingerprint == print_
            and good.text_sha256 == latest.text_sha256
        )


@dataclass(frozen=True, slots=True)
class _Unextracted(SamePage):
    """A fingerprint match, with the way to extract the page after all if the state read under
    the lock no longer supports it (another process recorded a version meanwhile)."""

    extract: Callable[[], Page] = field(compare=False)


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

    def use_synced_watch_list(self) -> None:
        """Check documents as given, without syncing pages from this config first: a worker's
        watch list is the database's, written by `policywatch sync`."""
        self._prepared = True

    async def prepare(self) -> list[CheckResult]:
        """Sync pages with the config; re-extract pages whose rules changed (technical versions)."""
        return await asyncio.to_thread(self._prepare)

    async def check(self, doc: DocumentSettings) -> CheckResult:
        """Check one document now and record what happened: acquire, extract, decide, record."""
        if not self._prepared:
            await self.prepare()
        started, t0 = self.clock.now(), time.perf_counter()
        before = await asyncio.to_thread(self._before, doc.slug)
        last = before.last_good
        order = fetch_order(doc.fetcher, last.fetcher if last else None)
        rules = self.settings.rules(doc)

        async def fetch(kind: str) -> FetchResult:
            if kind == "browser":
                return await self.browser.fetch(doc.url, wait_for=rules.wait_for)
            if last is None or last.fetcher != "http":  # no validators from a browser
                return await self.http.fetch(doc.url)
            return await self.http.fetch(doc.url, etag=last.etag, last_modified=last.last_modified)

        def examine(result: FetchResult, text: str | None) -> Observation:
            return _observe(result, text, rules, before)

        acquired = await acquire(order, fetch, examine)
        return await asyncio.to_thread(self._record, doc, acquired, started, t0)

    # -- steps, run in a worker thread -------------------------------------------------------

    def _before(self, slug: str) -> _Before:
        latest = next(iter(self.repo.history.recent_versions(slug, 1)), None)
        return _Before(self.repo.checks.last_good_check(slug), latest)

    def _prepare(self) -> list[CheckResult]:
        before = {page.slug: page.rules_hash for page in self.repo.pages.pages()}
        self.repo.pages.sync_pages(page_specs(self.settings), self.clock.now())
        self._prepared = True
        results = []
        for doc in self.settings.documents:
            digest = self.settings.rules(doc).digest
            if doc.slug in before and before[doc.slug] != digest:
                result = self._reextract(doc)
                if result is not None:
                    results.append(result)
        return results

    def _record(
        self, doc: DocumentSettings, acquired: Acquired[Observation], started: datetime, t0: float
    ) -> CheckResult:
        observation: Observation
        if acquired.error is not None:
            observation = Failed(acquired.error)
        else:
            assert acquired.value is not None
            observation = acquired.value
        guards = Guards(self.settings.guards.shrink_ratio, self.settings.guards.flip_window)
        with self.repo.checks.transaction(doc.slug) as tx:
            state = tx.state(guards.flip_window + 1)
            if isinstance(observation, _Unextracted) and not _still_unchanged(state, observation):
                observation = _extract_or_fail(observation)
            latest = state.latest

            @cache  # decide() may need it twice (an error block, then a shrink)
            def latest_text() -> Document:
                assert latest is not None
                return Document.from_text(tx.version_text(latest.number))

            decision = decide(state, observation, guards, latest_text)
            return self._write(tx, doc, state, decision, observation, acquired, started, t0)

    def _write(
        self,
        tx: CheckTx,
        doc: DocumentSettings,
        state: PageState,
        decision: Decision,
        observation: Observation,
        acquired: Acquired[Observation],
        started: datetime,
        t0: float,
    ) -> CheckResult:
        result = acquired.result
        page = observation if isinstance(observation, Page) else None
        sha = page.doc.sha256 if page else None
        version: VersionIn | None = None
        change: ChangeIn | None = None
        base: VersionMeta | None = None
        if page is not None and isinstance(decision, New | Changed | Reverted):
            reverts_to = decision.to.number if isinstance(decision, Reverted) else None
            digest = self.settings.rules(doc).digest
            words = page.doc.words
            version = VersionIn(page.doc.text, sha or "", digest, words, reverts_to=reverts_to)
        if page is not None and isinstance(decision, Changed | Reverted):
            base = decision.base
            change = self._change(tx, doc, base, page.doc, decision)
        check = CheckIn(
            started_at=started,
            finished_at=self.clock.now(),
            outcome=decision.outcome,
            fetcher=acquired.fetcher,
            duration_ms=(time.perf_counter() - t0) * 1000,
            error_kind=_error_kind(decision),
            message=_message(decision),
            http_status=acquired.status,
            body_sha256=hashlib.sha256(result.body).hexdigest() if result and result.body else None,
            text_sha256=sha if sha else _seen_sha(decision),
            seen_version=decision.version.number if isinstance(decision, Seen) else None,
            etag=result.headers.get("etag") if result else None,
            last_modified=result.headers.get("last-modified") if result else None,
            fingerprint=_fingerprint_of(observation, decision),
        )
        step = incident_step(state, decision, after=self.settings.alerts.incident_after)
        snapshot = _snapshot_in(result) if version is not None and result is not None else None
        recorded = tx.record(
            check, snapshot=snapshot, version=version, change=change, incident=step.incident
        )
        alerts: list[AlertIn] = []
        if self.alerting is not None:
            # A change from an imported version (storage.imports) compares the archive's
            # extraction with this one: recorded, never alerted, as a first version is not.
            from_own = base is not None and base.source is None
            if change is not None and base is not None and from_own and recorded.version:
                alerts += self.alerting.for_change(
                    doc, change, previous=base, version=recorded.version, at=started
                )
            if step.incident is not None and step.alert is not None:
                incident = state.incident
                opened_at = incident.opened_at if incident else (state.failing_since or started)
                failures = incident.failures if incident else state.failures + 1
                alerts += self.alerting.for_incident(
                    doc, step.incident, opened_at=opened_at, failures=failures, at=started
                )
        tx.add_alerts(recorded, alerts, at=check.finished_at)
        seen = decision.version.number if isinstance(decision, Seen) else None
        return CheckResult(
            slug=doc.slug,
            outcome=decision.outcome,
            version=recorded.version if recorded.version is not None else seen,
            error_kind=check.error_kind,
            message=check.message,
            significance=change.significance if change else None,
            topics=tuple(change.topics) if change else (),
            changes=len(change.changeset) if change else 0,
            fetcher=check.fetcher,
            duration_ms=check.duration_ms,
        )

    def _change(
        self,
        tx: CheckTx,
        doc: DocumentSettings,
        base: VersionMeta,
        new: Document,
        decision: Changed | Reverted,
    ) -> ChangeIn:
        old = Document.from_text(tx.version_text(base.number))

        def earlier() -> Iterator[str]:  # read only for a capture that re-expands sections
            for number in range(base.number - 1, max(base.number - EARLIER_VERSIONS, 0), -1):
                yield from (b.line for b in Document.from_text(tx.version_text(number)).blocks)

        assessment = assess(old, new, self.settings.topics, doc.topics, earlier)
        flags: list[str] = list(assessment.flags)
        if isinstance(decision, Reverted):
            flags = sorted({*flags, "reverted"})
        return ChangeIn(
            significance=assessment.significance or "cosmetic",
            topics=list(assessment.topics),
            flags=flags,
            changeset=[change.to_json() for change in assessment.changes],
            from_version=base.number,
        )

    def _reextract(self, doc: DocumentSettings) -> CheckResult | None:
        """Re-extract the stored page under new rules; a different text is a technical version."""
        latest = self.repo.history.latest_version(doc.slug)
        if latest is None or latest.snapshot_id is None:
            return None
        snap = self.repo.history.snapshot(latest.snapshot_id)
        if snap is None:
            return None
        started, t0 = self.clock.now(), time.perf_counter()
        result = FetchResult(
            url=_unredacted(snap.url, doc.url),
            final_url=_unredacted(snap.final_url, doc.url),
            status=snap.status,
            headers=snap.headers,
            body=snap.body,
            content_type=snap.content_type,
            charset=None,
            fetched_at=snap.fetched_at,
            elapsed_ms=0.0,
            fetcher="stored",
        )
        rules = self.settings.rules(doc)
        try:
            new_doc = normalize_html(page_text(result) or "", rules, base_url=result.final_url)
        except ExtractError as exc:
            exc.message = f"new extraction rules fail on the stored page: {exc.message}"
            failed: Acquired[Observation] = Acquired("stored", None, error=exc)
            with self.repo.checks.transaction(doc.slug) as tx:
                state = tx.state(1)
                decision = Refused(exc)
                return self._write(tx, doc, state, decision, Failed(exc), failed, started, t0)
        if new_doc.sha256 == latest.text_sha256:
            return None
        version = VersionIn(new_doc.text, new_doc.sha256, rules.digest, new_doc.words, True)
        with self.repo.checks.transaction(doc.slug) as tx:
            check = CheckIn(
                started_at=started,
                finished_at=self.clock.now(),
                outcome="technical",
                fetcher="stored",
                duration_ms=(time.perf_counter() - t0) * 1000,
                text_sha256=new_doc.sha256,
            )
            recorded = tx.record(check, snapshot=_snapshot_in(result), version=version)
        return CheckResult(
            doc.slug, "technical", recorded.version, fetcher="stored", duration_ms=check.duration_ms
        )


def _observe(
    result: FetchResult, text: str | None, rules: ExtractRules, before: _Before
) -> Observation:
    """The page's document, or its fingerprint when that says it is the latest version's text
    (monitor.extract.fingerprint says why that is sound), or NotModified for a 304."""
    if text is None:
        return NotModified()
    print_ = fingerprint(text, rules, base_url=result.final_url)

    def extract() -> Page:
        doc = normalize_html(text, rules, base_url=result.final_url)
        return Page(doc, print_ if not reads_whole_page(len(doc.text)) else None)

    if print_ is not None and before.unchanged_by(print_):
        return _Unextracted(print_, extract)
    return extract()


def _still_unchanged(state: PageState, observation: _Unextracted) -> bool:
    good, latest = state.last_good, state.latest
    return (
        good is not None
        and latest is not None
        and good.fingerprint == observation.fingerprint
        and good.text_sha256 == latest.text_sha256
    )


def _extract_or_fail(observation: _Unextracted) -> Observation:
    try:
        return observation.extract()
    except ExtractError as exc:
        return Failed(exc)


def _error_kind(decision: Decision) -> str | None:
    if isinstance(decision, Refused):
        return decision.error.kind
    return "shrink" if isinstance(decision, Pending) and decision.kind == "shrink" else None


def _message(decision: Decision) -> str | None:
    """The check's message, any URL in it redacted (a fetch error quotes the URL, with the
    credentials or token it carries)."""
    if isinstance(decision, Refused):
        return redact(decision.error.message)
    if isinstance(decision, Pending | Seen):
        return redact_optional(decision.message)
    return None


def _unredacted(stored: str, url: str) -> str:
    """The configured URL where a snapshot stored its redacted form: relative links of the
    page resolve against the real address, as when it was fetched."""
    return url if stored != url and stored == redact(url) else stored


def _seen_sha(decision: Decision) -> str | None:
    return decision.version.text_sha256 if isinstance(decision, Seen) else None


def _fingerprint_of(observation: Observation, decision: Decision) -> str | None:
    if isinstance(decision, Refused | Pending):
        return None
    if isinstance(observation, SamePage):
        return observation.fingerprint
    return observation.fingerprint if isinstance(observation, Page) else None


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
