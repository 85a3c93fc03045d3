"""`policywatch worker`: one process taking checks and deliveries from the shared queue."""

from __future__ import annotations

import logging
import os
import socket

from monitor.config import Settings
from monitor.errors import UsageError
from monitor.queue import jobs

log = logging.getLogger("policywatch.worker")

STOP_GRACE = 3.0
"""Seconds a stopping worker gives its running jobs before it cancels them: a check cut short
records nothing (one transaction), a delivery cut short stays claimed until its lease ends and
is sent again then, with the same idempotency key."""


class WorkerError(UsageError):
    """A worker that cannot run (not PostgreSQL, no watch list)."""


def conninfo(settings: Settings) -> str:
    """The libpq connection string of the configured PostgreSQL database."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        raise WorkerError(
            "workers share a PostgreSQL database (storage.url = 'postgresql+psycopg://...'); "
            "with SQLite, run one daemon: `policywatch run`"
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def run(settings: Settings, *, browser: bool, concurrency: int, stalled_after: float) -> None:
    """Take jobs until SIGTERM or SIGINT: checks (browser ones too with `browser`), the
    periodic schedule, recovery of dead workers' checks, and deliveries."""
    from monitor.daemon.runtime import make_outbox, open_checker, open_store
    from monitor.queue.hosts import host_gate
    from monitor.queue.schema import ensure_queue_schema

    info = conninfo(settings)
    store = open_store(settings)
    ensure_queue_schema(store.engine)
    if not store.repo.pages.watch_list():
        raise WorkerError("the watch list is empty: run `policywatch sync` first")
    gate = host_gate(store.repo, settings.fetch.min_gap)
    async with open_checker(settings, store, gate=gate) as checker:
        checker.use_synced_watch_list()
        outbox = make_outbox(settings, store)
        queue_app = jobs.make_app(info)
        jobs.set_runtime(jobs.Runtime(settings, store, checker, outbox, queue_app, stalled_after))
        queues = [jobs.CONTROL, jobs.CHECKS, *([jobs.BROWSER] if browser else [])]
        name = f"{socket.gethostname()}:{os.getpid()}"
        log.info("worker %s taking %s", name, ", ".join(queues))
        try:
            async with queue_app.open_async():
                await queue_app.run_worker_async(
                    queues=queues,
                    concurrency=concurrency,
                    name=name,
                    update_heartbeat_interval=max(stalled_after / 4, 0.2),
                    stalled_worker_timeout=stalled_after,
                    shutdown_graceful_timeout=STOP_GRACE,
                    fetch_job_polling_interval=1.0,
                )
        finally:
            outbox.stop()
            jobs.set_runtime(None)
            log.info("worker %s stopped", name)
