"""The real policy history served as noisy HTML on 127.0.0.1, one version at a time.

Runs in its own process (so the monitor's CPU time is measured alone). `GET /doc/<name>` serves
the current version of a document, rendered from its Markdown inside a realistic page with fresh
noise on every request; `POST /control/<name>/<n>` makes version n current.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection

from tests import corpus


def _serve(conn: Connection) -> None:
    history = {name: {v.n: v.markdown for v in corpus.versions(name)} for name in corpus.DOCUMENTS}
    current = dict.fromkeys(corpus.DOCUMENTS, 1)
    counter = iter(range(10**12))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) != 2 or parts[0] != "doc" or parts[1] not in history:
                self._send(404, b"not found")
                return
            with lock:
                markdown = history[parts[1]][current[parts[1]]]
                seed = next(counter)
            page = corpus.served_page(markdown, random.Random(seed))
            self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "control" and parts[1] in history:
                with lock:
                    current[parts[1]] = int(parts[2])
                self._send(204, b"")
                return
            self._send(404, b"not found")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    conn.send(server.server_address[1])
    server.serve_forever()


class ReplayServer:
    """The server process; `url(name)` is where a document is served, `show(name, n)` picks n."""

    def __init__(self) -> None:
        parent, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(child,), daemon=True
        )
        self._process.start()
        self.port = int(parent.recv())

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/doc/{name}"

    def show(self, name: str, n: int) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/control/{name}/{n}", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204

    def close(self) -> None:
        self._process.terminate()
        self._process.join(5)

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
