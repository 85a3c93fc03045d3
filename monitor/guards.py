"""The guards that refuse a page which is not the document: bot checks, login walls, empty
JavaScript shells and too little text. Each raises ExtractError with a kind and a reason."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bs4 import BeautifulSoup
from bs4.element import Tag

from monitor.document import Document
from monitor.errors import ErrorKind, ExtractError

_SHELL_TEXT = 200
_SHELL_SCRIPT_BYTES = 20_000
_JS_ROOT_IDS = ("root", "app", "__next", "__nuxt", "react-root", "mount", "app-root")
_WALL_TEXT = 2000
_LEEWAY = 30  # a title or heading "is" a wall phrase when it is little more than the phrase

_CHALLENGE = (
    "security check",
    "captcha",
    "checking your browser",
    "please enable cookies",
    "unusual traffic",
    "are you a robot",
    "verify you are human",
    "temporarily blocked",
)
# Strong phrases only ever appear on walls; the weak ones also appear in page chrome (a sign-up
# bar), so they count only in the extracted text, never in the whole page's text.
_LOGIN_STRONG = (
    "log in to continue",
    "login to continue",
    "you must log in",
    "you must be logged in",
    "sign up to see",
    "log in to see photos",
)
_LOGIN_WEAK = ("log into facebook", "log in to facebook", "log in or sign up")


def _phrases(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.I)


_CHALLENGE_RE = _phrases(_CHALLENGE)
_LOGIN_RE = _phrases(_LOGIN_STRONG + _LOGIN_WEAK)
_LOGIN_STRONG_RE = _phrases(_LOGIN_STRONG)
_NEW_ACCOUNT = re.compile(r"\bcreate new account\b", re.I)
_FORGOT = re.compile(r"\bforgot(?:ten)? (?:your )?password\b", re.I)


def check_walls(doc: Document, raw_html_text: str | None = None) -> None:
    """Raise ExtractError("challenge" / "login_wall") when the page is a bot check or a login wall.

    `raw_html_text` is the text of the whole page, forms included (extraction drops forms, and a
    wall's words often sit in one). A phrase counts in a title or heading that is little more
    than the phrase, or anywhere when the document is short: a long policy that says "when you
    log in" is still a policy, and "Why we ask for a security check | Help" is not a bot check.
    """
    short = len(doc.text) < _WALL_TEXT
    checks: tuple[tuple[ErrorKind, str, re.Pattern[str], re.Pattern[str]], ...] = (
        ("challenge", "a bot check", _CHALLENGE_RE, _CHALLENGE_RE),
        ("login_wall", "a login wall", _LOGIN_RE, _LOGIN_STRONG_RE),
    )
    for kind, what, pattern, raw_pattern in checks:
        found = _find_phrase(doc, pattern, short)
        if not found and short and raw_html_text:
            found = _search(raw_pattern, raw_html_text, "the page")
        if found:
            raise ExtractError(kind, f"page is {what}, not the document ({found})")
    if short and _NEW_ACCOUNT.search(doc.text) and _FORGOT.search(doc.text):
        raise ExtractError(
            "login_wall",
            "page is a login wall, not the document "
            '("Create new account" next to a password reset link)',
        )


def _find_phrase(doc: Document, pattern: re.Pattern[str], short: bool) -> str:
    if (m := pattern.search(doc.title)) and len(doc.title) <= len(m.group()) + _LEEWAY:
        return f'"{m.group()}" in the title'
    for block in doc.blocks:
        m = pattern.search(block.text) if block.kind == "heading" else None
        if m and (short or len(block.text) <= len(m.group()) + _LEEWAY):
            return f'"{m.group()}" in a heading'
    return _search(pattern, doc.text, "the text") if short else ""


def _search(pattern: re.Pattern[str], text: str, where: str) -> str:
    m = pattern.search(text)
    return f'"{m.group()}" in {where}' if m else ""


def reads_whole_page(chars: int) -> bool:
    """Whether guard() looks past the extracted text (at the whole page) for a text this long."""
    return chars < max(_WALL_TEXT, _SHELL_TEXT)


def guard(doc: Document, soup: BeautifulSoup, *, min_chars: int) -> None:
    """Refuse a page that is not the document: challenge, login wall, empty shell, too short."""
    chars = len(doc.text)
    check_walls(doc, soup.get_text(" ") if chars < _WALL_TEXT else None)
    if chars < _SHELL_TEXT and (script := _script_bytes(soup, chars)) is not None:
        raise ExtractError(
            "empty_shell",
            f"page is an empty JavaScript shell ({chars} characters of text, "
            f'{_amount(script)} of script); it needs fetcher = "browser"',
        )
    if chars < min_chars:
        raise ExtractError(
            "too_short", f"extracted text is only {chars} characters (minimum {min_chars})"
        )


def _script_bytes(soup: BeautifulSoup, chars: int) -> int | None:
    """The page's inline script size when it looks like a JavaScript app shell, else None."""
    script = sum(len(tag.string or "") for tag in soup.find_all("script"))
    roots = (soup.find(id=name) for name in _JS_ROOT_IDS)
    empty_root = any(isinstance(r, Tag) and not r.get_text(strip=True) for r in roots)
    asks_js = any("javascript" in tag.get_text().lower() for tag in soup.find_all("noscript"))
    return script if empty_root or asks_js or script >= _SHELL_SCRIPT_BYTES else None


def _amount(size: int) -> str:
    return f"{round(size / 1024)} KB" if size >= 1024 else f"{size} bytes"
