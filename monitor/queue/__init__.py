"""Many workers on one PostgreSQL database, through procrastinate's job queue.

`policywatch worker` processes, on one machine or several, share the work: a periodic
`schedule` job (one per tick, however many workers run) queues a check of every page that is
due, with a queueing lock per page (one waiting check per page) and a lock per page (never two
at once); a check that starts re-reads when the page was last checked, so a page is checked
once per period. A worker that dies mid-check stops sending heartbeats; the periodic
`recover` job fails its jobs, which frees the page's lock, and the next `schedule` queues the
page again for a live worker (it is still due: the dead worker's check was never recorded).
Pages whose fetcher is `browser` or `auto` go to the `browser` queue, which only workers
started with `--browser` take. The `deliver` job sends due alerts (each delivery claimed with
FOR UPDATE SKIP LOCKED). Requests to one host keep `fetch.min_gap` apart across every worker:
the next slot of each host is reserved in the database. On SIGTERM a worker takes no new job,
gives running ones STOP_GRACE seconds, and leaves a hung delivery to its lease.

The watch list is the database's: `policywatch sync` writes it from config.toml; a worker's
own config gives storage, fetching, topics and channels, never the list of pages.
"""
