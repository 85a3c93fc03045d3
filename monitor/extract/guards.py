"""The guards that refuse a page which is not the document: bot checks, login walls, error pages,
empty JavaScript shells, too little text, and a shrink to a page that is not the document.
Each raises ExtractError with a kind and a reason.

Two kinds of evidence, strongest first:

- Shape, against the document's own history (`not_the_document`): a capture that shrank to a
  fraction of the last version and keeps almost none of its text word for word is an
  interstitial, whatever it says and in whatever language.
- Shape and wording on the page alone (`guard`), for a first check and for walls that are not
  shrinks: a password field on a short page, and the families of words interstitials use
  (signing in, proving one is human, "something went wrong"), read where a wall puts them (its
  title and headings, or anywhere in a short text), never in a long policy's sentences.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import Tag

from monitor.errors import ErrorKind, ExtractError
from monitor.extract.document import Block, Document

_SHELL_TEXT = 200
_SHELL_SCRIPT_BYTES = 20_000
_JS_ROOT_IDS = ("root", "app", "__next", "__nuxt", "react-root", "mount", "app-root")
_WALL_TEXT = 2000
_LEEWAY = 30  # a title or heading "is" a wall phrase when it is little more than the phrase
_PASSWORD = re.compile("^password$", re.I)

SAME_DOCUMENT_SHARE = 0.2
"""A shrunk capture is the document when at least this share of its text is blocks the last
version has word for word (what is left of a policy that lost sections is verbatim)."""

SAME_TITLE_WORDS = 100
"""...or when it keeps the document's title heading and still has this many words (a rewrite)."""

FRAGMENT_WORDS = 25
"""A shrunk capture with fewer words than this is a fragment (a title and little else), never
the document, whatever it keeps."""

_APOSTROPHE = "['\u2019]"
# Families of wording, each written as the grammar of the phrase rather than a list of phrases,
# in English and French (Meta's largest audiences in the archive). Strong forms only ever
# appear on walls; the weak ones also appear in page chrome (a sign-up bar), so they count only
# in the extracted text, never in the whole page's text.
_CHALLENGE = (
    r"security check|captcha|unusual traffic|temporarily blocked|ddos protection"
    r"|checking (?:your browser|if the site connection is secure|the site connection)"
    r"|verif(?:y|ying|ies|ication)(?: that)? (?:you|you" + _APOSTROPHE + r"re)"
    r"(?: are)?(?: a)? (?:human|not a (?:robot|bot))"
    r"|(?:human|bot|robot) verification|are you (?:a )?(?:human|robot)"
    r"|please (?:enable|turn on) (?:javascript and )?cookies"
    r"|v[ée]rifi\w* que vous (?:[êe]tes|n" + _APOSTROPHE + r"[êe]tes pas) (?:un )?(?:humain|robot)"
)
_LOGIN_STRONG = (
    r"(?:log|sign) ?in (?:to|or sign up to) (?:continue|see|view|access)"
    r"|you (?:must|need to|have to) (?:be )?(?:log|sign)(?:ged)? ?in"
    r"|sign up to see|(?:connectez|identifiez)-vous pour (?:continuer|voir|acc[ée]der)"
    r"|vous devez (?:[êe]tre connect[ée]|vous connecter)"
)
_LOGIN_WEAK = (
    r"(?:log|sign) ?(?:in(?:to)?|on) (?:to )?(?:your )?(?:facebook|instagram|meta|account)"
    r"|log in or sign up|sign in with|continue with (?:google|apple|facebook)"
    r"|se connecter|connectez-vous"
)
_A = _APOSTROPHE
_NOT = rf"(?:not|isn{_A}?t|is not|is no longer|(?:cannot|can{_A}t|could not) be|was not)"
_ERROR = (
    r"something went wrong|an error (?:has )?occurred|internal server error|service unavailable"
    r"|(?:this |the )?(?:page|content|link)(?: you requested)? " + _NOT + r" "
    r"(?:available|found)|access denied|error [45]\d\d"
    r"|une erreur (?:s" + _APOSTROPHE + r"est produite|est survenue)|page introuvable"
    r"|(?:cette )?page n" + _APOSTROPHE + r"est pas disponible"
)


def _family(pattern: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + pattern + r")(?!\w)", re.I)


_CHALLENGE_RE = _family(_CHALLENGE)
_LOGIN_RE = _family(_LOGIN_STRONG + "|" + _LOGIN_WEAK)
_LOGIN_STRONG_RE = _family(_LOGIN_STRONG)
_ERROR_RE = _family(_ERROR)
_NEW_ACCOUNT = re.compile(
    r"\bcreate (?:a )?new account\b|\bcr[ée]er (?:un )?(?:nouveau )?compte\b", re.I
)
_FORGOT = re.compile(r"\bforgot(?:ten)? (?:your )?password\b|\bmot de passe oubli[ée]", re.I)


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
        ("error_page", "an error page", _ERROR_RE, _ERROR_RE),
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
    """Refuse a page that is not the document: challenge, login wall, error page, empty shell,
    too short."""
    chars = len(doc.text)
    check_walls(doc, soup.get_text(" ") if chars < _WALL_TEXT else None)
    if chars < _WALL_TEXT and soup.find("input", attrs={"type": _PASSWORD}) is not None:
        raise ExtractError(
            "login_wall",
            f"page is a login wall, not the document (a password field beside "
            f"{chars} characters of text)",
        )
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


def not_the_document(new: Document, old: Document, *, shrink_ratio: float) -> None:
    """Raise ExtractError("interstitial") when `new`, a capture of the page whose last version
    is `old`, shrank below `shrink_ratio` of it and keeps almost none of its text word for word.

    That is the shape of every interstitial (a sign-in page, a human check, an error page, a
    region notice), in any wording and any language; a policy that lost sections keeps the
    rest verbatim, and a shorter rewrite keeps its title, so a real shrink passes (and still
    waits for a second check to confirm it).
    """
    if not old.blocks or new.words >= old.words * shrink_ratio:
        return
    if new.words < FRAGMENT_WORDS:
        raise ExtractError(
            "interstitial",
            f"page is not the document: it shrank from {old.words:,} to {new.words:,} words, "
            f"a title and little else",
        )
    kept_lines = {block.line for block in old.blocks}
    total = sum(len(block.line) for block in new.blocks)
    kept = sum(len(block.line) for block in new.blocks if block.line in kept_lines)
    if total and kept >= SAME_DOCUMENT_SHARE * total:
        return
    if new.words >= SAME_TITLE_WORDS and _title(old) and _title(old) == _title(new):
        return  # a rewrite under the same title, long enough not to be a notice
    raise ExtractError(
        "interstitial",
        f"page is not the document: it shrank from {old.words:,} to {new.words:,} words and "
        f"keeps {100 * kept // max(total, 1)}% of its text from the last version",
    )


def no_new_error_block(new: Document, old: Document) -> None:
    """Raise ExtractError("error_page") when `new` has a block its last version `old` did not,
    which is nothing but an error message ("This page isn't available right now", "Something
    went wrong"): one part of the page failed to load, so the capture is not the document.

    Only a block that is little more than the message counts, and only a new one: a help page
    that documents an error message keeps it from version to version.
    """
    suspects = error_blocks(new)
    if not suspects:
        return
    kept = {block.line for block in old.blocks}
    for block in suspects:
        if block.line not in kept:
            raise ExtractError(
                "error_page",
                f'page is not the document: a part of it is an error message ("{block.text}")',
            )


def error_blocks(doc: Document) -> list[Block]:
    """The blocks of `doc` that are little more than an error message."""
    out = []
    for block in doc.blocks:
        m = _ERROR_RE.search(block.text)
        if m and len(block.text) <= len(m.group()) + _LEEWAY:
            out.append(block)
    return out


def not_a_version_of(
    new: Document, old: Document, *, shrink_ratio: float
) -> tuple[str, ExtractError] | None:
    """Whether one of two captures of a page is not the document, judged against the other:
    ("new", error) for a capture that lost the text or shows an error block, ("old", error)
    when it is the earlier capture (a page coming back from an error), else None.

    `check` never keeps such a capture, so this tells `compare` what `check` would do. The old
    side is held to firmer evidence (an error block, or a fragment: a title and little else),
    since a text that grew into a rewrite keeps nothing of the old one either.
    """
    try:
        no_new_error_block(new, old)
        not_the_document(new, old, shrink_ratio=shrink_ratio)
    except ExtractError as exc:
        return "new", exc
    try:
        no_new_error_block(old, new)
        if old.words < FRAGMENT_WORDS <= new.words:
            not_the_document(old, new, shrink_ratio=shrink_ratio)
    except ExtractError as exc:
        return "old", exc
    return None


def _title(doc: Document) -> str:
    """The document's first heading, case-folded: its title."""
    return next((b.text.casefold() for b in doc.blocks if b.kind == "heading"), "")


def _amount(size: int) -> str:
    return f"{round(size / 1024)} KB" if size >= 1024 else f"{size} bytes"
