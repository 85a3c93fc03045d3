"""Where a link leads, as opposed to how the page spells its address.

Pages wrap their links in logging redirects and add tracking parameters that change from one
capture to the next ("...logging/?element=...&redirect_uri=https://.../settings/ads/&target=...").
RUBRIC.md: a change of link target or tracking parameter alone says nothing. What an opt-out guide
needs to know is whether the form now lives elsewhere: another host or another path.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

_WRAPS = 3
"""At most this many redirects unwrapped (a redirect to a redirect...)."""


def destination(url: str) -> str:
    """The page `url` leads to: through any redirect it wraps (a query value that is itself an
    http(s) address), its host without "www." and its path without a trailing slash; the query
    and fragment say how the page was reached, not which page it is."""
    parts = urlsplit(url.strip())
    for _ in range(_WRAPS):
        wrapped = next(
            (
                value
                for _, value in parse_qsl(parts.query)
                if value.startswith(("http://", "https://"))
            ),
            None,
        )
        if wrapped is None:
            break
        parts = urlsplit(wrapped)
    if parts.scheme.lower() not in ("http", "https", "") or not (parts.netloc or parts.path):
        return url.strip()  # "mailto:...", "#section": kept whole
    return parts.netloc.lower().removeprefix("www.") + parts.path.rstrip("/")
