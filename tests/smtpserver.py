"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests: records what it receives, can require
AUTH, STARTTLS or implicit TLS, scripts its DATA replies, and stops and restarts on the same port.

Usage::

    with SmtpServer(credentials=("alice", "secret")) as server:
        channel = EmailChannel("ops", EmailOptions(host=server.host, port=server.port, ...))
        channel.send(payload, idempotency_key="k", now=now)
        assert server.messages[0].message["Subject"]
        server.stop()   # an outage: connections are refused
        server.start()  # back on the same port
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    authenticated_as: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Controller(Controller):
    """aiosmtpd's controller, told the port the system picked when it was asked for port 0."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # aiosmtpd leaves it untyped


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.server.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.server.next_data_reply()
        if reply.startswith("250"):
            content = envelope.original_content or b""
            login = session.login_data
            self.server.record(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=content,
                    authenticated_as=login.decode() if isinstance(login, bytes) else None,
                    tls=session.ssl is not None,
                )
            )
        return reply


class SmtpServer:
    """An SMTP server in a thread. `credentials` makes it require AUTH (LOGIN or PLAIN, allowed
    without TLS); `tls` (a server SSLContext) offers STARTTLS and requires it before anything
    else, or with `implicit_tls` wraps every connection in TLS (the "ssl" security mode).
    `data_replies` are answered to DATA in turn, the last one repeating (default 250)."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        data_replies: Sequence[str] = ("250 OK: queued",),
    ) -> None:
        self.credentials = credentials
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.host = HOST
        self.port = 0
        self._data_replies = list(data_replies)
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._controller: _Controller | None = None

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def record(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)

    def next_data_reply(self) -> str:
        with self._lock:
            return (
                self._data_replies.pop(0) if len(self._data_replies) > 1 else self._data_replies[0]
            )

    def start(self) -> SmtpServer:
        """Listen (again): on a free port the first time, on the same port after `stop`."""
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 5.0}
        if self.credentials is not None:
            kwargs |= {"authenticator": self._authenticate, "auth_require_tls": False}
        if self.tls is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls
        elif self.tls is not None:
            kwargs |= {"tls_context": self.tls, "require_starttls": True}
        controller = _Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the listening socket: new connections are refused until `start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(
        self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if self.credentials is None or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        given = (data.login.decode(errors="replace"), data.password.decode(errors="replace"))
        if given != self.credentials:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=data)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
