"""serve_web(): the UI on a uvicorn server inside an existing event loop, until told to stop.

The daemon owns the process's signals (SIGINT / SIGTERM set its stop event), so uvicorn's own
signal handling is switched off here; a port that cannot be bound is one clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from monitor.config import Settings
from monitor.errors import ConfigError, PolicywatchError
from monitor.fetch.http import Clock
from monitor.web.app import create_app
from monitor.web.context import web_token

log = logging.getLogger("policywatch.web")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class WebServerError(PolicywatchError):
    """The web server could not start (the address is in use, or cannot be bound)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def check_exposure(settings: Settings, host: str) -> None:
    """Off the loopback interface the history is only served behind a token."""
    if host not in LOOPBACK and web_token(settings) is None:
        raise ConfigError(
            f"serving on {host!r} needs web.token or web.token_env: the history would be open "
            f"to anyone who can reach it",
            key="web.host",
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise WebServerError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


def server_for(app: FastAPI) -> uvicorn.Server:
    """A uvicorn server for `app` that leaves the process's signals alone; run it with
    `serve(sockets=[bind(...)])`."""
    config = uvicorn.Config(
        app,
        log_config=None,  # the CLI configures logging; uvicorn must not replace it
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
    )
    return _Server(config)


async def serve_web(
    settings: Settings,
    engine: Engine,
    *,
    host: str,
    port: int,
    stop: asyncio.Event,
    clock: Clock | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the UI, feeds and API on host:port until `stop` is set, then finish open requests.

    `ready` is called with the server's URL once it listens (port 0 picks a free port).
    """
    check_exposure(settings, host)
    app = create_app(settings, engine, clock=clock, host=host)
    sock = bind(host, port)
    server = server_for(app)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}"
    log.info("serving the history at %s", url)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    if ready is not None:
        ready(url)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopped.cancel()
        await task
        sock.close()
