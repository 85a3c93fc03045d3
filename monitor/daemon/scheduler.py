"""The daemon: one APScheduler job per document, resumed from the database, stopped cleanly.

Each document runs on its own interval with jitter, never twice at once; its first run after a
restart is due one interval after its last recorded check. On SIGINT / SIGTERM no new check
starts; checks in flight get a grace period to finish (each check is one transaction, so a check
cut short leaves nothing half-written).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerting.outbox import Outbox, deliver_in_background
from monitor.check.checker import Checker, CheckResult
from monitor.config import DocumentSettings, Settings

log = logging.getLogger("policywatch.daemon")

# Documents overdue at start-up are spread over this many seconds, so a restart does not
# fire every fetch in the same second.
STARTUP_SPREAD = 30.0
# Seconds between two passes over the outbox (retries come due at their own times).
DELIVERY_EVERY = 30.0


def first_runs(
    settings: Settings,
    last_checks: Mapping[str, datetime],
    now: datetime,
    rng: random.Random,
) -> dict[str, datetime]:
    """When each document should first be checked: one interval after its last check."""
    spread = min(STARTUP_SPREAD, settings.schedule.jitter)
    due: dict[str, datetime] = {}
    for doc in settings.documents:
        last = last_checks.get(doc.slug)
        next_run = last + timedelta(seconds=settings.interval(doc)) if last else now
        if next_run <= now:
            next_run = now + timedelta(seconds=rng.uniform(0, spread))
        due[doc.slug] = next_run
    return due


def describe(result: CheckResult) -> str:
    """The one log line of a check: document, outcome, version, duration, and why."""
    parts = [result.slug, result.outcome]
    if result.version is not None:
        parts.append(f"v{result.version}")
    if result.significance:
        parts.append(result.significance)
    if result.topics:
        parts.append("[" + ", ".join(result.topics) + "]")
    parts.append(f"{result.duration_ms:.0f} ms")
    parts.append(f"via {result.fetcher}")
    if result.error_kind or result.message:
        parts.append(f"({result.error_kind or 'note'}: {result.message})")
    return " ".join(parts)


class Daemon:
    """Schedules checks of every configured document until asked to stop."""

    def __init__(
        self,
        settings: Settings,
        checker: Checker,
        last_checks: Callable[[], Mapping[str, datetime]],
        *,
        on_result: Callable[[CheckResult], None] | None = None,
        outbox: Outbox | None = None,
        rng: random.Random | None = None,
        grace: float = 5.0,
    ) -> None:
        self.settings = settings
        self.checker = checker
        self._last_checks = last_checks
        self._on_result = on_result
        self._rng = rng or random.Random()
        self._grace = grace
        self._limit = asyncio.Semaphore(settings.schedule.concurrency)
        self._in_flight: set[asyncio.Task[object]] = set()
        self._stopping = False
        self._outbox = outbox
        self._delivering = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then let checks in flight finish (up to the grace period)."""
        for result in await self.checker.prepare():
            self._report(result)
        scheduler = AsyncIOScheduler(timezone=UTC)
        self._add_jobs(scheduler, self.settings.documents)
        if self._outbox is not None:
            scheduler.add_job(
                self._deliver,
                IntervalTrigger(seconds=DELIVERY_EVERY),
                id="deliveries",
                next_run_time=datetime.now(UTC),
                max_instances=1,
                coalesce=True,
            )
        scheduler.start()
        log.info("watching %d documents", len(self.settings.documents))
        try:
            await stop.wait()
        finally:
            self._stopping = True
            # No new runs; the checks in flight get the grace period before anything is
            # cancelled (APScheduler's shutdown cancels its running jobs at once).
            scheduler.pause()
            if self._outbox is not None:
                self._outbox.stop()  # the delivery pass in flight ends after its current send
            await self._drain()
            scheduler.shutdown(wait=False)

    def _add_jobs(self, scheduler: AsyncIOScheduler, docs: Sequence[DocumentSettings]) -> None:
        now = datetime.now(UTC)
        due = first_runs(self.settings, self._last_checks(), now, self._rng)
        for doc in docs:
            interval = self.settings.interval(doc)
            scheduler.add_job(
                self._job,
                IntervalTrigger(
                    seconds=interval, jitter=min(self.settings.schedule.jitter, interval)
                ),
                args=[doc],
                id=doc.slug,
                name=doc.slug,
                next_run_time=due[doc.slug],
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(interval),
            )

    async def _job(self, doc: DocumentSettings) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            async with self._limit:
                if self._stopping:
                    return
                result = await self.checker.check(doc)
            self._report(result)
            if result.outcome in ("changed", "failed", "unchanged") and self._outbox:
                await self._deliver()  # a change or an incident may have written alerts
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Cut short by the shutdown: a fetch leaves nothing behind, and a check already
            # recording finishes its one transaction in its worker thread.
            log.warning("check of %s was cut short by the shutdown", doc.slug)
        except Exception:
            # The job wrapper is one of the few places a broad except belongs: one document's
            # bug must not stop the others.
            log.exception("check of %s failed with an unexpected error", doc.slug)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _deliver(self) -> None:
        """Send the due alerts (one delivery pass at a time)."""
        if self._outbox is None or self._delivering.locked():
            return
        async with self._delivering:
            try:
                await deliver_in_background(self._outbox, datetime.now(UTC))
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # The pass ends in its thread after the delivery in flight (Outbox.stop()).
                log.warning("delivering alerts was cut short by the shutdown")
            except Exception:
                log.exception("delivering alerts failed with an unexpected error")

    def _report(self, result: CheckResult) -> None:
        level = logging.WARNING if result.outcome == "failed" else logging.INFO
        log.log(level, "%s", describe(result))
        if self._on_result:
            self._on_result(result)

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        log.info("waiting for %d checks in flight", len(self._in_flight))
        _, pending = await asyncio.wait(set(self._in_flight), timeout=self._grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "stopped %d check(s) still running after %.0f s (a check is written whole or "
                "not at all)",
                len(pending),
                self._grace,
            )
