"""The email channel: an alert as a text + HTML email sent over SMTP (STARTTLS, SSL or plain),
with smtplib and socket errors turned into transient or permanent DeliveryErrors."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Any, ClassVar, Literal

from alerts.base import DeliveryError, Message, check_positive, check_text, one_line, redact
from alerts.render import render
from alerts.view import header_safe

Security = Literal["starttls", "ssl", "none"]
_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
_RETRY_HINT = re.compile(r"(\d+)\s*(s|secs?|seconds?|m|mins?|minutes?)\b", re.IGNORECASE)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, kw_only=True)
class EmailOptions:
    """Where and how to send: `port` defaults by `security` (587, 465, 25); `ca_file` trusts a
    private certificate authority (or a self-signed server certificate)."""

    host: str
    sender: str
    to: tuple[str, ...]
    port: int | None = None
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.to, str):
            object.__setattr__(self, "to", (self.to,))
        check_text("host", self.host)
        _check_address("sender", self.sender)
        if not isinstance(self.to, tuple) or not self.to:
            raise ValueError(f"option 'to' must list at least one address, not {self.to!r}")
        for address in self.to:
            _check_address("to", address)
        if self.security not in _DEFAULT_PORTS:
            raise ValueError(
                f"option 'security' must be starttls, ssl or none, not {self.security!r}"
            )
        port = self.port
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            raise ValueError(f"option 'port' must be a TCP port number, not {port!r}")
        check_text("username", self.username, optional=True)
        check_text("password", self.password, optional=True, secret=True)
        if self.password is not None and self.username is None:
            raise ValueError("option 'password' is set but 'username' is not")
        check_positive("timeout", self.timeout)
        check_text("ca_file", self.ca_file, optional=True)

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]


def _check_address(option: str, value: object) -> None:
    check_text(option, value)
    if "@" not in parseaddr(str(value))[1]:
        raise ValueError(f"option {option!r} must be an email address, not {value!r}")


def build_email(message: Message, *, sender: str, to: Sequence[str], now: datetime) -> EmailMessage:
    """The email for a rendered alert: text and HTML alternatives, headers all one line.

    Message-ID comes from the idempotency key, so a retried delivery is the same message to a
    mail client (which then shows it once); X-Policywatch-Delivery carries the key itself.
    """
    email = EmailMessage()
    email["Subject"] = header_safe(message.subject)
    email["From"] = header_safe(sender, 998)
    email["To"] = header_safe(", ".join(to), 998)
    email["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=UTC))
    email["Message-ID"] = _message_id(message.idempotency_key, sender)
    email["X-Policywatch-Delivery"] = header_safe(message.idempotency_key, 200)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: tells responders not to auto-reply
    email.set_content(message.text, cte="quoted-printable")
    email.add_alternative(message.html, subtype="html", cte="quoted-printable")
    return email


def _message_id(key: str, sender: str) -> str:
    domain = _ID_UNSAFE.sub("", parseaddr(sender)[1].rpartition("@")[2]) or "policywatch.invalid"
    local = _ID_UNSAFE.sub("", key)[:64]
    return f"<policywatch.{local}@{domain}>" if local else make_msgid(domain=domain)


class EmailChannel:
    """Sends each alert as one email to every address of `options.to`."""

    kind = "email"
    options_type: ClassVar[type[EmailOptions]] = EmailOptions

    def __init__(self, name: str, options: EmailOptions) -> None:
        self.name = name
        self.options = options

    def send(self, payload: Mapping[str, Any], *, idempotency_key: str, now: datetime) -> None:
        message = render(payload, idempotency_key=idempotency_key, channel=self.name)
        email = build_email(message, sender=self.options.sender, to=self.options.to, now=now)
        try:
            self._deliver(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(exc) from exc

    def _deliver(self, email: EmailMessage) -> None:
        options = self.options
        context = ssl.create_default_context(cafile=options.ca_file)
        smtp: smtplib.SMTP
        if options.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                options.host, options.effective_port, timeout=options.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(options.host, options.effective_port, timeout=options.timeout)
        try:
            if options.security == "starttls":
                self._starttls(smtp, context)
            if options.username:
                smtp.login(options.username, options.password or "")
            envelope_from = parseaddr(options.sender)[1]
            recipients = [address for _, address in getaddresses(list(options.to))]
            refused = smtp.send_message(email, envelope_from, recipients)
        except BaseException:
            smtp.close()
            raise
        # The message is accepted: a failing QUIT must not turn it into a retry (a duplicate).
        with suppress(smtplib.SMTPException, OSError):
            smtp.quit()
        smtp.close()
        if refused:
            raise self._fail(
                f"the server refused some recipients ({_refusals(refused)})", permanent=True
            )

    def _starttls(self, smtp: smtplib.SMTP, context: ssl.SSLContext) -> None:
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            raise self._fail(
                f"the server {self._server()} does not offer STARTTLS "
                '(set security = "ssl" for implicit TLS, or "none")',
                permanent=True,
            )
        smtp.starttls(context=context)
        smtp.ehlo()

    def _server(self) -> str:
        return f"{self.options.host}:{self.options.effective_port}"

    def _fail(
        self, what: str, *, permanent: bool, retry_after: float | None = None
    ) -> DeliveryError:
        text = redact(f"email channel {self.name!r}: {what}", [self.options.password])
        return DeliveryError(text, permanent=permanent, retry_after=retry_after)

    def _error(self, exc: BaseException) -> DeliveryError:
        """A library error as a DeliveryError: 5xx and bad credentials are permanent."""
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = exc.recipients
            permanent = all(code >= 500 for code, _ in refused.values())
            return self._fail(
                f"the server refused every recipient ({_refusals(refused)})", permanent=permanent
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            reply = _reply(exc.smtp_code, exc.smtp_error)
            what = f"the server rejected the login of user {self.options.username!r} ({reply})"
            return self._fail(what, permanent=exc.smtp_code >= 500)
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = _reply(exc.smtp_code, exc.smtp_error)
            transient = exc.smtp_code < 500
            hint = _retry_hint(reply) if transient else None
            return self._fail(
                f"the server answered {reply}", permanent=not transient, retry_after=hint
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read timeout
                return self._network_error(exc.__context__)
            return self._fail(f"the server {self._server()} closed the connection", permanent=False)
        if isinstance(exc, smtplib.SMTPException):
            return self._fail(
                f"the server {self._server()} cannot take it: {one_line(str(exc))}", permanent=True
            )
        return self._network_error(exc)

    def _network_error(self, exc: BaseException) -> DeliveryError:
        server = self._server()
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = one_line(exc.verify_message or str(exc))
            return self._fail(
                f"the TLS certificate of {server} did not verify ({reason})", permanent=True
            )
        if isinstance(exc, ssl.SSLError):
            return self._fail(
                f"the TLS handshake with {server} failed ({exc.reason})", permanent=False
            )
        if isinstance(exc, TimeoutError):
            return self._fail(
                f"{server} did not answer within {self.options.timeout:g} s", permanent=False
            )
        if isinstance(exc, ConnectionRefusedError):
            return self._fail(f"the connection to {server} was refused", permanent=False)
        if isinstance(exc, socket.gaierror):
            return self._fail(
                f"the host name {self.options.host!r} did not resolve", permanent=False
            )
        reason = (
            one_line(exc.strerror or str(exc)) if isinstance(exc, OSError) else type(exc).__name__
        )
        return self._fail(f"the connection to {server} failed ({reason})", permanent=False)


def _reply(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return one_line(f"{code} {decoded}")


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in refused.items())


def _retry_hint(reply: str) -> float | None:
    """The wait a 4xx reply suggests ("try again in 5 minutes"), in seconds."""
    match = _RETRY_HINT.search(reply.partition(" ")[2])
    if match is None:
        return None
    seconds = float(match.group(1))
    return seconds * 60 if match.group(2).lower().startswith("m") else seconds
