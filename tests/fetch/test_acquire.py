"""One acquisition: `check`, `validate` and `compare` agree on every guard (one table).

They used to fetch and guard each its own way: a `text/plain` URL was fine for `validate` and
`not_html` for `check`. Each case is served on 127.0.0.1 and put through all three.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor import config
from monitor.analysis.topics import DEFAULT_TOPICS
from monitor.cli.compare import compare
from monitor.cli.validate import validate_documents
from monitor.extract.rules import ExtractRules
from tests.pageserver import PageServer, Response
from tests.sitegen import LOGIN_WALL, policy_page
from tests.support import document, harness, write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}
SHELL = (
    "<html><head><script>" + "var app = {};" * 2000 + "</script></head>"
    '<body><div id="root"></div><noscript>You need to enable JavaScript.</noscript></body></html>'
)
CHALLENGE = (
    "<html><head><title>Just a moment...</title></head><body><p>Checking your browser before "
    "accessing the site.</p></body></html>"
)

CASES: dict[str, tuple[Response, str | None]] = {
    "a policy": (Response(body=policy_page(rng=random.Random(1)), headers=HTML), None),
    "text/plain": (
        Response(
            body="Privacy policy, in plain text. " * 30, headers={"Content-Type": "text/plain"}
        ),
        "not_html",
    ),
    "pdf": (Response(body=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}), "not_html"),
    "no content type": (Response(body=policy_page(), headers={"Content-Type": ""}), "not_html"),
    "login wall": (Response(body=LOGIN_WALL, headers=HTML), "login_wall"),
    "bot challenge 403": (Response(403, CHALLENGE, HTML), "challenge"),
    "empty shell": (Response(body=SHELL, headers=HTML), "empty_shell"),
    "404": (Response(404, "gone", HTML), "http_status"),
    "too short": (Response(body="<main><p>Short.</p></main>", headers=HTML), "too_short"),
}


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.mark.parametrize(("response", "kind"), CASES.values(), ids=CASES.keys())
def test_check_validate_and_compare_agree(
    tmp_path: Path, site: PageServer, response: Response, kind: str | None
) -> None:
    site.set("/page", response)
    url = site.url("/page")
    path = write_config(tmp_path, document("page", url))
    with harness(path) as h:
        checked = h.check("page")
    settings = config.load(path)
    [report] = asyncio.run(validate_documents(settings, settings.documents))
    rules = ExtractRules(min_chars=settings.guards.min_chars)
    compared = compare(url, url, rules=rules, topics=DEFAULT_TOPICS)
    compared_kind = compared["error"]["kind"] if compared["error"] else None
    assert (checked.error_kind, report.error_kind, compared_kind) == (kind, kind, kind)
    if kind is None:
        assert (checked.outcome, report.ok, compared["outcome"]) == ("new", True, "unchanged")
    else:
        assert checked.outcome == "failed" and not report.ok and compared["outcome"] == "error"


def test_every_check_measures_its_duration(tmp_path: Path, site: PageServer) -> None:
    site.set("/page", CASES["a policy"][0])
    path = write_config(tmp_path, document("page", site.url("/page")))
    with harness(path) as h:
        outcomes = [h.check("page").outcome for _ in range(2)]
        site.set("/page", CASES["login wall"][0])
        outcomes.append(h.check("page").outcome)
        checks = h.repo.checks.checks("page")
    assert outcomes == ["new", "unchanged", "failed"]
    assert all(c.duration_ms > 0 for c in checks), [c.duration_ms for c in checks]
