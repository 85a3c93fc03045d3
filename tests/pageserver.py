"""A real HTTP/1.1 server on 127.0.0.1 for tests: fixture pages, conditional GET, faults on demand.

Usage::

    with serve({"/policy": Response(body="<h1>Privacy</h1>")}) as server:
        result = fetch(server.url("/policy"))
        server.set("/policy", in_turn(Response(503), Response(body="<h1>Back</h1>")))
        assert server.requests[-1].headers["user-agent"]
"""

from __future__ import annotations

import itertools
import random
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any

from tests.sitegen import Section, policy_page

HeaderItems = Mapping[str, str] | Sequence[tuple[str, str]]

_DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str  # as sent, query included
    headers: dict[str, str]  # lower-cased names; a repeated header is joined with ", "
    body: bytes = b""

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]


@dataclass
class Response:
    """What a route answers. `body` as str is encoded with the Content-Type charset (else UTF-8).

    Content-Type defaults to text/html; charset=utf-8; give it as "" to send none. `headers` may
    be a list of pairs to repeat a header. `etag` / `last_modified` are sent, and a request whose
    If-None-Match / If-Modified-Since matches them gets 304 without a body. The fault hooks:
    `delay_headers` seconds before anything is sent (cut short when the server stops), `chunks`
    sent one write each (chunked encoding unless a Content-Length header is given) with
    `chunk_delay` between them, `truncate_to` sends that many bytes of a body whose full length
    was announced, then closes, and `reset` aborts the connection (TCP RST) without a response.
    """

    status: int = 200
    body: bytes | str = b""
    headers: HeaderItems = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay_headers: float = 0.0
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    truncate_to: int | None = None
    reset: bool = False

    def header_items(self) -> list[tuple[str, str]]:
        headers = self.headers
        items = list(headers.items() if isinstance(headers, Mapping) else headers)
        if not any(name.lower() == "content-type" for name, _ in items):
            items.insert(0, ("Content-Type", _DEFAULT_CONTENT_TYPE))
        items = [(n, v) for n, v in items if not (n.lower() == "content-type" and v == "")]
        if self.etag is not None:
            items.append(("ETag", _quoted(self.etag)))
        if self.last_modified is not None:
            items.append(("Last-Modified", self.last_modified))
        return items

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        content_type = next((v for n, v in self.header_items() if n.lower() == "content-type"), "")
        return self.body.encode(_charset(content_type) or "utf-8")

    def not_modified_for(self, request: Request) -> bool:
        """True when the request's validators say the client already has this version."""
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            return self.etag is not None and _etag_matches(if_none_match, _quoted(self.etag))
        if_modified_since = request.headers.get("if-modified-since")
        if if_modified_since is None or self.last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(if_modified_since)
            modified = parsedate_to_datetime(self.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since


Route = Callable[[Request], Response]


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, headers={"Location": location})


def fresh_page(sections: Sequence[Section] | None = None) -> Route:
    """A route giving the same policy in fresh noise (tokens, class names...) on every request."""
    counter = itertools.count()

    def route(_request: Request) -> Response:
        body = policy_page(sections, rng=random.Random(next(counter)))
        return Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    return route


def in_turn(*responses: Response) -> Route:
    """A route answering with each response in turn, then the last one for ever (500, 500, 200)."""
    if not responses:
        raise ValueError("in_turn needs at least one response")
    sequence = itertools.chain(responses[:-1], itertools.repeat(responses[-1]))
    lock = threading.Lock()

    def route(_request: Request) -> Response:
        with lock:
            return next(sequence)

    return route


def gzip_bomb(expanded: int = 1 << 30, block: int = 1 << 20) -> bytes:
    """One valid gzip member holding `expanded` zero bytes, about a thousandth of that size.

    Cheap to build: `block` zeros are compressed once, ending in a full flush (byte-aligned, with
    no back-references past it), so the compressed block can be repeated; the CRC is computed
    without touching the zeros.
    """
    count, rest = divmod(expanded, block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks = (first + again * (count - 1)) if count else b""
    tail = compressor.compress(bytes(rest)) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, mtime 0
    trailer = struct.pack("<II", _crc32_of_zeros(expanded), expanded & 0xFFFFFFFF)
    return header + blocks + tail + trailer


def _crc32_of_zeros(n: int) -> int:
    """zlib.crc32(bytes(n)) in microseconds: zero bytes act linearly on the CRC register, so the
    map for n zero bytes is a power of the map for one, taken by squaring (as crc32_combine)."""

    def apply(matrix: list[int], vector: int) -> int:
        out = 0
        for column in matrix:
            if vector & 1:
                out ^= column
            vector >>= 1
        return out

    def one_zero_byte(register: int) -> int:
        for _ in range(8):
            register = (register >> 1) ^ (0xEDB88320 if register & 1 else 0)
        return register

    power = [one_zero_byte(1 << bit) for bit in range(32)]
    result = [1 << bit for bit in range(32)]  # identity
    while n:
        if n & 1:
            result = [apply(power, column) for column in result]
        power = [apply(power, column) for column in power]
        n >>= 1
    return apply(result, 0xFFFFFFFF) ^ 0xFFFFFFFF


class PageServer:
    """A threaded HTTP server whose routes can change while it runs; it records every request."""

    def __init__(self, routes: Mapping[str, Response | Route] | None = None) -> None:
        self.requests: list[Request] = []
        self.errors: list[BaseException] = []  # raised by route callables
        self._routes: dict[str, Response | Route] = dict(routes or {})
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the page server is not running")
        return self._httpd.server_address[1]

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        """The URL of `path`; host="localhost" reaches the same server under another host name."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return f"http://{host}:{self.port}{path}"

    def set(self, path: str, response: Response | Route) -> None:
        """Serve `response` at `path` (matched with its query first, then without it)."""
        with self._lock:
            self._routes[path] = response

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path in (r.path, r.route)]

    def start(self) -> PageServer:
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # wake handler threads parked on idle keep-alive sockets
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc is None and self.errors:
            raise RuntimeError(f"a page server route raised {self.errors[0]!r}") from self.errors[0]

    def respond(self, request: Request) -> Response:
        """Record the request and find its response (404 when no route matches)."""
        with self._lock:
            self.requests.append(request)
            route = self._routes.get(request.path, self._routes.get(request.route))
        if route is None:
            return Response(404, f"no page at {request.path}\n", {"Content-Type": "text/plain"})
        if isinstance(route, Response):
            return route
        try:
            return route(request)
        except Exception as exc:  # surfaced when the server stops, so the test fails loudly
            self.errors.append(exc)
            return Response(500, f"route raised {exc!r}\n", {"Content-Type": "text/plain"})

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


@contextmanager
def serve(routes: Mapping[str, Response | Route] | None = None) -> Iterator[PageServer]:
    """Run a PageServer for the duration of the block."""
    with PageServer(routes) as server:
        yield server


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pages: PageServer) -> None:
        self.pages = pages
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's full name; we know it.
        TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (a size cap, a timeout) is normal here, not worth a trace.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True  # else headers and body in two writes cost a delayed-ACK wait
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.pages.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.pages.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        request = self._request()
        response = self.server.pages.respond(request)
        try:
            self._send(request, response)
        except OSError:  # the client went away mid-answer
            self.close_connection = True

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _request(self) -> Request:
        body = self._request_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return Request(self.command, self.path, headers, body)

    def _request_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        parts = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(parts)

    def _send(self, request: Request, response: Response) -> None:
        if response.reset:
            self._reset()
            return
        if response.delay_headers:
            self.server.pages.stopping.wait(response.delay_headers)
        if response.not_modified_for(request):
            self._send_head(304, _without(response.header_items(), "content-type"))
            return
        headers = response.header_items()
        body = response.payload()
        has_body = request.method != "HEAD" and response.status not in _NO_BODY_STATUSES
        if response.chunks is not None and has_body:
            self._send_chunks(response, headers)
            return
        if not _has(headers, "content-length"):
            headers.append(("Content-Length", str(len(body))))
        if response.truncate_to is not None:
            body = body[: response.truncate_to]
            self.close_connection = True
        self._send_head(response.status, headers)
        if has_body:
            self.wfile.write(body)

    def _send_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()

    def _send_chunks(self, response: Response, headers: list[tuple[str, str]]) -> None:
        framed = not _has(headers, "content-length")
        if framed:
            headers.append(("Transfer-Encoding", "chunked"))
        self._send_head(response.status, headers)
        for index, chunk in enumerate(response.chunks or []):
            if index and response.chunk_delay:
                self.server.pages.stopping.wait(response.chunk_delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if framed else chunk)
        if framed:
            self.wfile.write(b"0\r\n\r\n")

    def _reset(self) -> None:
        # Linger 0 turns close() into an abortive close: the client sees a TCP reset.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


def _quoted(etag: str) -> str:
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(n.lower() == name for n, _ in headers)


def _without(headers: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if n.lower() != name]
