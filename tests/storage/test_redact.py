"""storage.redact: the secrets URLs carry are masked, by structure and shape, in any wording of
the text around them; ordinary page addresses stay readable."""

from __future__ import annotations

import logging

import pytest

from storage.redact import RedactingFormatter, looks_random, redact, secret_name

# (text, the secrets it holds): wordings of services and libraries the rules were not written from.
LEAKY = [
    pytest.param(
        "Client error '401 Unauthorized' for url 'https://ops:Tr0ub4dor&3@intranet.example/policy'",
        ["Tr0ub4dor&3"],
        id="httpx-status-error",
    ),
    pytest.param(
        "ConnectError while fetching ftp://anonymous:guest-7731@files.example/terms.txt",
        ["guest-7731"],
        id="other-scheme",
    ),
    pytest.param(
        "cannot fetch https://ghp_8fK2mQ9xLr4TnB7vW1cZ@github.example/org/repo: refused",
        ["ghp_8fK2mQ9xLr4TnB7vW1cZ"],
        id="token-as-user-name",
    ),
    pytest.param(
        "GET https://storage.example/b/o?X-Amz-Credential=AKIA123%2F20261206&X-Amz-Signature=9f86d081884c7d65",
        ["AKIA123", "9f86d081884c7d65"],
        id="presigned-s3",
    ),
    pytest.param(
        "POST https://gitlab.example/api/v4/projects?private_token=glpat-abc&clientSecret=s3&apiKey=k1",
        ["glpat-abc", "clientSecret=s3", "apiKey=k1"],
        id="camel-and-snake-names",
    ),
    pytest.param(
        "redirected to https://app.example/callback#id_token=eyJhbGciOi.J9xyz&state=ok",
        ["eyJhbGciOi.J9xyz"],
        id="fragment-token",
    ),
    pytest.param(
        "HTTP 404 from https://hooks.slack.com/services/T024BE7LD/B08CKQ7G9/Xk2pR8vQ3mN7bL5tY1cW",
        ["T024BE7LD", "B08CKQ7G9", "Xk2pR8vQ3mN7bL5tY1cW"],
        id="slack-hook",
    ),
    pytest.param(
        "posting to https://discordapp.com/api/webhooks/1183447791209021440/vQ-3_Lk9 failed",
        ["1183447791209021440", "vQ-3_Lk9"],
        id="discord-hook",
    ),
    pytest.param(
        "timeout on https://outlook.office.com/webhook/4c8e1f2a-77b3@9d1e/IncomingWebhook/a91f3c/beef",
        ["4c8e1f2a-77b3@9d1e", "a91f3c"],
        id="teams-hook",
    ),
    pytest.param(
        "HTTP 400 from https://api.telegram.org/bot6011223344:AAHx3kP9vQ2mL7tB4nR8cW1yZ5/sendMessage",
        ["AAHx3kP9vQ2mL7tB4nR8cW1yZ5"],
        id="bot-token-in-path",
    ),
    pytest.param(
        "https://cdn.example/dl/Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA/report.pdf?PHPSESSID=9q3x7vT2kLmW8rB4nC6z",
        ["Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA", "9q3x7vT2kLmW8rB4nC6z"],
        id="random-shapes-without-a-telling-name",
    ),
]


@pytest.mark.parametrize(("text", "secrets"), LEAKY)
def test_secrets_in_urls_are_masked(text: str, secrets: list[str]) -> None:
    out = redact(text)
    assert [s for s in secrets if s in out] == [], out
    assert "***" in out
    assert redact(out) == out  # redacting twice changes nothing more


def test_the_url_stays_readable() -> None:
    out = redact("HTTP 503 from https://ops:hunter22@intranet.example:8443/legal/terms?lang=de.")
    assert out == "HTTP 503 from https://ops:***@intranet.example:8443/legal/terms?lang=de."
    slack = redact("see https://hooks.slack.com/services/T024BE7LD/B08CKQ7G9/Xk2pR8vQ3mN7bL5tY1cW)")
    assert slack == "see https://hooks.slack.com/services/***/***/***)"


@pytest.mark.parametrize(
    "text",
    [
        "HTTP 403 from https://www.facebook.com/privacy/policy/?subpage=1.subpage.4-InformationWeCollect",
        "https://www.facebook.com/help/instagram/1561485474074139?helpref=faq_content",
        "https://about.meta.com/2024-privacy-policy-update-v2/#section-3",
        "https://www.whatsapp.com/legal/privacy-policy-eea?lang=en&keyword=ads",
        "https://example.org/webhooks-explained/how-they-work",
        "no address here: user:pass@ alone is not a URL",
    ],
)
def test_ordinary_addresses_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_names_and_shapes() -> None:
    for name in ("access_token", "refreshToken", "X-Amz-Signature", "sig", "hmac", "pwd", "Auth"):
        assert secret_name(name), name
    for name in ("lang", "entry_point", "keyword", "page", "helpref", "v"):
        assert not secret_name(name), name
    assert looks_random("4f1c9a0e7b3d2f8a6c5e")  # hex
    assert looks_random("dGhpcyBpcyBub3Qgd29yZHM9")  # base64
    assert not looks_random("1561485474074139")  # a numeric id: digits only
    assert not looks_random("InformationWeCollect2024")  # words


def test_the_log_formatter_redacts_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter("%(levelname)s %(message)s")
    try:
        raise ConnectionError("cannot reach https://bot:Zq81-secret@chat.example/x")
    except ConnectionError:
        import sys

        record = logging.LogRecord(
            "policywatch",
            logging.ERROR,
            __file__,
            1,
            "posting to %s",
            ("https://a:b1c2@h/",),
            sys.exc_info(),
        )
    line = formatter.format(record)
    assert "Zq81-secret" not in line and "b1c2" not in line
    assert "ConnectionError" in line and "bot:***@chat.example" in line
