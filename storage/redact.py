"""Redaction of secrets carried by URLs, wherever a URL may be shown or stored outside the config.

`redact(text)` finds every URL in a free text (a check message, an exception from httpx, a log
line, a delivery error) and masks, keeping the URL readable:

- its user information (`https://user:pass@host/` -> `https://user:***@host/`, and a lone
  `https://name@host/`, which may itself be a token, -> `https://***@host/`);
- the values of query (and fragment) parameters whose name says it is a secret (token, key,
  secret, signature, password, auth, session...: by the words of the name, so `X-Amz-Signature`,
  `apiKey` and `client_secret` are all caught) or whose value is shaped like one (long, random);
- the path segments shaped like a secret: long random-looking runs of letters and digits, and on a
  webhook URL (a `hook` in its host or path) every segment after the hook that carries a digit
  (Slack's `/services/T.../B.../...`, Discord's `/api/webhooks/<id>/<token>`).

It lives in storage (which imports nothing of monitor or alerts) so every layer can apply it at
its boundary: storage on the rows it writes, monitor on messages, alert payloads and logs
(`RedactingFormatter`), the web UI on what it shows.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter

MASK = "***"

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")
_TRAILING = ".,;:!?)]}"
_TOKENISH = re.compile(r"[A-Za-z0-9_\-.~+/=%:]+")
_WORDISH = re.compile(r"[A-Z]?[a-z]{4,}")  # the lowercase runs words are made of
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# The words of a parameter name that make its value a secret.
_SECRET_WORDS = frozenset(
    {
        "auth",
        "authorization",
        "apikey",
        "credential",
        "credentials",
        "hmac",
        "jwt",
        "key",
        "pass",
        "passwd",
        "password",
        "passphrase",
        "pwd",
        "secret",
        "session",
        "sessionid",
        "sid",
        "sig",
        "signature",
        "token",
    }
)
_SECRET_SUFFIXES = ("key", "token", "secret", "password", "passwd", "signature", "sig")
_HOOK = re.compile(r"hook", re.IGNORECASE)
_MIN_RANDOM = 20  # characters in a segment or value before its shape alone makes it a secret
_MAX_WORDY = 0.4  # the share of a value in word-like runs from which it reads as words
_MIN_ENTROPY = 3.0  # bits per character


def redact(text: str) -> str:
    """`text` with the secrets of every URL in it masked (see the module docstring)."""
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)


def _redact_match(match: re.Match[str]) -> str:
    found = match.group(0)
    url = found.rstrip(_TRAILING)
    return redact_url(url) + found[len(url) :]


def redact_url(url: str) -> str:
    """One URL with its user information and secret-looking parts masked."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, tail = _cut(rest, "/?#")
    if "@" in authority:
        userinfo, _, where = authority.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        # `user:pass@` keeps its user name; a lone `name@` may itself be a token.
        authority = f"{user}:{MASK}@{where}" if colon else f"{MASK}@{where}"
    before_fragment, hashmark, fragment = tail.partition("#")
    path, qmark, query = before_fragment.partition("?")
    out = f"{scheme}://{authority}{_redact_path(authority, path)}"
    if qmark:
        out += "?" + _redact_params(query)
    if hashmark:
        out += "#" + (_redact_params(fragment) if "=" in fragment else fragment)
    return out


def _cut(text: str, marks: str) -> tuple[str, str]:
    """`text` split before the first of `marks` (all of it, and "", when there is none)."""
    found = [at for at in (text.find(m) for m in marks) if at != -1]
    end = min(found, default=len(text))
    return text[:end], text[end:]


def _redact_path(host: str, path: str) -> str:
    segments = path.split("/")
    hooked = bool(_HOOK.search(host))
    out: list[str] = []
    for segment in segments:
        if (hooked and _has_digit(segment)) or looks_random(segment):
            out.append(MASK)
        else:
            out.append(segment)
        if _HOOK.search(segment):
            hooked = True
    return "/".join(out)


def _redact_params(query: str) -> str:
    out: list[str] = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and (secret_name(name) or looks_random(value)):
            out.append(f"{name}={MASK}")
        else:
            out.append(pair)
    return "&".join(out)


def secret_name(name: str) -> bool:
    """Whether a parameter called `name` holds a secret, by the words it is made of."""
    words = [w.lower() for w in _WORDS.findall(name)]
    joined = "".join(words)
    if any(w in _SECRET_WORDS for w in words) or joined in _SECRET_WORDS:
        return True
    return len(joined) > 3 and joined.endswith(_SECRET_SUFFIXES)


def looks_random(value: str) -> bool:
    """Whether `value` is shaped like a generated secret: one long token of letters and digits
    (hex, base64, a JWT) that mixes both, with a high entropy per character, and that is not
    mostly words (`1.subpage.4-InformationWeCollect`, `2024-privacy-policy-update-v2`)."""
    if len(value) < _MIN_RANDOM or not _TOKENISH.fullmatch(value):
        return False
    if not _has_digit(value) or not any(c.isalpha() for c in value):
        return False
    wordy = sum(len(run) for run in _WORDISH.findall(value))
    if wordy / len(value) >= _MAX_WORDY:
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= _MIN_ENTROPY


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


class RedactingFormatter(logging.Formatter):
    """A log formatter whose lines (message, arguments and traceback alike) are redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
