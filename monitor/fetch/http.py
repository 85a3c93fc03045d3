"""Fetching pages over HTTP: timeouts, a body-size cap, retries with back-off, conditional GET and
per-host politeness. Transport failures and error statuses become FetchError; content is not judged.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from monitor.errors import FetchError

USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36 policywatch/0.1 (+https://github.com/policywatch)"
)
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# Only what _Decoder undoes in bounded steps; br and zstd would each need a bounded decoder.
ACCEPT_ENCODING = "gzip, deflate"

TRANSIENT_STATUSES = frozenset({408, 429})
CHALLENGE_STATUSES = frozenset({403, 406})
CHALLENGE_MARKERS = (
    "captcha",
    "checking your browser",
    "security check",
    "just a moment",
    "verify you are human",
    "are you a robot",
    "unusual traffic",
    "challenge-platform",
)
SNIFF_BYTES = 64 * 1024
_STEP = 64 * 1024  # the most a compressed body may expand by in one decoding step


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One HTTP response, as evidence: what was asked, what came back, and when."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str
    charset: str | None
    fetched_at: datetime
    elapsed_ms: float
    fetcher: str = "http"

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How one HttpFetcher behaves; times in seconds."""

    timeout: float = 30.0  # each of connect/read/write/pool, and the deadline of one attempt
    max_bytes: int = 10_000_000  # decoded body size cap
    max_redirects: int = 5
    retries: int = 2  # extra attempts after a transient failure
    backoff: float = 2.0  # base of the exponential back-off (full jitter)
    min_gap: float = 5.0  # between the end of one request and the start of the next to a host
    user_agent: str = USER_AGENT
    accept_language: str = "en-US,en;q=0.9"
    max_backoff: float = 60.0
    max_retry_after: float = 600.0  # a longer Retry-After gives up instead of waiting

    def __post_init__(self) -> None:
        for name in ("timeout", "max_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchOptions.{name} must be positive, not {getattr(self, name)}")
        for name in ("max_redirects", "retries", "backoff", "min_gap", "max_backoff"):
            if getattr(self, name) < 0:
                raise ValueError(f"FetchOptions.{name} must be >= 0, not {getattr(self, name)}")


DEFAULT_OPTIONS = FetchOptions()


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class _Host:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_end: float | None = None


class HttpFetcher:
    """Fetches pages with one pooled httpx client; safe to share between concurrent tasks."""

    def __init__(
        self,
        options: FetchOptions = DEFAULT_OPTIONS,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        gate: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """`gate(host)`, when given, is awaited before each request to `host` (after this
        fetcher's own gap): the turn of the host across processes (monitor.queue.hosts)."""
        self.options = options
        self._gate = gate
        self._clock: Clock = clock or SystemClock()
        self._transport = transport
        self._rng = rng or random.Random()
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, _Host] = {}

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url`, retrying transient failures; 304 is a result, errors are FetchError."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        name = _host_of(url)
        host = self._host(name)
        attempts = self.options.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._polite_attempt(host, url, headers, name)
            except FetchError as error:
                if not error.transient or attempt == attempts:
                    if attempt == 1:
                        raise
                    raise _gave_up(error, attempt) from error
                wait = self._retry_wait(error, attempt)
                if wait > self.options.max_retry_after:
                    note = f"the server asked to wait {wait:g} s, over the limit of "
                    note += f"{self.options.max_retry_after:g} s"
                    raise _gave_up(error, attempt, note) from error
                await self._clock.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _host(self, name: str) -> _Host:
        return self._hosts.setdefault(name, _Host())

    def _retry_wait(self, error: FetchError, attempt: int) -> float:
        if error.retry_after is not None:
            return error.retry_after
        ceiling = min(self.options.max_backoff, self.options.backoff * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    async def _polite_attempt(
        self, host: _Host, url: str, headers: dict[str, str], name: str
    ) -> FetchResult:
        async with host.lock:
            if host.last_end is not None:
                wait = host.last_end + self.options.min_gap - self._clock.monotonic()
                if wait > 0:
                    await self._clock.sleep(wait)
            if self._gate is not None:
                await self._gate(name)
            try:
                return await self._attempt(url, headers)
            finally:
                host.last_end = self._clock.monotonic()

    async def _attempt(self, url: str, headers: dict[str, str]) -> FetchResult:
        client = self._client_once()
        fetched_at = self._clock.now()
        started = self._clock.monotonic()
        try:
            async with (
                asyncio.timeout(self.options.timeout),
                client.stream("GET", url, headers=headers) as response,
            ):
                body = await self._read(response, url)
        except TimeoutError as exc:
            message = f"fetching {url} took longer than the {self.options.timeout:g} s deadline"
            raise FetchError("fetch", message, transient=True) from exc
        except httpx.HTTPError as exc:
            raise _translate(exc, url, self.options.max_redirects) from exc
        content_type, charset = parse_content_type(response.headers.get("content-type", ""))
        return FetchResult(
            url=url,
            final_url=str(response.url),
            status=response.status_code,
            headers=_flat_headers(response.headers),
            body=body,
            content_type=content_type,
            charset=charset,
            fetched_at=fetched_at,
            elapsed_ms=(self._clock.monotonic() - started) * 1000,
        )

    def _client_once(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers={
                    "User-Agent": self.options.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Language": self.options.accept_language,
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                timeout=httpx.Timeout(self.options.timeout),
                follow_redirects=True,
                max_redirects=self.options.max_redirects,
                http2=False,
                transport=self._transport,
                verify=_ssl_context(),
            )
        return self._client

    async def _read(self, response: httpx.Response, url: str) -> bytes:
        status = response.status_code
        if status == 304:
            return b""
        if 200 <= status < 300:
            return await _read_body(response, url, self.options.max_bytes, strict=True)
        raise await self._status_error(response, url)

    async def _status_error(self, response: httpx.Response, url: str) -> FetchError:
        status = response.status_code
        where = str(response.url)
        if where != url:
            where += f" (redirected from {url})"
        challenged = response.headers.get("cf-mitigated", "").lower() == "challenge"
        if status in CHALLENGE_STATUSES and not challenged:
            try:
                prefix = await _read_body(response, url, SNIFF_BYTES, strict=False)
            except (FetchError, httpx.TransportError):  # an unreadable refusal is still a refusal
                prefix = b""
            text = prefix.decode("utf-8", "replace").lower()
            challenged = any(marker in text for marker in CHALLENGE_MARKERS)
        if challenged:
            message = f"HTTP {status} from {where} is a bot challenge page, not the document"
            return FetchError("challenge", message, transient=False, status=status)
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        return FetchError(
            "http_status",
            f"HTTP {status}{reason} from {where}",
            transient=status >= 500 or status in TRANSIENT_STATUSES,
            status=status,
            retry_after=parse_retry_after(response.headers.get("retry-after"), self._clock.now()),
        )


async def _read_body(response: httpx.Response, url: str, limit: int, *, strict: bool) -> bytes:
    """The decoded body, streamed; past `limit` bytes (decoded or raw) it raises, or if not
    `strict` returns the first `limit` bytes. Memory stays near `limit` whatever the encoding."""
    declared = response.headers.get("content-length", "")
    if strict and declared.isdigit() and int(declared) > limit:
        raise too_large(url, limit)
    decoder = _Decoder(response.headers.get("content-encoding", ""), url)
    buffer = bytearray()
    raw_size = 0
    async for raw in response.aiter_raw():
        raw_size += len(raw)
        for piece in decoder.decode(raw):
            buffer += piece
            if len(buffer) > limit:
                break
        if len(buffer) > limit or raw_size > limit:
            if strict:
                raise too_large(url, limit)
            return bytes(buffer[:limit])
    return bytes(buffer)


class _Decoder:
    """Undoes a gzip or deflate Content-Encoding at most _STEP output bytes at a time, so a small
    compressed body (a gzip bomb) never expands in memory beyond what the caller keeps."""

    def __init__(self, content_encoding: str, url: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._url = url
        self._coding = codings[0] if codings else ""
        if len(codings) > 1 or self._coding not in ("", "gzip", "x-gzip", "deflate"):
            message = f"{url} came with Content-Encoding {content_encoding!r}, which is not decoded"
            raise FetchError("fetch", message)
        self._gzip = self._coding in ("gzip", "x-gzip")
        self._raw = False  # deflate without the zlib wrapper, as some servers send it
        self._members = 0  # complete gzip members seen
        self._done = False
        self._fresh: bytes | None = b""  # input fed to the current stream before it gave output
        self._stream = self._new_stream()

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not self._coding:
            if data:
                yield data
            return
        while not self._done:
            try:
                out = self._step(data)
            except zlib.error as exc:
                message = f"the {self._coding} body of {self._url} is corrupt: {exc}"
                raise FetchError("fetch", message) from exc
            if out:
                yield out
            if self._stream.eof:
                data = self._stream.unused_data
                if not self._gzip:
                    self._done = True  # bytes after a deflate stream are ignored, as browsers do
                    return
                self._members += 1  # concatenated gzip members are one body
                self._stream = self._new_stream()
                if not data:
                    return
                continue
            data = self._stream.unconsumed_tail
            if not data and len(out) < _STEP:
                return

    def _new_stream(self) -> zlib._Decompress:
        self._fresh = b""
        if self._gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw else zlib.MAX_WBITS)

    def _step(self, data: bytes) -> bytes:
        if self._fresh is not None:
            self._fresh += data
        try:
            out = self._stream.decompress(data, _STEP)
        except zlib.error:
            if self._fresh is None:
                raise
            if not self._gzip and not self._raw:
                self._raw = True
                fed = self._fresh
                self._stream = self._new_stream()
                return self._step(fed)
            if self._members:  # trailing garbage after a whole gzip member: ignored like browsers
                self._done = True
                return b""
            raise
        if out or self._stream.eof:
            self._fresh = None
        return out


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building one loads the whole CA bundle (tens of ms); every client can share it.
    return httpx.create_ssl_context()


def parse_content_type(value: str) -> tuple[str, str | None]:
    """("text/html", "utf-8") from "Text/HTML; Charset="UTF-8""; ("", None) when absent."""
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip("\"'").lower() or None
    return media.strip().lower(), charset


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), else None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _host_of(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError("fetch", f"{url!r} is not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("fetch", f"only http and https URLs can be fetched, not {url!r}")
    return parsed.host


def _translate(exc: httpx.HTTPError, url: str, max_redirects: int) -> FetchError:
    detail = _detail(exc)
    if isinstance(exc, httpx.TooManyRedirects):
        return FetchError("fetch", f"too many redirects (more than {max_redirects}) from {url}")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return FetchError("fetch", f"cannot fetch {url}: {detail}")
    if isinstance(exc, httpx.TimeoutException):
        message = f"timed out ({type(exc).__name__}) fetching {url}"
    elif isinstance(exc, httpx.ConnectError):
        message = f"could not connect to {url}: {detail}"
    elif isinstance(exc, httpx.RemoteProtocolError):
        message = f"the server broke off or garbled the response to {url}: {detail}"
    elif isinstance(exc, httpx.TransportError):
        message = f"network error fetching {url}: {detail}"
    else:
        return FetchError("fetch", f"fetching {url} failed: {detail}")
    return FetchError("fetch", message, transient=True)


def _detail(exc: BaseException) -> str:
    """The most telling words of a library error: its own, else those of the error it wraps
    (httpx's ReadError on a reset connection says nothing; the OSError under it does)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        if str(current):
            return str(current)
        current = current.__cause__ or current.__context__
    return type(exc).__name__


def _gave_up(error: FetchError, attempts: int, note: str = "") -> FetchError:
    """`error` again, saying why no further attempt was made and how many there were."""
    plural = "s" if attempts > 1 else ""
    reason = f"{note}; " if note else ""
    return FetchError(
        error.kind,
        f"{error.message}; {reason}gave up after {attempts} attempt{plural}",
        transient=error.transient,
        status=error.status,
        retry_after=error.retry_after,
    )


def _flat_headers(headers: httpx.Headers) -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in headers.multi_items():
        if name == "set-cookie":  # session state, not evidence; may hold secrets
            continue
        flat[name] = f"{flat[name]}, {value}" if name in flat else value
    return flat


def too_large(url: str, limit: int) -> FetchError:
    return FetchError("fetch", f"response body of {url} exceeds the {_size(limit)} limit")


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g} MB"
    if n >= 1_000:
        return f"{n / 1_000:g} kB"
    return f"{n} bytes"
