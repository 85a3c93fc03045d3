"""Canonical link targets: one stable spelling per destination, whatever wrapper it came in.

A link target is content (the opt-out form a guide points to); its tracking noise is not.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

_LINK_SHIMS = frozenset(
    {"l.facebook.com", "lm.facebook.com", "l.instagram.com", "l.messenger.com", "l.threads.net"}
)
_META_SITES = ("facebook.com", "instagram.com", "messenger.com", "threads.net", "meta.com")
# Wrappers around a link's real destination: (host, path, the query parameter holding it). A
# host "*.site" is the site and any of its subdomains; a path "" is any path. From the real
# pages: the link shims, a login page that comes back to the destination, and the Privacy
# Center's interstitial in front of a setting (which wraps a login URL in turn).
WRAPPERS: tuple[tuple[str, str, str], ...] = (
    *((host, "", "u") for host in sorted(_LINK_SHIMS)),
    *((f"*.{site}", "/l.php", "u") for site in _META_SITES),
    *((f"*.{site}", "/login/", "next") for site in _META_SITES),
    *((f"*.{site}", "/login.php", "next") for site in _META_SITES),
    ("*.facebook.com", "/privacy/center/interstitial/", "logout_url"),
)
_TRACKING_KEYS = frozenset(
    {
        "entry_point",
        "__tn__",
        "_rdr",
        "h",
        "fbclid",
        "ref",
        "refsrc",
        "helpref",
        "hc_ref",
        "hc_location",
        "ig_rid",
        "igshid",
        "mibextid",
    }
)
_TRACKING_PREFIXES = ("utm_", "__cft__", "__xts__")
_CDN_SUFFIXES = ((".fbcdn.net", "fbcdn"), (".cdninstagram.com", "cdninstagram"))
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_ENCODED_URL = re.compile(r"/https?%3A%2F%2F", re.IGNORECASE)
_DROPPED_SCHEMES = ("javascript:", "data:", "vbscript:")
_KEPT_AS_IS = ("mailto:", "tel:")
_URL_NOISE = str.maketrans("", "", "\t\n\r")
# A fragment a person wrote (`#section-id`, `#1.subpage.2-Foo`) versus one a script made up.
_SECTION_FRAGMENT = re.compile(r"[A-Za-z0-9][\w.\-:]*")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9]{16,}")
_MAX_UNWRAP = 5


@lru_cache(maxsize=8192)
def canonical_url(href: str, base_url: str) -> str:
    """The canonical target of `href` on the page at `base_url` ("" for script links); cached."""
    href = href.strip().translate(_URL_NOISE)
    lowered = href.lower()
    if lowered.startswith(_DROPPED_SCHEMES):
        return ""
    if lowered.startswith(_KEPT_AS_IS):
        return href
    return _canonical(urljoin(base_url, href), _MAX_UNWRAP)


IN_PAGE = "#"
"""link_target() of a link that stays on the page (a fragment of the page itself)."""


def link_target(href: str, base_url: str) -> str:
    """What a link leads to: its canonical address, IN_PAGE for a jump within the page at
    `base_url`, "" for nowhere (an empty href, a script)."""
    href = href.strip()
    if href[:1] == "#":
        return IN_PAGE
    target = canonical_url(href, base_url) if href else ""
    if "#" in target and base_url:
        page = canonical_url(base_url, base_url).partition("#")[0]
        if target.partition("#")[0] == page:
            return IN_PAGE
    return target


def _canonical(url: str, unwraps_left: int) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.netloc.lower()
    if scheme in _DEFAULT_PORTS and host.endswith(_DEFAULT_PORTS[scheme]):
        host = host.removesuffix(_DEFAULT_PORTS[scheme])
    if scheme == "http":
        scheme = "https"  # the same page to a reader; sites link both ways at random
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if unwraps_left and (key := _wrapped_in(host, parts.path)):
        target = next((value for name, value in pairs if name == key), "")
        if target.strip():
            return _canonical(urljoin(url, target.strip()), unwraps_left - 1)
    if unwraps_left and (nested := _ENCODED_URL.search(parts.path)):
        # `/privacy/policy/printable/https%3A%2F%2F...`: an absolute address written into a
        # relative link, which the browser resolved against the page's own path.
        inner = unquote(parts.path[nested.start() + 1 :])
        if parts.query:
            inner += ("&" if "?" in inner else "?") + parts.query
        return _canonical(inner, unwraps_left - 1)
    host = host.rpartition("@")[2]  # credentials in a link are no part of where it leads
    bare_host = host.partition(":")[0]
    for suffix, label in _CDN_SUFFIXES:
        if bare_host.endswith(suffix):
            # Signed media URLs change their signature and edge host on every fetch; the path is
            # the file.
            return f"{label}:{parts.path}"
    kept = sorted((k, v) for k, v in pairs if not _is_tracking(k) and not _is_signed_media(v))
    query = urlencode(kept, quote_via=quote, safe="/:@,")
    path = _clean_path(parts.path) or ("/" if host else "")
    fragment = parts.fragment if _keeps_fragment(parts.fragment) else ""
    return urlunsplit((scheme, host, path, query, fragment))


def _is_signed_media(value: str) -> bool:
    """A query value that is a CDN media URL (`video_redirect/?id=...&src=https://...fbcdn.net/...`):
    signed, so it changes on every capture while the link's own parameters name the media."""
    if not value.lower().startswith(("http://", "https://")):
        return False
    host = urlsplit(value).hostname or ""
    return any(host.endswith(suffix) for suffix, _ in _CDN_SUFFIXES)


def _wrapped_in(host: str, path: str) -> str:
    """The query parameter that holds the destination when (host, path) is a wrapper, else ""."""
    bare = host.rpartition("@")[2].partition(":")[0]
    for pattern, wrapper_path, key in WRAPPERS:
        if pattern.startswith("*."):
            site = pattern[2:]
            matches = bare == site or bare.endswith("." + site)
        else:
            matches = bare == pattern
        if matches and (path == wrapper_path or (not wrapper_path and path in ("", "/", "/l.php"))):
            return key
    return ""


def _is_tracking(key: str) -> bool:
    return key in _TRACKING_KEYS or key.startswith(_TRACKING_PREFIXES)


def _clean_path(path: str) -> str:
    # Only spaces are re-encoded: re-quoting everything would turn `%2F` and `/` into one path.
    return path.replace(" ", "%20")


def _keeps_fragment(fragment: str) -> bool:
    fragment = unquote(fragment)
    if not _SECTION_FRAGMENT.fullmatch(fragment):
        return False
    # A long run of letters and digits with no separator is a generated id (`#ea2SG9qUySboIlMv`).
    for run in _TOKEN_LIKE.findall(fragment):
        if any(c.isdigit() for c in run) and any(c.isalpha() for c in run):
            return False
    return True


_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'\]\)]+", re.IGNORECASE)


def canonical_text_urls(text: str, base_url: str) -> str:
    """Web addresses printed as text, put in canonical form like link targets.

    Pages sometimes print a link's address as its visible text, rotating tokens and all
    (`l.php?u=...&h=AT...`); the words are content, the token is not.
    """
    if "http" not in text and "HTTP" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: canonical_url(m.group(0), base_url) or m.group(0), text)
