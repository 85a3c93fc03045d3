"""The HTTP fetcher against a real local server; a fake clock means back-off and gaps never wait."""

from __future__ import annotations

import asyncio
import gzip
import random
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from monitor.errors import FetchError
from monitor.fetch.http import (
    FetchOptions,
    FetchResult,
    HttpFetcher,
    parse_content_type,
    parse_retry_after,
)
from tests.pageserver import PageServer, Request, Response, gzip_bomb, in_turn, redirect, serve

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LAST_MODIFIED = "Sun, 01 Mar 2026 08:00:00 GMT"
PAGE = "<html><body><h1>Privacy notice</h1><p>We keep what you tell us.</p></body></html>"


class FakeClock:
    """Time that moves only when slept through or advanced; every sleep is recorded."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return START + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


class CeilingRandom(random.Random):
    """Jitter that always picks the top of its range, so back-off delays are exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with serve() as server:
        yield server


def fetch(
    url: str,
    clock: FakeClock | None = None,
    *,
    rng: random.Random | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    **options: Any,
) -> FetchResult:
    async def run() -> FetchResult:
        fetcher = HttpFetcher(
            FetchOptions(**options), clock=clock or FakeClock(), rng=rng or CeilingRandom()
        )
        async with fetcher:
            return await fetcher.fetch(url, etag=etag, last_modified=last_modified)

    return asyncio.run(run())


def fetch_error(url: str, clock: FakeClock | None = None, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, clock, **kwargs)
    return info.value


def test_a_page_comes_back_with_its_headers_type_and_charset(pages: PageServer) -> None:
    headers = [
        ("Content-Type", "Text/HTML; Charset=ISO-8859-1"),
        ("X-Trace", "first"),
        ("X-Trace", "second"),
        ("Set-Cookie", "session=secret"),
    ]
    pages.set("/policy", Response(body="<p>Café</p>", headers=headers))
    clock = FakeClock()
    clock.advance(42)

    result = fetch(pages.url("/policy"), clock)

    assert (result.status, result.body) == (200, "<p>Café</p>".encode("latin-1"))
    assert (result.content_type, result.charset) == ("text/html", "iso-8859-1")
    assert result.headers["x-trace"] == "first, second"
    assert "set-cookie" not in result.headers
    assert all(name == name.lower() for name in result.headers)
    assert result.url == result.final_url == pages.url("/policy")
    assert result.fetched_at == START + timedelta(seconds=42)
    assert result.fetcher == "http"
    assert not result.not_modified
    sent = pages.requests[0].headers
    assert sent["user-agent"].startswith("Mozilla/5.0")
    assert "policywatch" in sent["user-agent"]
    assert sent["accept"].startswith("text/html")
    assert sent["accept-language"] == "en-US,en;q=0.9"
    assert sent["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


def test_conditional_get_sends_validators_and_304_is_a_result(pages: PageServer) -> None:
    pages.set("/policy", Response(body=PAGE, etag='"v1"', last_modified=LAST_MODIFIED))
    url = pages.url("/policy")
    first = fetch(url)

    again = fetch(url, etag=first.headers["etag"], last_modified=first.headers["last-modified"])

    assert (again.status, again.body, again.not_modified) == (304, b"", True)
    assert again.headers["etag"] == '"v1"'
    sent = pages.requests[-1].headers
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('"v1"', LAST_MODIFIED)
    assert fetch(url, last_modified=LAST_MODIFIED).not_modified
    pages.set("/policy", Response(body="<p>new</p>", etag='"v2"'))
    changed = fetch(url, etag='"v1"')
    assert (changed.status, changed.body) == (200, b"<p>new</p>")


@pytest.mark.parametrize(
    ("failures", "backoff", "expected_sleeps"),
    [
        (1, 2.0, [2.0]),
        (3, 2.0, [2.0, 4.0, 8.0]),
        (3, 50.0, [50.0, 60.0, 60.0]),  # capped at max_backoff
    ],
)
def test_server_errors_are_retried_with_exponential_backoff(
    pages: PageServer, failures: int, backoff: float, expected_sleeps: list[float]
) -> None:
    pages.set("/policy", in_turn(*[Response(500)] * failures, Response(body=PAGE)))
    clock = FakeClock()

    result = fetch(pages.url("/policy"), clock, retries=3, backoff=backoff, min_gap=0)

    assert result.body == PAGE.encode()
    assert clock.sleeps == expected_sleeps
    assert len(pages.requests) == failures + 1


def test_backoff_is_jittered_and_the_last_error_counts_attempts(pages: PageServer) -> None:
    pages.set("/policy", Response(502))
    clock = FakeClock()

    error = fetch_error(pages.url("/policy"), clock, rng=random.Random(3), retries=4, min_gap=0)

    ceilings = [2.0, 4.0, 8.0, 16.0]
    assert len(clock.sleeps) == 4
    assert all(0 <= slept <= top for slept, top in zip(clock.sleeps, ceilings, strict=True))
    assert clock.sleeps != ceilings
    assert (error.kind, error.status, error.transient) == ("http_status", 502, True)
    assert error.message.endswith("gave up after 5 attempts")
    assert len(pages.requests) == 5


def test_retry_after_seconds_is_honoured(pages: PageServer) -> None:
    pages.set("/policy", in_turn(Response(503, headers={"Retry-After": "7"}), Response(body=PAGE)))
    clock = FakeClock()

    assert fetch(pages.url("/policy"), clock).status == 200
    assert clock.sleeps == [7.0]  # the 5 s host gap is already served by the wait


def test_retry_after_http_date_is_honoured(pages: PageServer) -> None:
    when = format_datetime(START + timedelta(seconds=30), usegmt=True)
    pages.set("/policy", in_turn(Response(503, headers={"Retry-After": when}), Response(body=PAGE)))
    clock = FakeClock()

    assert fetch(pages.url("/policy"), clock).status == 200
    assert clock.sleeps == [30.0]


def test_429_is_transient_and_retried(pages: PageServer) -> None:
    pages.set(
        "/policy",
        in_turn(Response(429, headers={"Retry-After": "1"}), Response(429), Response(body=PAGE)),
    )
    clock = FakeClock()

    assert fetch(pages.url("/policy"), clock, min_gap=0).status == 200
    assert clock.sleeps == [1.0, 4.0]  # Retry-After, then the second back-off step


def test_retry_after_beyond_the_cap_gives_up_at_once(pages: PageServer) -> None:
    pages.set("/policy", Response(503, headers={"Retry-After": "3600"}))
    clock = FakeClock()

    error = fetch_error(pages.url("/policy"), clock)

    assert clock.sleeps == []
    assert len(pages.requests) == 1
    assert (error.status, error.retry_after, error.transient) == (503, 3600.0, True)
    assert "wait 3600 s" in error.message
    assert "gave up after 1 attempt" in error.message


def test_not_found_is_not_retried(pages: PageServer) -> None:
    clock = FakeClock()
    url = pages.url("/nowhere")

    error = fetch_error(url, clock)

    assert (error.kind, error.status, error.transient) == ("http_status", 404, False)
    assert error.message == f"HTTP 404 Not Found from {url}"
    assert clock.sleeps == []
    assert len(pages.requests) == 1


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (Response(403, "<title>Security Check</title><p>Please wait.</p>"), "challenge"),
        (Response(406, "<p>Solve this CAPTCHA to continue</p>"), "challenge"),
        (Response(403, "<p>Checking your browser before you go on</p>"), "challenge"),
        (Response(403, "", headers={"cf-mitigated": "challenge"}), "challenge"),
        (Response(403, "<p>Forbidden: this folder is private.</p>"), "http_status"),
        (Response(403, "captcha", headers={"Content-Encoding": "br"}), "http_status"),
    ],
)
def test_bot_challenges_are_told_apart_from_plain_refusals(
    pages: PageServer, response: Response, kind: str
) -> None:
    pages.set("/policy", response)

    error = fetch_error(pages.url("/policy"))

    assert (error.kind, error.status, error.transient) == (kind, response.status, False)
    assert len(pages.requests) == 1


def test_a_redirect_loop_is_a_fetch_error(pages: PageServer) -> None:
    pages.set("/loop", redirect("/loop"))

    error = fetch_error(pages.url("/loop"), max_redirects=3)

    assert (error.kind, error.transient) == ("fetch", False)
    assert error.message == f"too many redirects (more than 3) from {pages.url('/loop')}"
    assert len(pages.requests) == 4


def test_redirects_are_followed_to_the_final_url(pages: PageServer) -> None:
    pages.set("/old", redirect("/moved", 301))
    pages.set("/moved", redirect("/new?lang=en"))
    pages.set("/new", Response(body=PAGE))

    result = fetch(pages.url("/old"))

    assert result.url == pages.url("/old")
    assert result.final_url == pages.url("/new?lang=en")
    assert result.body == PAGE.encode()


@pytest.mark.parametrize(
    "response",
    [
        Response(body=b"x" * 4001),  # announced by Content-Length
        Response(chunks=[b"x" * 1000] * 5),  # only found out while streaming
    ],
    ids=["content-length", "chunked"],
)
def test_a_body_over_max_bytes_is_refused(pages: PageServer, response: Response) -> None:
    pages.set("/big", response)
    pages.set("/fits", Response(chunks=[b"x" * 1000] * 4))

    error = fetch_error(pages.url("/big"), max_bytes=4000)

    assert (error.kind, error.transient) == ("fetch", False)
    assert error.message == f"response body of {pages.url('/big')} exceeds the 4 kB limit"
    assert len(fetch(pages.url("/fits"), max_bytes=4000).body) == 4000


def test_a_gzip_bomb_stops_at_the_cap_in_bounded_memory(pages: PageServer) -> None:
    assert gzip.decompress(gzip_bomb(3 << 20)) == bytes(3 << 20)  # the bomb is valid gzip
    bomb = gzip_bomb()  # 1 GiB of zeros
    assert len(bomb) < 1_200_000
    pages.set("/bomb", Response(body=bomb, headers={"Content-Encoding": "gzip"}))

    tracemalloc.start()
    try:
        error = fetch_error(pages.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.message.endswith("exceeds the 10 MB limit")
    assert peak < 32_000_000  # the cap plus a few decoding steps, not a whole network read


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("gzip", lambda data: gzip.compress(data[:999]) + gzip.compress(data[999:])),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),
    ],
    ids=["gzip", "x-gzip", "gzip-members", "deflate", "raw-deflate"],
)
def test_compressed_bodies_are_decoded(pages: PageServer, encoding: str, encode: Any) -> None:
    page = (PAGE * 300).encode()
    pages.set("/policy", Response(body=encode(page), headers={"Content-Encoding": encoding}))

    result = fetch(pages.url("/policy"))

    assert result.body == page
    assert result.headers["content-encoding"] == encoding


def test_a_truncated_body_is_a_transient_fetch_error(pages: PageServer) -> None:
    pages.set("/policy", Response(body=PAGE, truncate_to=20))

    error = fetch_error(pages.url("/policy"), retries=0)

    assert (error.kind, error.transient) == ("fetch", True)
    assert pages.url("/policy") in error.message
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)


def test_a_connection_reset_is_a_transient_fetch_error(pages: PageServer) -> None:
    pages.set("/policy", in_turn(Response(reset=True), Response(body=PAGE)))
    clock = FakeClock()

    error = fetch_error(pages.url("/policy"), retries=0)
    assert (error.kind, error.transient) == ("fetch", True)
    assert isinstance(error.__cause__, httpx.TransportError)
    pages.set("/policy", in_turn(Response(reset=True), Response(body=PAGE)))
    assert fetch(pages.url("/policy"), clock, min_gap=0).body == PAGE.encode()
    assert clock.sleeps == [2.0]


def test_a_refused_connection_is_a_transient_fetch_error() -> None:
    with socket.socket() as probe:  # a port that was just free and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    error = fetch_error(f"http://127.0.0.1:{port}/policy", retries=0)

    assert (error.kind, error.transient) == ("fetch", True)
    assert isinstance(error.__cause__, httpx.ConnectError)


def test_a_silent_server_times_out(pages: PageServer) -> None:
    pages.set("/policy", Response(body=PAGE, delay_headers=10))

    error = fetch_error(pages.url("/policy"), timeout=0.1, retries=0)

    assert (error.kind, error.transient) == ("fetch", True)
    assert "timed out" in error.message or "deadline" in error.message


def test_a_trickling_body_hits_the_attempt_deadline(pages: PageServer) -> None:
    pages.set("/policy", Response(chunks=[b"<p>drip</p>"] * 20, chunk_delay=0.05))

    error = fetch_error(pages.url("/policy"), timeout=0.25, retries=0)

    assert (error.kind, error.transient) == ("fetch", True)
    assert error.message == f"fetching {pages.url('/policy')} took longer than the 0.25 s deadline"


def test_requests_to_one_host_keep_the_minimum_gap(pages: PageServer) -> None:
    pages.set("/a", Response(body=PAGE))
    pages.set("/b", Response(body=PAGE))
    clock = FakeClock()

    async def run() -> None:
        async with HttpFetcher(FetchOptions(min_gap=5), clock=clock) as fetcher:
            await fetcher.fetch(pages.url("/a"))
            await fetcher.fetch(pages.url("/b"))
            clock.advance(3)
            await fetcher.fetch(pages.url("/a"))

    asyncio.run(run())

    assert clock.sleeps == [5.0, 2.0]


def test_different_hosts_do_not_wait_for_each_other(pages: PageServer) -> None:
    both_in = threading.Barrier(2, timeout=2)

    def meet(request: Request) -> Response:
        both_in.wait()  # only returns when the other host's request is in flight too
        return Response(body=request.headers["host"])

    pages.set("/meet", meet)
    pages.set("/page", Response(body=PAGE))
    clock = FakeClock()

    async def run() -> list[FetchResult]:
        async with HttpFetcher(FetchOptions(min_gap=5), clock=clock) as fetcher:
            return list(
                await asyncio.gather(
                    fetcher.fetch(pages.url("/meet")),
                    fetcher.fetch(pages.url("/meet", host="localhost")),
                    fetcher.fetch(pages.url("/page")),
                )
            )

    results = asyncio.run(run())

    assert [r.status for r in results] == [200, 200, 200]
    assert clock.sleeps == [5.0]  # only the second request to 127.0.0.1 waited


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/policy", "not a url", "http://"])
def test_urls_that_cannot_be_fetched_fail_without_retrying(url: str) -> None:
    clock = FakeClock()

    error = fetch_error(url, clock)

    assert (error.kind, error.transient) == ("fetch", False)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/html; charset=UTF-8", ("text/html", "utf-8")),
        (
            'Application/XHTML+XML;  Charset="windows-1252"',
            ("application/xhtml+xml", "windows-1252"),
        ),
        ("text/plain", ("text/plain", None)),
        ("", ("", None)),
    ],
)
def test_parse_content_type(value: str, expected: tuple[str, str | None]) -> None:
    assert parse_content_type(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (format_datetime(START + timedelta(minutes=2), usegmt=True), 120.0),
        (format_datetime(START - timedelta(minutes=2), usegmt=True), 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, START) == expected


def test_nonsense_options_are_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        FetchOptions(max_bytes=0)
    with pytest.raises(ValueError, match="retries"):
        FetchOptions(retries=-1)
