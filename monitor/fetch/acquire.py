"""acquire(): get a document's page the way its `fetcher` says, and keep it only if it is HTML.

One acquisition for `check`, `validate` and `compare`, so they agree on every guard: the fetch
order (`auto` tries plain HTTP first, and the browser when HTTP meets an empty JavaScript shell,
a bot challenge or a 403 / 406; once the browser was needed, a document starts with it), the
content type, the decoding, and what the caller makes of the page (`examine`, run in a worker
thread: extraction, or the fingerprint), whose ExtractError of those kinds escalates too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.errors import CheckError, ExtractError, FetchError
from monitor.extract.decode import decode_page
from monitor.fetch.http import FetchResult

T = TypeVar("T")

ESCALATE = frozenset({"empty_shell", "challenge"})
"""Failures a real browser may get past."""
BLOCKING_STATUSES = frozenset({403, 406})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

Fetch = Callable[[str], Awaitable[FetchResult]]
"""Fetches the document with the fetcher of the kind given ("http" or "browser")."""
Examine = Callable[[FetchResult, str | None], T]
"""Makes something of a fetched page and its decoded text (None for 304 Not Modified)."""


@dataclass(frozen=True, slots=True)
class Acquired(Generic[T]):
    """What acquiring gave: the fetcher used, its response (when one came) and either what
    `examine` made of it or the error that ended the acquisition."""

    fetcher: str
    result: FetchResult | None
    value: T | None = None
    error: CheckError | None = None

    @property
    def status(self) -> int | None:
        if self.result is not None:
            return self.result.status
        return self.error.status if isinstance(self.error, FetchError) else None


def fetch_order(fetcher: str, last_fetcher: str | None = None) -> tuple[str, ...]:
    """The fetchers to try, in order: `auto` is HTTP then the browser, or the browser alone
    once the last check that saw the document needed it."""
    if fetcher != "auto":
        return (fetcher,)
    return ("browser",) if last_fetcher == "browser" else ("http", "browser")


def page_text(result: FetchResult) -> str | None:
    """The decoded page, None for 304 Not Modified, or ExtractError("not_html")."""
    if result.not_modified:
        return None
    if result.content_type not in HTML_TYPES:
        raise ExtractError(
            "not_html",
            f"{result.final_url} returned {result.content_type or 'no content type'}, "
            f"not an HTML page",
        )
    return decode_page(result.body, result.charset)


def escalates(error: CheckError) -> bool:
    """Whether a failure is one a browser may get past."""
    status = error.status if isinstance(error, FetchError) else None
    return error.kind in ESCALATE or status in BLOCKING_STATUSES


async def acquire(order: tuple[str, ...], fetch: Fetch, examine: Examine[T]) -> Acquired[T]:
    """Fetch with each kind in `order` until one gives a page `examine` accepts."""
    for attempt, kind in enumerate(order):
        last = attempt == len(order) - 1
        try:
            result = await fetch(kind)
        except FetchError as exc:
            if not last and escalates(exc):
                continue
            return Acquired(kind, None, error=exc)
        try:
            value = await asyncio.to_thread(_examined, examine, result)
        except ExtractError as exc:
            if result.final_url != result.url:  # a wall is often a redirect away
                exc.message = f"{exc.message} (redirected to {result.final_url})"
            if not last and escalates(exc):
                continue
            return Acquired(kind, result, error=exc)
        return Acquired(kind, result, value)
    raise ValueError("acquire() needs at least one fetcher")


def _examined(examine: Examine[T], result: FetchResult) -> T:
    return examine(result, page_text(result))
