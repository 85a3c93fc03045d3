"""A history for the web tests, made by real checks of local fixture pages (a real HTTP server, a
real SQLite file, a manual clock), and an in-process client for the app over it.

Two documents: `policy`, whose wording about AI training, keystrokes and research changes over
a few months (with a login wall in between, an incident, and a technical version), and
`partners`, whose text carries script and event-handler payloads as words on the page.
"""

from __future__ import annotations

import asyncio
import html
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from monitor import config
from monitor.daemon.runtime import open_store
from monitor.web import create_app
from tests.pageserver import PageServer, Request, Response
from tests.sitegen import AI_SENTENCE_CHANGED, LOGIN_WALL, Section, policy_page, sample_policy
from tests.support import Harness, ManualClock, document, write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}
DAY = 86400.0
KEYSTROKE = (
    "We study keystroke timing and typing rhythm for research and development of new safety "
    "features."
)
XSS_SCRIPT = '<script>window.__pwned = "script"; document.title = "pwned"</script>'
XSS_IMG = "<img src=x onerror=\"window.__pwned = 'img'; document.title = 'pwned'\">"
XSS_HEADING = "Notices <img src=y onerror=alert(1)> from partners"
XSS_TEXT = (
    f"Partners may display {XSS_SCRIPT} and {XSS_IMG} in notices they send through our "
    f"products, which we review before they reach you."
)
XSS_TEXT_CHANGED = XSS_TEXT.replace(
    "which we review before they reach you.",
    "which we may use to train artificial intelligence models.",
)


def policy_v3() -> list[Section]:
    sections = sample_policy(AI_SENTENCE_CHANGED)
    sections[1].paragraphs.append(KEYSTROKE)
    return sections


def policy_v4() -> list[Section]:
    sections = sample_policy(AI_SENTENCE_CHANGED)
    sections[1].paragraphs.append("We no longer look at how people type.")
    return sections


def partners(text: str) -> list[Section]:
    # Paragraphs are markup in sitegen: escaping makes the payload words on the page, which is
    # exactly what a hostile or careless page can put in front of the monitor.
    return [*sample_policy(), Section(XSS_HEADING, [html.escape(text)])]


@dataclass
class History:
    """What the checks recorded, for the tests to look up."""

    root: Path
    harness: Harness
    site: PageServer

    @property
    def repo(self) -> Any:
        return self.harness.repo

    @property
    def engine(self) -> Any:
        return self.harness.store.engine

    def app(self) -> Any:
        return create_app(self.harness.settings, self.engine, clock=self.harness.clock)


def _route(sections: list[Section]) -> Any:
    counter = iter(range(10**6))

    def route(_request: Request) -> Response:
        page = policy_page(sections, rng=random.Random(next(counter)))
        return Response(body=page, headers=HTML)

    return route


def _config(root: Path, site: PageServer, extra: str, **policy: str | list[str]) -> Path:
    docs = document("policy", site.url("/policy"), **policy)
    docs += document("partners", site.url("/partners"))
    channel = f"""
[[channels]]
name = "ops-hook"
kind = "webhook"
url = "{site.url("/hook")}"
"""
    return write_config(root, docs + channel, extra=extra)


@contextmanager
def history(root: Path, *, web: str = "") -> Iterator[History]:
    """Check the fixture pages through their life; `web` is extra config text (a [web] table)."""
    extra = f"[alerts]\nincident_after = 2\n{web}"
    with PageServer() as site:
        settings = config.load(_config(root, site, extra))
        store = open_store(settings)
        h = Harness(settings, store, ManualClock())
        try:
            _live(h, site, root, extra)
            yield History(root, h, site)
        finally:
            store.engine.dispose()


def _live(h: Harness, site: PageServer, root: Path, extra: str) -> None:
    site.set("/policy", _route(sample_policy()))
    site.set("/partners", _route(partners(XSS_TEXT)))
    assert h.check("policy").outcome == "new"  # v1, 2026-03-01
    assert h.check("partners").outcome == "new"
    h.clock.advance(30 * DAY)
    site.set("/policy", _route(sample_policy(AI_SENTENCE_CHANGED)))
    assert h.check("policy").outcome == "changed"  # v2, 2026-03-31: AI training, clicks
    site.set("/partners", _route(partners(XSS_TEXT_CHANGED)))
    assert h.check("partners").outcome == "changed"
    h.clock.advance(30 * DAY)
    site.set("/policy", _route(policy_v3()))
    assert h.check("policy").outcome == "changed"  # v3, 2026-04-30: keystrokes arrive
    h.clock.advance(30 * DAY)
    site.set("/policy", _route(policy_v4()))
    assert h.check("policy").outcome == "changed"  # v4, 2026-05-30: keystrokes gone
    h.clock.advance(DAY)
    # The user narrows the region: the stored page is re-read, a technical version (v5).
    h.settings = config.load(_config(root, site, extra, remove=["ul"]))
    assert h.check("partners").outcome == "unchanged"
    assert h.repo.history.version_count("policy") == 5, "the technical version was not recorded"
    h.clock.advance(DAY)
    site.set("/policy", Response(body=LOGIN_WALL, headers=HTML))
    assert h.check("policy").outcome == "failed"
    assert h.check("policy").outcome == "failed"  # the second failure in a row: an incident


def request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to the app in-process; `cookies` are the client's (httpx wants them there)."""
    cookies = kwargs.pop("cookies", None)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", cookies=cookies
        ) as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


def get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    return request(app, "GET", path, **kwargs)


def post(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    return request(app, "POST", path, **kwargs)
