"""The Host header values the web UI answers (anything else is refused with 400 before a route
runs, by Starlette's TrustedHostMiddleware): against DNS rebinding, where a website the user
visits points its own name at 127.0.0.1 and reads the history through the browser.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from monitor.config import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})


def allowed_hosts(settings: Settings, served: str | None = None) -> list[str]:
    """The loopback names, base_url's host, the address served (web.host or `served`, unless
    it is a wildcard) and `[web] allowed_hosts`; ports are not compared."""
    web = settings.web
    names = [*LOOPBACK_NAMES, urlsplit(web.base_url).hostname or ""]
    names += [web.host, served or "", *web.allowed_hosts]
    out: list[str] = []
    for name in names:
        host = name.strip().lower()
        if host in WILDCARD_ADDRESSES:
            continue
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address, as a Host header writes it
        if host not in out:
            out.append(host)
    return out
