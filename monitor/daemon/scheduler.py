"""The daemon: one APScheduler job per document, resumed from the database, stopped cleanly.

Each document runs on its own interval with jitter, never twice at once; its first run after a
restart is due one interval after its last recorded check (Settings.next_check). On SIGINT /
SIGTERM no new check starts; checks in flight get a grace period to finish (each check is one
transaction, so a check cut short leaves nothing half-written).

The watch list is live: on SIGHUP (`request_reload`) or when config.toml changes (polled every
CONFIG_POLL seconds), the file is read again; documents added, removed or changed are scheduled,
unscheduled or rescheduled, and the database's watch list is synced to the list the daemon runs.
An invalid file is refused with one log line naming the key, and the running list stays.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.alerting.outbox import Outbox, deliver_in_background
from monitor.alerting.payloads import Alerting
from monitor.check.checker import Checker, CheckResult
from monitor.config import DocumentSettings, Settings, load
from monitor.daemon.reload import ConfigFile, live_settings, restart_only
from monitor.errors import ConfigError

log = logging.getLogger("policywatch.daemon")

# Documents overdue at start-up are spread over this many seconds, so a restart does not
# fire every fetch in the same second.
STARTUP_SPREAD = 30.0
# Seconds between two passes over the outbox (retries come due at their own times).
DELIVERY_EVERY = 30.0
# Seconds between two looks at config.toml (a stat; the file is read only when it changed).
CONFIG_POLL = 1.0


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
        next_run = settings.next_check(doc, last_checks.get(doc.slug)) or now
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
        config_file: Path | None = None,
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
        self._config = ConfigFile(config_file) if config_file is not None else None
        self._reloading = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._background: set[asyncio.Task[object]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then let checks in flight finish (up to the grace period)."""
        for result in await self.checker.prepare():
            self._report(result)
        scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler = scheduler
        self._add_jobs(scheduler, self.settings.documents)
        if self._config is not None:
            scheduler.add_job(
                self._poll_config,
                IntervalTrigger(seconds=CONFIG_POLL),
                id="config",
                max_instances=1,
                coalesce=True,
            )
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
            for task in list(self._background):  # a reload in progress is not finished
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            scheduler.shutdown(wait=False)

    def request_reload(self, why: str = "SIGHUP") -> None:
        """Read config.toml again soon (the SIGHUP handler: it must not block). Reloads run one
        at a time, in a task of their own, so a slow one (re-extracting pages) delays nothing."""
        if self._config is None or self._stopping:
            return
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self.reload(why))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _poll_config(self) -> None:
        if self._config is None or self._stopping:
            return
        if await asyncio.to_thread(self._config.changed):
            self.request_reload("the file changed")

    async def reload(self, why: str) -> bool:
        """Move to the documents of config.toml as it is now; False (and one log line naming
        the key) when the file is invalid, the running watch list unchanged."""
        if self._config is None:
            return False
        async with self._reloading:
            if self._stopping:
                return False
            await asyncio.to_thread(self._config.changed)  # seen now: the poll need not repeat it
            try:
                new = await asyncio.to_thread(load, self._config.path)
            except ConfigError as exc:
                log.error(
                    "config not reloaded (%s): %s; still watching the %d documents it had",
                    why,
                    exc,
                    len(self.settings.documents),
                )
                return False
            try:
                await self._apply(live_settings(self.settings, new), why)
            except Exception:
                log.exception("config reload (%s) failed with an unexpected error", why)
                return False
            if later := restart_only(self.settings, new):
                log.warning("config: %s changed; that takes a restart", ", ".join(later))
            return True

    async def _apply(self, new: Settings, why: str) -> None:
        old = {d.slug: d for d in self.settings.documents}
        docs = {d.slug: d for d in new.documents}
        running = self.settings
        self.checker.settings, self.checker.alerting = new, Alerting(new)
        try:
            technical = await self.checker.prepare()  # sync the watch list; re-extract
        except BaseException:
            self.checker.settings, self.checker.alerting = running, Alerting(running)
            raise
        self.settings = new
        for result in technical:
            self._report(result)
        scheduler = self._scheduler
        assert scheduler is not None
        removed = [slug for slug in old if slug not in docs]
        added = [doc for slug, doc in docs.items() if slug not in old]
        kept = [d for s, d in docs.items() if s in old]
        retimed = [d for d in kept if running.interval(old[d.slug]) != new.interval(d)]
        changed = [d for d in kept if old[d.slug] != d or d in retimed]
        for slug in removed + [d.slug for d in retimed]:
            if scheduler.get_job(slug) is not None:
                scheduler.remove_job(slug)
        for doc in changed:
            if doc not in retimed and scheduler.get_job(doc.slug) is not None:
                scheduler.modify_job(doc.slug, args=[doc])
        self._add_jobs(scheduler, added + retimed)
        log.info(
            "config reloaded (%s): watching %d documents%s",
            why,
            len(docs),
            "".join(
                f"; {label} {', '.join(slugs)}"
                for label, slugs in (
                    ("added", [d.slug for d in added]),
                    ("removed", removed),
                    ("changed", [d.slug for d in changed]),
                )
                if slugs
            ),
        )

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
