"""Builds the running parts from Settings: the database, the repository, fetchers, the checker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from monitor.alerting.payloads import Alerting
from monitor.check.checker import Checker
from monitor.config import Settings
from monitor.fetch.http import Clock, FetchOptions, FetchResult, HttpFetcher, SystemClock
from storage.db import ensure_schema, make_engine
from storage.repo import Repo

if TYPE_CHECKING:
    from monitor.alerting.outbox import Outbox
    from monitor.fetch.browser import BrowserFetcher


def fetch_options(settings: Settings) -> FetchOptions:
    f = settings.fetch
    options = FetchOptions(
        timeout=f.timeout,
        max_bytes=f.max_bytes,
        max_redirects=f.max_redirects,
        retries=f.retries,
        backoff=f.backoff,
        min_gap=f.min_gap,
        accept_language=f.accept_language,
    )
    if f.user_agent:
        options = replace(options, user_agent=f.user_agent)
    return options


@dataclass(frozen=True, slots=True)
class Store:
    engine: Engine
    repo: Repo


_OPENED: list[Engine] = []


def open_store(settings: Settings) -> Store:
    """The database at the configured URL, migrated to the current schema; its connections are
    closed by `close_stores` (the command line's end)."""
    engine = make_engine(settings.database_url)
    _OPENED.append(engine)
    ensure_schema(engine)
    return Store(engine, Repo(engine))


def close_stores() -> None:
    """Close the connections of every store `open_store` opened in this process."""
    while _OPENED:
        _OPENED.pop().dispose()


def make_browser(
    settings: Settings, options: FetchOptions, clock: Clock | None = None
) -> LazyBrowser:
    """The browser fetcher, with the HTTP fetcher's identity (User-Agent, language, size cap)."""

    def build() -> BrowserFetcher:
        from monitor.fetch.browser import BrowserFetcher  # Playwright: only when a page needs it

        return BrowserFetcher(
            settings.browser,
            user_agent=options.user_agent,
            accept_language=options.accept_language,
            clock=clock,
            max_bytes=options.max_bytes,
        )

    return LazyBrowser(build)


class LazyBrowser:
    """The browser fetcher, built on the first page that needs it: a run whose pages all come
    over plain HTTP never imports Playwright (nor launches Chromium, which the fetcher itself
    defers too)."""

    def __init__(self, build: Callable[[], BrowserFetcher]) -> None:
        self._build = build
        self._inner: BrowserFetcher | None = None

    async def fetch(self, url: str, *, wait_for: Sequence[str] = ()) -> FetchResult:
        if self._inner is None:
            self._inner = self._build()
        return await self._inner.fetch(url, wait_for=wait_for)

    async def __aenter__(self) -> LazyBrowser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._inner is not None:
            await self._inner.aclose()


@asynccontextmanager
async def open_checker(
    settings: Settings,
    store: Store,
    clock: Clock | None = None,
    gate: Callable[[str], Awaitable[None]] | None = None,
) -> AsyncIterator[Checker]:
    """A Checker with its fetchers open for the duration of the block; `gate` shares each
    host's turn with other processes (workers)."""
    clock = clock or SystemClock()
    options = fetch_options(settings)
    # The browser launches Chromium only when a document first needs it.
    async with (
        HttpFetcher(options, clock=clock, gate=gate) as http,
        make_browser(settings, options, clock) as browser,
    ):
        yield Checker(settings, store.repo, http, browser, clock, Alerting(settings))


def make_outbox(settings: Settings, store: Store) -> Outbox:
    """The outbox of the configured channels (secrets from the environment)."""
    from monitor.alerting.outbox import Outbox, build_channels  # the channels load when used

    return Outbox(store.repo, settings, build_channels(settings))
