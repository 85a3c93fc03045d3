"""HTML, Markdown and plain text -> Document: the extraction step, pure functions with no I/O.

Also the guards that refuse a page which is not the document: walls, empty shells, misses.
"""

from __future__ import annotations

import codecs
import html as htmllib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256

import soupsieve
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from monitor.document import BlockKind, Document, with_paths
from monitor.errors import ErrorKind, ExtractError
from monitor.urls import canonical_url

NORMALIZER_VERSION = "1"
"""Bumped whenever the same page and rules would give a different text (enters the digest)."""

RawBlock = tuple[BlockKind, str, int]


@dataclass(frozen=True, slots=True)
class ExtractRules:
    """Which part of a page is the document; raises ValueError on a selector that cannot parse."""

    select: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    min_chars: int = 200

    def __post_init__(self) -> None:
        for selector in (*self.select, *self.remove):
            try:
                soupsieve.compile(selector)
            except (soupsieve.SelectorSyntaxError, NotImplementedError) as exc:  # ::pseudo
                reason = str(exc).splitlines()[0]
                raise ValueError(f"invalid CSS selector {selector!r}: {reason}") from exc
        if self.min_chars < 0:
            raise ValueError(f"min_chars must be 0 or more, not {self.min_chars}")

    @property
    def digest(self) -> str:
        payload = {
            "normalizer": NORMALIZER_VERSION,
            "select": list(self.select),
            "remove": list(self.remove),
            "min_chars": self.min_chars,
        }
        return sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------- text


_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def _clean(text: str) -> str:
    """Collapse whitespace (NBSP included), drop zero-width characters, normalise to NFC."""
    if text.isascii():
        return " ".join(text.split())
    return unicodedata.normalize("NFC", " ".join(_INVISIBLE.sub("", text).split()))


def normalize_text(text: str) -> Document:
    """Plain text: each blank-line separated paragraph is one block."""
    paragraphs = (_clean(chunk) for chunk in re.split(r"\n[ \t\r\f\v]*\n", text))
    return Document(with_paths([("paragraph", p, 1) for p in paragraphs if p]))


# ---------------------------------------------------------------- HTML

_DROP_TAGS = frozenset(
    {
        *("script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed"),
        *("form", "button", "input", "select", "textarea", "nav", "aside", "dialog"),
        *("head", "title", "meta", "link", "base"),
    }
)
_INLINE_TAGS = frozenset(
    {
        *("a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn"),
        *("em", "font", "i", "ins", "kbd", "label", "mark", "nobr", "q", "rp", "rt", "ruby", "s"),
        *("samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var"),
        *("wbr", "img", "picture", "source", "video", "audio", "canvas", "map", "area", "meter"),
        *("progress", "output", "slot"),
    }
)
_LIST_TAGS = frozenset({"ul", "ol", "menu", "dir"})
_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}
_SECTIONING = frozenset({"main", "article", "section"})
_FORM_CONTENT = ["main", "article", "h1"]
_DROP_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "dialog", "alertdialog", "search"}
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_BANNER_WORDS = "banner|notice|bar|popup|pop-up|modal|overlay|dialog|prompt|manager|wall|layer"
# A policy's own "Cookies" or "Consent" section must survive, so the word alone is not enough.
_CONSENT_ID = re.compile(
    rf"(?:cookie|consent|gdpr|cmp)[\w-]*?(?:{_BANNER_WORDS}|consent)"
    rf"|(?:{_BANNER_WORDS})[\w-]*?(?:cookie|consent)|onetrust|cookiebot|didomi|usercentrics",
    re.I,
)
_CONSENT_HINT = re.compile("cookie|consent|gdpr|cmp|onetrust|didomi|usercentrics")
_CONSENT_LABEL = re.compile(
    r"\b(?:allow|accept|use of|manage|about)\b[^.]{0,40}\bcookies\b"
    r"|\bcookie (?:banner|notice|consent)|\bconsent (?:banner|dialog|notice)",
    re.I,
)


class _Exit:
    """A marker on the walk stack: run `action` when the element's subtree is done."""

    __slots__ = ("action",)

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action


@dataclass(slots=True)
class _Link:
    target: str
    start: int


@dataclass(slots=True)
class _Item:
    depth: int
    emitted: bool = False


class _Walker:
    """Turns element subtrees into raw blocks in one pass over the tree (no per-node get_text)."""

    def __init__(self, base_url: str, skip: set[int]) -> None:
        self.base_url = base_url
        self.page = canonical_url(base_url, base_url).partition("#")[0] if base_url else ""
        self.skip = skip
        self.blocks: list[RawBlock] = []
        self.pieces: list[str] = []
        self.items: list[_Item] = []
        self.heading = 0
        self.list_depth = 0
        self.sectioned = 0
        self.flat = 0  # > 0 inside a heading: block edges become spaces
        self.pre = 0
        self.link: _Link | None = None
        self.cells: list[str] | None = None
        self.cell_start: int | None = None

    def walk(self, root: Tag) -> None:
        self.sectioned = int(root.name in _SECTIONING or root.get("role") == "main")
        self._flush()
        stack: list[PageElement | _Exit] = []
        self._enter(root, stack)
        pop, append = stack.pop, self.pieces.append
        # The hot loop of extraction: exact type checks first, as nearly every node is plain text
        # or a Tag.
        while stack:
            node = pop()
            if type(node) is NavigableString:
                if self.pre:
                    self._text(node)
                else:
                    append(node)
            elif type(node) is _Exit:
                node.action()
            elif isinstance(node, Tag):
                if not self._dropped(node):
                    self._enter(node, stack)
            elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
                self._text(node)
        self._flush()

    def _dropped(self, tag: Tag) -> bool:
        name = tag.name
        if name in _DROP_TAGS:
            return not self._exempt(tag)
        if id(tag) in self.skip or (name in ("header", "footer") and not self.sectioned):
            return True
        attrs = tag.attrs
        return bool(attrs) and _hidden(attrs)

    def _exempt(self, tag: Tag) -> bool:
        """Chrome tags that hold the document on some sites: accordion headings are buttons, and
        some server frameworks wrap the whole page in one <form>."""
        if tag.name == "button":
            return bool(self.heading)
        return tag.name == "form" and tag.find(_FORM_CONTENT) is not None

    def _enter(self, tag: Tag, stack: list[PageElement | _Exit]) -> None:
        name = tag.name
        if name == "br":
            self._break()
            return
        if name in _INLINE_TAGS:
            if name == "a" and self.link is None and isinstance(href := tag.get("href"), str):
                self._open_link(href, stack)
            stack.extend(reversed(tag.contents))
            return
        if self.cells is not None or self.flat:
            self._enter_flat(name, stack)
        else:
            self._flush()
            stack.append(_Exit(self._block_exit(tag)))
        stack.extend(reversed(tag.contents))

    def _block_exit(self, tag: Tag) -> Callable[[], None]:
        """Open the block contexts `tag` starts; return what closes them."""
        name = tag.name
        level = _HEADING_TAGS.get(name) or _aria_heading(tag)
        if level:
            self.flat += 1
            self.heading = level
            return self._close_heading
        if name == "li":
            self.items.append(_Item(max(1, self.list_depth)))
            return self._close_item
        if name == "tr":
            self.cells = []
            return self._close_row
        counters = (
            int(name in _LIST_TAGS),
            int(name in _SECTIONING),
            int(name == "pre"),
        )
        self.list_depth += counters[0]
        self.sectioned += counters[1]
        self.pre += counters[2]

        def close() -> None:
            self._flush()
            self.list_depth -= counters[0]
            self.sectioned -= counters[1]
            self.pre -= counters[2]

        return close

    def _enter_flat(self, name: str, stack: list[PageElement | _Exit]) -> None:
        """Inside a heading or a table row, block edges are only spaces."""
        if name in ("td", "th") and self.cells is not None and self.cell_start is None:
            self.cell_start = len(self.pieces)
            stack.append(_Exit(self._close_cell))
        else:
            self.pieces.append(" ")
            stack.append(_Exit(lambda: self.pieces.append(" ")))

    def _close_heading(self) -> None:
        self._flush()
        self.flat -= 1
        self.heading = 0

    def _close_item(self) -> None:
        self._flush()
        self.items.pop()

    def _close_cell(self) -> None:
        self._end_link_segment()
        start = self.cell_start or 0
        if self.cells is not None:
            self.cells.append(_clean("".join(self.pieces[start:])))
        del self.pieces[start:]
        self.cell_start = None
        if self.link is not None:
            self.link.start = len(self.pieces)

    def _close_row(self) -> None:
        cells, self.cells = self.cells or [], None
        self.pieces.clear()
        if any(cells):
            self.blocks.append(("row", " | ".join(cells), 1))

    def _text(self, text: str) -> None:
        if self.pre and "\n" in text and not self.flat and self.cells is None:
            first, *rest = text.split("\n")
            self.pieces.append(first)
            for line in rest:
                self._flush()
                self.pieces.append(line)
        else:
            self.pieces.append(text)

    def _break(self) -> None:
        # A <br> separates settings steps and address lines: a block of its own reads and diffs
        # better than one long run-on line. Inside headings and table cells it is a space.
        if self.flat or self.cells is not None:
            self.pieces.append(" ")
        else:
            self._flush()

    def _open_link(self, href: str, stack: list[PageElement | _Exit]) -> None:
        href = href.strip()
        target = "" if href[:1] in ("", "#") else canonical_url(href, self.base_url)
        if target.partition("#")[0] == self.page and "#" in target:
            target = ""  # a same-page anchor: the words are content, the jump is not
        link = self.link = _Link(target, len(self.pieces))

        def close() -> None:
            self._end_link_segment()
            if self.link is link:
                self.link = None

        stack.append(_Exit(close))

    def _end_link_segment(self) -> None:
        """Wrap the pieces since the link opened as `[anchor](target)`."""
        link = self.link
        if link is None:
            return
        raw = "".join(self.pieces[link.start :])
        anchor = _clean(raw)
        if anchor and link.target:
            lead = " " if raw[:1].isspace() else ""
            trail = " " if raw[-1:].isspace() else ""
            self.pieces[link.start :] = [f"{lead}[{anchor}]({link.target}){trail}"]
        link.start = len(self.pieces)

    def _flush(self) -> None:
        if self.cells is not None or not self.pieces:
            return
        self._end_link_segment()
        text = _clean("".join(self.pieces))
        self.pieces.clear()
        if self.link is not None:
            self.link.start = 0
        if not text:
            return
        if self.heading:
            self.blocks.append(("heading", text, self.heading))
        elif self.items and not self.items[-1].emitted:
            self.items[-1].emitted = True
            self.blocks.append(("item", text, self.items[-1].depth))
        else:
            self.blocks.append(("paragraph", text, 1))


def _hidden(attrs: Mapping[str, object]) -> bool:
    """Hidden, navigation-like, modal or consent elements, judged by attributes alone."""
    if attrs.get("hidden") not in (None, "until-found"):
        return True
    if str(attrs.get("aria-hidden", "")).lower() == "true" or attrs.get("aria-modal") == "true":
        return True
    style = attrs.get("style")
    if isinstance(style, str) and _HIDDEN_STYLE.search(style):
        return True
    if attrs.get("role") in _DROP_ROLES:
        return True
    names = f"{attrs.get('id', '')} {attrs.get('class', '')}".lower()
    if _CONSENT_HINT.search(names) and _CONSENT_ID.search(names):
        return True
    label = attrs.get("aria-label")
    return isinstance(label, str) and bool(_CONSENT_LABEL.search(label))


def _aria_heading(tag: Tag) -> int:
    if tag.get("role") != "heading":
        return 0
    level = str(tag.get("aria-level", "2"))
    return min(max(int(level), 1), 6) if level.isdigit() else 2


# ---------------------------------------------------------------- decoding and regions

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: bytes, encoding: str | None) -> str:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    sniffed = _META_CHARSET.search(data[:4096])
    meta = sniffed.group(1).decode("ascii") if sniffed else None
    if meta and meta.lower().startswith("utf-16"):
        meta = "utf-8"  # a document that can declare itself in ASCII is not UTF-16
    for candidate in (encoding, meta):
        if candidate:
            try:
                return data.decode(candidate, errors="replace")
            except LookupError:
                continue
    return data.decode("utf-8", errors="replace")


def _regions(soup: BeautifulSoup, rules: ExtractRules) -> list[Tag]:
    if not rules.select:
        found = soup.find("main") or soup.find(None, {"role": "main"}) or soup.body or soup
        return [found] if isinstance(found, Tag) else []
    kept: list[Tag] = []
    seen: set[int] = set()
    for match in soup.select(", ".join(rules.select)):
        if not any(id(parent) in seen for parent in match.parents):
            kept.append(match)
        seen.add(id(match))
    return kept


def _removed(regions: Iterable[Tag], remove: tuple[str, ...]) -> set[int]:
    if not remove:
        return set()
    selector = ", ".join(remove)
    return {id(match) for region in regions for match in region.select(selector)}


def _walk(regions: Iterable[Tag], base_url: str, skip: set[int]) -> list[RawBlock]:
    walker = _Walker(base_url, skip)
    for region in regions:
        walker.walk(region)
    return walker.blocks


def normalize_html(
    html: str | bytes, rules: ExtractRules, *, base_url: str, encoding: str | None = None
) -> Document:
    """Extract the document from a page, or raise ExtractError saying why the page is not it.

    The region is every `rules.select` match (else `main`, `[role=main]`, `body`) minus `remove`.
    Inside it, chrome is dropped: scripts, forms, buttons, nav, aside, dialogs, consent banners,
    hidden elements, and header/footer unless they belong to a main, article or section. Each
    <br> outside headings and table cells ends a block (settings steps read one per line).
    Guards, in order: challenge, login_wall, empty_shell, too_short.
    """
    text = _decode(html, encoding) if isinstance(html, bytes) else html
    soup = BeautifulSoup(text, "lxml", multi_valued_attributes=None)
    title_tag = soup.head.find("title") if soup.head else None  # not an <svg><title> icon
    title = _clean(title_tag.get_text()) if title_tag else ""
    regions = _regions(soup, rules)
    if not regions:
        # A wall or a shell explains a miss better than the selector does.
        page = Document(with_paths(_walk([soup.body or soup], base_url, set())), title)
        _guard(page, soup, ExtractRules(min_chars=0))
        selectors = ", ".join(rules.select)
        raise ExtractError("selector_miss", f"selector {selectors!r} matched nothing on the page")
    doc = Document(with_paths(_walk(regions, base_url, _removed(regions, rules.remove))), title)
    _guard(doc, soup, rules)
    return doc


# ---------------------------------------------------------------- guards

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


def _guard(doc: Document, soup: BeautifulSoup, rules: ExtractRules) -> None:
    chars = len(doc.text)
    check_walls(doc, soup.get_text(" ") if chars < _WALL_TEXT else None)
    if chars < _SHELL_TEXT and (script := _script_bytes(soup, chars)) is not None:
        raise ExtractError(
            "empty_shell",
            f"page is an empty JavaScript shell ({chars} characters of text, "
            f'{round(script / 1024)} KB of script); it needs fetcher = "browser"',
        )
    if chars < rules.min_chars:
        raise ExtractError(
            "too_short", f"extracted text is only {chars} characters (minimum {rules.min_chars})"
        )


def _script_bytes(soup: BeautifulSoup, chars: int) -> int | None:
    """The page's inline script size when it looks like a JavaScript app shell, else None."""
    script = sum(len(tag.string or "") for tag in soup.find_all("script"))
    roots = (soup.find(id=name) for name in _JS_ROOT_IDS)
    empty_root = any(isinstance(r, Tag) and not r.get_text(strip=True) for r in roots)
    asks_js = any("javascript" in tag.get_text().lower() for tag in soup.find_all("noscript"))
    return script if empty_root or asks_js or script >= _SHELL_SCRIPT_BYTES else None


# ---------------------------------------------------------------- Markdown


def normalize_markdown(text: str, *, min_chars: int = 0) -> Document:
    """Read Markdown (as archived policy versions are kept) into the same blocks HTML would give."""
    doc = Document(with_paths(_MarkdownReader().read(text)))
    if len(doc.text) < min_chars:
        raise ExtractError(
            "too_short", f"extracted text is only {len(doc.text)} characters (minimum {min_chars})"
        )
    return doc


_ATX = re.compile(r"(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"(=+|-+)[ \t]*$")
_HR = re.compile(r"([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|$)")
_FENCE = re.compile(r"(`{3,}|~{3,})")
_TABLE_SEP = re.compile(r"\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_QUOTE = re.compile(r"(?:>[ \t]?)+")
_BR = re.compile(r"<br\s*/?>", re.I)
_HARD_BREAK = re.compile(r"(?: {2,}|\\)$")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^)]*\)")
_LINK = re.compile(
    r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^\s)>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
    r"|<(https?://[^\s<>]+)>"
)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
# `**strong**`, `*em*` and the underscore forms (which never open or close inside a word); a
# marker without its pair is text.
_EMPHASIS = re.compile(r"(\*\*?)(?=\S)(.+?)(?<=\S)\1|(?<!\w)(__?)(?=\S)(.+?)(?<=\S)\3(?!\w)")
_CELL_MARKER = re.compile(r"^(?:#{1,6}|[-*+]|\d{1,9}[.)])[ \t]+")
_MD_BASE = "https://www.facebook.com/"
# Escaped punctuation is parked in the private-use area while markers are stripped.
_PRIVATE = 0xE000
_PARKED = re.compile("[\ue000-\ue07f]")
_LINK_SLOT = 0xF0000
_SLOT = re.compile("[\U000f0000-\U000ffffd]")


def _protect(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(_PRIVATE + ord(m.group(1))), text)


def _restore(text: str) -> str:
    if not _PARKED.search(text):
        return text
    return _PARKED.sub(lambda m: chr(ord(m.group()) - _PRIVATE), text)


def _unmark(m: re.Match[str]) -> str:
    return m.group(2) if m.group(1) else m.group(4)


def _md_plain(text: str) -> str:
    """Inline text without links: strip tags, code ticks and emphasis markers that pair up."""
    if "<" in text:
        text = _TAG.sub("", text)
    if "`" in text:
        text = text.replace("`", "")
    while ("*" in text or "_" in text) and (unmarked := _EMPHASIS.sub(_unmark, text)) != text:
        text = unmarked
    text = _restore(text)
    return htmllib.unescape(text) if "&" in text else text


def _md_link(m: re.Match[str]) -> str:
    if m.group(3):
        url = anchor = m.group(3)
    else:
        anchor = _clean(_md_plain(m.group(1)))
        url = htmllib.unescape(_restore(m.group(2)))
    target = "" if url[:1] in ("", "#") else canonical_url(url, _MD_BASE)
    return f"[{anchor}]({target})" if anchor and target else anchor


def _md_inline(text: str) -> str:
    """Inline Markdown (escapes already protected) -> canonical inline text with `[a](u)` links."""
    if "[" not in text and "<" not in text:
        return _clean(_md_plain(text))
    if "![" in text:
        text = _IMAGE.sub("", text)
    # Links are parked in one private-use character each, so emphasis can pair across them
    # (`**[a](u)**`) without touching their targets.
    links: list[str] = []

    def park(m: re.Match[str]) -> str:
        links.append(_md_link(m))
        return chr(_LINK_SLOT + len(links) - 1)

    text = _md_plain(_LINK.sub(park, text))
    if links:
        text = _SLOT.sub(lambda m: links[ord(m.group()) - _LINK_SLOT], text)
    return _clean(text)


class _MarkdownReader:
    """A small line-based block reader: enough Markdown for archived policy versions, and fast."""

    def __init__(self) -> None:
        self.out: list[RawBlock] = []
        self.lines: list[str] = []
        self.kind: BlockKind = "paragraph"
        self.level = 1
        self.lists: list[int] = []  # content columns of the open list items
        self.blank = True
        self.fence = ""

    def read(self, text: str) -> list[RawBlock]:
        for raw in text.splitlines():
            self._line(raw)
        self._close()
        return self.out

    def _line(self, raw: str) -> None:
        if self.fence:
            if raw.strip().startswith(self.fence):
                self.fence = ""
            else:
                self._emit("paragraph", _clean(raw), 1)  # code is literal
            return
        line = raw.expandtabs(4)
        body = line.lstrip()
        if body.startswith(">"):
            line = _QUOTE.sub("", body, count=1)
            body = line.lstrip()
        if not body:
            self._close()
            self.blank = True
            return
        indent = len(line) - len(body)
        self._block_line(body, indent)
        self.blank = False

    def _block_line(self, body: str, indent: int) -> None:
        if self.lines and not self.blank and self.kind == "paragraph" and _SETEXT.match(body):
            level = 1 if body[0] == "=" else 2
            self.lines, lines = [], self.lines
            self._emit("heading", _md_inline(_protect(" ".join(lines))), level)
            return
        if _HR.match(body):
            self._close()
        elif m := _FENCE.match(body):
            self._close()
            self.fence = m.group(1)[:3]
        elif body.startswith("|"):
            self._close()
            self._pop_lists(indent)
            if not _TABLE_SEP.match(body):
                self._row(body)
        elif (m := _ATX.match(body)) and (indent <= 3 or self.lists):
            self._close()
            self._pop_lists(indent)
            self._emit("heading", _md_inline(_protect(m.group(2) or "")), len(m.group(1)))
        elif m := _ITEM.match(body):
            self._item(indent, m)
        elif self.lines and not self.blank:
            self.lines.append(body)  # a continuation line, lazy or not
        else:
            self._close()
            self._pop_lists(indent)
            self._start("paragraph", 1, body)

    def _item(self, indent: int, m: re.Match[str]) -> None:
        spaces = m.group(2) or " "
        content = indent + len(m.group(1)) + (len(spaces) if len(spaces) <= 4 else 1)
        self._close()
        self._pop_lists(indent)
        self.lists.append(content)
        self._start("item", len(self.lists), m.group(3) or "")

    def _pop_lists(self, indent: int) -> None:
        while self.lists and indent < self.lists[-1]:
            self.lists.pop()

    def _start(self, kind: BlockKind, level: int, text: str) -> None:
        self.kind, self.level, self.lines = kind, level, [text]

    def _close(self) -> None:
        if not self.lines:
            return
        lines, self.lines = self.lines, []
        kind, level = self.kind, self.level
        # Hard line breaks and <br> become separate blocks, as they do in HTML.
        parts: list[str] = [""]
        for line in lines:
            pieces = _BR.split(line)
            parts[-1] += " " + pieces[0]
            parts.extend(pieces[1:])
            if _HARD_BREAK.search(line):
                parts.append("")
        for part in parts:
            text = _md_inline(_protect(part.removesuffix("\\")))
            if text:
                self._emit(kind, text, level)
                kind, level = "paragraph", 1

    def _emit(self, kind: BlockKind, text: str, level: int) -> None:
        if text:
            self.out.append((kind, text, level))

    def _row(self, body: str) -> None:
        row = _protect(body.strip())
        cells = row.removeprefix("|").removesuffix("|").split("|")
        texts = [
            _md_inline(" ".join(_CELL_MARKER.sub("", p.strip()) for p in _BR.split(cell)))
            for cell in cells
        ]
        if any(texts):
            self._emit("row", " | ".join(texts), 1)
