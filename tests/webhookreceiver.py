"""A real HTTP receiver on 127.0.0.1 for webhook tests: records every request and answers from a
scripted list of statuses (the last one repeats), optionally with a Retry-After header.

Usage::

    with WebhookReceiver([500, 200], retry_after="30") as receiver:
        channel = WebhookChannel("hook", WebhookOptions(url=receiver.url, secret="s"))
        ...
        assert receiver.requests[-1].headers["x-policywatch-delivery"] == "key"
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Recorded:
    """One request as the receiver got it; header names lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """Answers POSTs with `statuses` in turn; `retry_after` is sent with every non-2xx answer."""

    def __init__(
        self,
        statuses: Sequence[int] = (200,),
        *,
        retry_after: str | None = None,
        body: bytes = b"ok",
    ) -> None:
        if not statuses:
            raise ValueError("WebhookReceiver needs at least one status")
        self.retry_after = retry_after
        self.body = body
        self._statuses = list(statuses)
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def script(self, *statuses: int) -> None:
        """Answer the next requests with these statuses instead."""
        with self._lock:
            self._statuses = list(statuses)

    def _answer(self, request: Recorded) -> int:
        with self._lock:
            self._requests.append(request)
            return self._statuses.pop(0) if len(self._statuses) > 1 else self._statuses[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._answer(Recorded("POST", self.path, headers, body))
                self.send_response(status)
                if receiver.retry_after is not None and not 200 <= status < 300:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        return Handler

    def __enter__(self) -> WebhookReceiver:
        # A short poll interval: shutdown() waits for serve_forever to notice it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
