"""The queue's jobs: schedule, check a page, recover a dead worker's checks, deliver alerts.

Each worker process sets its `Runtime` (settings, store, checker, outbox) before it takes jobs;
the jobs read it from here. See the package docstring for how the work is divided.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import Status

from monitor.config import DocumentSettings, Settings, watched_documents

if TYPE_CHECKING:
    from monitor.alerting.outbox import Outbox
    from monitor.check.checker import Checker
    from monitor.daemon.runtime import Store
    from storage.values import CheckOut

log = logging.getLogger("policywatch.worker")

CHECKS, BROWSER, CONTROL = "checks", "browser", "control"
"""The queues: plain HTTP checks, checks that may need Chromium, and the periodic jobs."""

TICK = "* * * * * */2"
"""How often (cron, with seconds) the periodic jobs run: one job per tick however many workers
there are (procrastinate defers each periodic job once per timestamp)."""

jobs = procrastinate.Blueprint()
"""The tasks; `make_app` binds them to an App connected to the configured database."""


def make_app(conninfo: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    app.add_tasks_from(jobs, namespace="policywatch")
    return app


@dataclass
class Runtime:
    """What a worker's jobs use; set once per process by `policywatch worker`."""

    settings: Settings
    store: Store
    checker: Checker
    outbox: Outbox
    app: procrastinate.App
    stalled_after: float  # seconds without a heartbeat before a worker's checks are retried


_RUNTIME: list[Runtime] = []  # the worker's, once set


def set_runtime(runtime: Runtime | None) -> None:
    _RUNTIME.clear()
    if runtime is not None:
        _RUNTIME.append(runtime)


def runtime() -> Runtime:
    if not _RUNTIME:
        raise RuntimeError("a policywatch job ran outside `policywatch worker`")
    return _RUNTIME[0]


def queue_of(doc: DocumentSettings) -> str:
    return CHECKS if doc.fetcher == "http" else BROWSER


def watch_list(rt: Runtime) -> dict[str, DocumentSettings]:
    """The active pages of the database's watch list (written by `policywatch sync`)."""
    return watched_documents(rt.store.repo.pages.watch_list())


def due_slugs(rt: Runtime, docs: dict[str, DocumentSettings], now: datetime) -> list[str]:
    """The pages whose last check started one interval ago or more (or never ran)."""
    last = {p.slug: p.last_check for p in rt.store.repo.pages.pages()}
    return [slug for slug, doc in docs.items() if _due(rt, doc, last.get(slug), now)]


def _due(rt: Runtime, doc: DocumentSettings, last: CheckOut | None, now: datetime) -> bool:
    """Whether a page whose last check is `last` is due: never checked, or one interval ago."""
    due = rt.settings.next_check(doc, last.started_at if last else None)
    return due is None or due <= now


@jobs.periodic(cron=TICK, periodic_id="schedule")
@jobs.task(name="schedule", queue=CONTROL, queueing_lock="schedule")
async def schedule(timestamp: int) -> int:
    """Queue a check of every due page (one waiting check per page at most); how many."""
    rt = runtime()
    now = datetime.now(UTC)
    docs = await asyncio.to_thread(watch_list, rt)
    queued = 0
    for slug in await asyncio.to_thread(due_slugs, rt, docs, now):
        try:
            await check_page.configure(
                queue=queue_of(docs[slug]), lock=f"page:{slug}", queueing_lock=f"check:{slug}"
            ).defer_async(slug=slug)
            queued += 1
        except AlreadyEnqueued:
            pass  # queued by an earlier tick, still waiting for a worker
    return queued


@jobs.task(name="check_page")
async def check_page(slug: str) -> str:
    """Check one page, unless it was checked this period meanwhile (a second job queued while
    the first ran: the per-page lock made it wait, and now it has nothing to do)."""
    rt = runtime()
    settings, page = await asyncio.gather(
        asyncio.to_thread(rt.store.repo.pages.watched, slug),
        asyncio.to_thread(rt.store.repo.pages.page, slug),
    )
    if settings is None or page is None:
        return "not watched"  # removed from the watch list since it was queued
    doc = DocumentSettings.model_validate_json(settings)
    if not _due(rt, doc, page.last_check, datetime.now(UTC)):
        return "checked already"
    result = await rt.checker.check(doc)
    log.info("%s %s%s", slug, result.outcome, f" v{result.version}" if result.version else "")
    return result.outcome


@jobs.periodic(cron=TICK, periodic_id="recover")
@jobs.task(name="recover", queue=CONTROL, queueing_lock="recover")
async def recover(timestamp: int) -> int:
    """Free the jobs of workers that stopped sending heartbeats (killed, or their machine gone):
    each is marked failed, which releases its page's lock; the page, still due, is queued again
    by the next `schedule` and checked by a live worker. How many."""
    rt = runtime()
    manager = rt.app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=rt.stalled_after))
    for job in stalled:
        log.warning("retrying %s (job %s) of a worker that stopped", job.task_name, job.id)
        await manager.finish_job(job, Status.FAILED, delete_job=False)
    return len(stalled)


@jobs.periodic(cron=TICK, periodic_id="deliver")
@jobs.task(name="deliver", queue=CONTROL, queueing_lock="deliver")
async def deliver(timestamp: int) -> int:
    """Send the due alert deliveries; how many attempts were made."""
    rt = runtime()
    from monitor.alerting.outbox import deliver_in_background

    attempts = await deliver_in_background(rt.outbox, datetime.now(UTC))
    return len(attempts)
