"""The email and mbox channels against real things: an aiosmtpd server on 127.0.0.1 (plain,
AUTH, STARTTLS, implicit TLS, outages, rejections) and an mbox file under tmp_path."""

from __future__ import annotations

import mailbox
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from alerts import make_channel
from alerts.base import DeliveryError
from alerts.email import EmailChannel, EmailOptions
from alerts.mbox import MboxChannel, MboxOptions
from tests.alerting.test_render import change_payload, three_changes
from tests.smtpserver import SmtpServer

NOW = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
KEY = "3f2a9c0d1e"
PASSWORD = "correct horse battery staple"


def options(server: SmtpServer, **overrides: Any) -> EmailOptions:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "sender": "policywatch <alerts@watch.example.org>",
        "to": ("desk@example.org", "editor@example.org"),
        "timeout": 5.0,
    }
    return EmailOptions(**(values | overrides))


def payload(name: str = "Example Privacy Policy") -> dict[str, Any]:
    return change_payload(["ai-training"], three_changes(), name=name)


def parts(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    return text.get_content(), html.get_content()


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as smtp:
        yield smtp


def test_message_arrives_with_both_parts_and_headers(server: SmtpServer) -> None:
    EmailChannel("desk", options(server)).send(payload(), idempotency_key=KEY, now=NOW)
    (received,) = server.messages
    assert received.mail_from == "alerts@watch.example.org"
    assert received.rcpt_tos == ("desk@example.org", "editor@example.org")
    message = received.message
    assert (
        message["Subject"]
        == "[policywatch] Example Privacy Policy: ai-training language changed (3 changes)"
    )
    assert message["From"] == "policywatch <alerts@watch.example.org>"
    assert message["To"] == "desk@example.org, editor@example.org"
    assert message["X-Policywatch-Delivery"] == KEY
    assert message["Message-ID"] == f"<policywatch.{KEY}@watch.example.org>"
    assert message["Date"].datetime == NOW
    text, html = parts(message)
    assert "We [-never-]{+sometimes+} train our models" in text
    assert ">never</del><ins " in html
    assert ">sometimes</ins> train our models" in html


def test_retried_delivery_is_the_same_message(server: SmtpServer) -> None:
    channel = EmailChannel("desk", options(server))
    channel.send(payload(), idempotency_key=KEY, now=NOW)
    channel.send(payload(), idempotency_key=KEY, now=NOW.replace(minute=30))
    first, second = (received.message for received in server.messages)
    assert first["Message-ID"] == second["Message-ID"]
    assert first["X-Policywatch-Delivery"] == second["X-Policywatch-Delivery"] == KEY


def test_hostile_name_injects_no_header(server: SmtpServer) -> None:
    hostile = "Example Policy\r\nBcc: victim@example.org\r\nX-Evil: 1"
    EmailChannel("desk", options(server)).send(payload(hostile), idempotency_key=KEY, now=NOW)
    (received,) = server.messages
    message = received.message
    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert "victim@example.org" not in received.rcpt_tos
    subject = message["Subject"]
    assert "\n" not in subject
    assert "\r" not in subject
    assert subject.startswith("[policywatch] Example Policy Bcc: victim@example.org X-Evil: 1:")
    header_block = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block


def test_login_with_the_right_password() -> None:
    with SmtpServer(credentials=("alice", PASSWORD)) as server:
        channel = EmailChannel("desk", options(server, username="alice", password=PASSWORD))
        channel.send(payload(), idempotency_key=KEY, now=NOW)
        (received,) = server.messages
    assert received.authenticated_as == "alice"


def test_wrong_password_is_permanent_and_never_shown() -> None:
    with SmtpServer(credentials=("alice", "the real one")) as server:
        channel = EmailChannel("desk", options(server, username="alice", password=PASSWORD))
        with pytest.raises(DeliveryError) as caught:
            channel.send(payload(), idempotency_key=KEY, now=NOW)
        assert server.messages == []
    error = caught.value
    assert error.permanent
    assert "'desk'" in error.message
    assert "rejected the login of user 'alice'" in error.message
    assert PASSWORD not in error.message
    assert PASSWORD not in repr(error)
    assert PASSWORD not in repr(channel.options)


def test_server_requiring_auth_rejects_an_anonymous_sender() -> None:
    server = SmtpServer(credentials=("alice", PASSWORD))
    with server, pytest.raises(DeliveryError) as caught:
        EmailChannel("desk", options(server)).send(payload(), idempotency_key=KEY, now=NOW)
    assert caught.value.permanent
    assert "530" in caught.value.message


def test_outage_is_transient_and_delivery_works_after_restart(server: SmtpServer) -> None:
    channel = EmailChannel("desk", options(server))
    port = server.port
    server.stop()
    with pytest.raises(DeliveryError) as caught:
        channel.send(payload(), idempotency_key=KEY, now=NOW)
    assert not caught.value.permanent
    assert f"127.0.0.1:{port}" in caught.value.message
    server.start()
    assert server.port == port
    channel.send(payload(), idempotency_key=KEY, now=NOW)
    assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("reply", "permanent", "retry_after"),
    [
        ("451 4.3.0 Busy, try again in 30 seconds", False, 30.0),
        ("452 4.3.1 Insufficient storage, retry in 5 minutes", False, 300.0),
        ("421 4.7.0 Try again later", False, None),
        ("554 5.7.1 Message rejected as spam", True, None),
    ],
)
def test_data_replies_map_to_transient_or_permanent(
    reply: str, permanent: bool, retry_after: float | None
) -> None:
    server = SmtpServer(data_replies=[reply])
    with server, pytest.raises(DeliveryError) as caught:
        EmailChannel("desk", options(server)).send(payload(), idempotency_key=KEY, now=NOW)
    assert caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after
    assert reply.split(" ", 1)[0] in caught.value.message


def test_silent_server_times_out_as_transient() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        silent = EmailOptions(
            host="127.0.0.1",
            port=port,
            security="none",
            sender="a@example.org",
            to=("b@example.org",),
            timeout=0.2,
        )
        with pytest.raises(DeliveryError) as caught:
            EmailChannel("desk", silent).send(payload(), idempotency_key=KEY, now=NOW)
    assert not caught.value.permanent
    assert "did not answer within 0.2 s" in caught.value.message


def test_starttls_against_a_server_without_it_fails_clearly(server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        EmailChannel("desk", options(server, security="starttls")).send(
            payload(), idempotency_key=KEY, now=NOW
        )
    assert caught.value.permanent
    assert "does not offer STARTTLS" in caught.value.message
    assert server.messages == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += [
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
    ]
    command += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_with_login(certificate: tuple[Path, Path]) -> None:
    tls = server_context(certificate)
    with SmtpServer(tls=tls, credentials=("alice", PASSWORD)) as server:
        secure = options(
            server,
            security="starttls",
            ca_file=str(certificate[0]),
            username="alice",
            password=PASSWORD,
        )
        EmailChannel("desk", secure).send(payload(), idempotency_key=KEY, now=NOW)
        (received,) = server.messages
    assert received.tls
    assert received.authenticated_as == "alice"


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(tls=server_context(certificate), implicit_tls=True) as server:
        secure = options(server, security="ssl", ca_file=str(certificate[0]))
        EmailChannel("desk", secure).send(payload(), idempotency_key=KEY, now=NOW)
        assert len(server.messages) == 1


def test_untrusted_certificate_is_permanent(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(tls=server_context(certificate)) as server:
        with pytest.raises(DeliveryError) as caught:
            EmailChannel("desk", options(server, security="starttls")).send(
                payload(), idempotency_key=KEY, now=NOW
            )
        assert server.messages == []
    assert caught.value.permanent
    assert "did not verify" in caught.value.message


def test_mbox_appends_each_alert(tmp_path: Path) -> None:
    path = tmp_path / "mail" / "alerts.mbox"
    channel = MboxChannel("local", MboxOptions(path=str(path)))
    channel.send(payload("First Policy"), idempotency_key="k1", now=NOW)
    channel.send(payload("Second Policy"), idempotency_key="k2", now=NOW)
    box = mailbox.mbox(path)
    try:
        subjects = [message["Subject"] for message in box]
        keys = [message["X-Policywatch-Delivery"] for message in box]
    finally:
        box.close()
    assert subjects == [
        "[policywatch] First Policy: ai-training language changed (3 changes)",
        "[policywatch] Second Policy: ai-training language changed (3 changes)",
    ]
    assert keys == ["k1", "k2"]


def test_mbox_path_that_is_a_directory_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        MboxChannel("local", MboxOptions(path=str(tmp_path))).send(
            payload(), idempotency_key="k", now=NOW
        )
    assert caught.value.permanent
    assert "mbox channel 'local'" in caught.value.message


def test_make_channel_builds_email_options() -> None:
    channel = make_channel(
        "email",
        "desk",
        {
            "host": "mail.example.org",
            "sender": "a@example.org",
            "to": ["b@example.org"],
            "password": PASSWORD,
            "username": "a",
        },
    )
    assert isinstance(channel, EmailChannel)
    assert channel.options.to == ("b@example.org",)
    assert channel.options.effective_port == 587
    assert (channel.name, channel.kind) == ("desk", "email")


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        (
            "email",
            {"host": "h", "sender": "a@example.org", "to": ["b@example.org"], "colour": 1},
            "unknown option 'colour'",
        ),
        ("email", {"host": "h", "sender": "a@example.org"}, "missing option 'to'"),
        (
            "email",
            {"host": "h", "sender": "a@example.org", "to": ["b"]},
            "option 'to' must be an email address",
        ),
        (
            "email",
            {"host": "h", "sender": "a@example.org", "to": "b@example.org", "security": "tls"},
            "option 'security'",
        ),
        (
            "email",
            {"host": "h", "sender": "a@example.org", "to": "b@example.org", "port": 70000},
            "option 'port'",
        ),
        ("mbox", {}, "missing option 'path'"),
        ("pigeon", {}, "unknown kind 'pigeon'"),
    ],
)
def test_make_channel_names_the_bad_option(kind: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="desk") as caught:
        make_channel(kind, "desk", values)
    assert message in str(caught.value)


def test_bad_password_type_is_reported_without_its_value() -> None:
    values = {
        "host": "h",
        "sender": "a@example.org",
        "to": "b@example.org",
        "username": "a",
        "password": "two\nlines",
    }
    with pytest.raises(ValueError, match="option 'password' must be one line") as caught:
        make_channel("email", "desk", values)
    assert "two" not in str(caught.value)
