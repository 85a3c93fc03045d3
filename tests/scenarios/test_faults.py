"""Fault injection: a misbehaving local server never makes a version or a change alert.

Each fault is served to a document that already has a version; the check must record a check row
with the right error kind and a message a user understands (or, for the faults that are not
errors, the right outcome), write no version and no alert, retry as configured, and let the
document recover: the next good answer is `unchanged` and the next real change is found.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from tests.pageserver import (
    PageServer,
    Response,
    Route,
    fresh_page,
    gzip_bomb,
    in_turn,
    redirect,
)
from tests.sitegen import LOGIN_WALL, Section, noisy_page, render_sections, sample_policy
from tests.support import Harness, harness

TIMEOUT = 0.4  # seconds: the per-attempt deadline, so the slow faults cost little real time
RETRIES = 2
HTML = {"Content-Type": "text/html; charset=utf-8"}
MB = 1_000_000
BASE = "https://example.org/privacy"


def policy_sections(changed: bool = False) -> list[Section]:
    """A fictional policy long enough for the shrink guard, with typography outside ASCII."""
    sections = sample_policy()
    sections.append(
        Section(
            "Contacting us",
            [
                "We’re reachable at our café-style help desk — write to us any time, and "
                "we’ll answer within 30 days (“promptly”, as the law says)."
            ],
        )
    )
    for n in range(1, 9):
        days = n + 10 if not (changed and n == 4) else n + 40
        sections.append(
            Section(
                f"Requests of type {n}",
                [
                    f"Requests of type {n} are answered by our privacy team within {days} "
                    f"days; we keep a record of each request and of our answer for audits."
                ],
            )
        )
    return sections


GOOD = policy_sections()
CHANGED = policy_sections(changed=True)


def _page(sections: list[Section]) -> str:
    return noisy_page(render_sections(sections), rng=random.Random(7))


def _tenth() -> str:
    # The first section alone: about a tenth of the words, still above min_chars.
    return _page(GOOD[:1])


def _mislabelled() -> Response:
    # The same page, sent as Windows-1252 bytes under a UTF-8 label (a misconfigured server).
    return Response(body=_page(GOOD).encode("cp1252"), headers=HTML)


SHELL = """<!DOCTYPE html><html><head><title>Privacy Policy</title>
<script>window.__BOOT__ = {"route": "/privacy", "bundle": "main.8f3a.js"};</script></head>
<body><div id="root"></div><noscript>You need to enable JavaScript to run this app.</noscript>
<script src="/static/main.8f3a.js"></script></body></html>"""

CHALLENGE = """<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>
<h1>Checking your browser before accessing the site</h1><p>Please complete the security check.</p>
<div class="challenge-platform"></div></body></html>"""

NEW_LAYOUT = """<!DOCTYPE html><html><head><title>Privacy Policy</title></head><body>
<div class="layout-2026"><h1>Privacy Policy</h1><p>The policy moved into a new layout with no main
region, so the configured selector finds nothing here; the words are the same as before but the
monitor must not guess where the document went.</p></div></body></html>"""


@dataclass(frozen=True)
class Fault:
    """One misbehaviour and what policywatch must make of it."""

    id: str
    route: Response | Route
    kind: str | None  # the check's error kind; None when the outcome is not an error
    needles: tuple[str, ...]  # words the check's message must hold ({url} is the page's URL)
    outcome: str = "failed"
    attempts: int = 1  # requests to the page in one check: retries + 1 when it is transient
    routes: dict[str, Response | Route] = field(default_factory=dict)


TRANSIENT = RETRIES + 1
FAULTS = [
    Fault(
        "headers-never-come",
        Response(body=_page(GOOD), headers=HTML, delay_headers=30),
        "fetch",
        (f"took longer than the {TIMEOUT:g} s deadline", "gave up after 3 attempts"),
        attempts=TRANSIENT,
    ),
    Fault(
        "body-trickles",
        Response(chunks=[b"<p>" + b"x" * 20 + b"</p>"] * 400, chunk_delay=0.05, headers=HTML),
        "fetch",
        (f"took longer than the {TIMEOUT:g} s deadline",),
        attempts=TRANSIENT,
    ),
    Fault(
        "connection-reset",
        Response(reset=True),
        "fetch",
        ("network error fetching {url}: Connection reset by peer", "gave up after 3 attempts"),
        attempts=TRANSIENT,
    ),
    Fault(
        "500",
        Response(500, "oops", {"Content-Type": "text/plain"}),
        "http_status",
        ("HTTP 500 Internal Server Error from {url}", "gave up after 3 attempts"),
        attempts=TRANSIENT,
    ),
    Fault(
        "502",
        Response(502, "bad gateway", {"Content-Type": "text/plain"}),
        "http_status",
        ("HTTP 502 Bad Gateway from {url}",),
        attempts=TRANSIENT,
    ),
    Fault(
        "503",
        Response(503, "busy", {"Content-Type": "text/plain"}),
        "http_status",
        ("HTTP 503 Service Unavailable from {url}",),
        attempts=TRANSIENT,
    ),
    Fault(
        "429-retry-after",
        Response(429, "slow down", {"Content-Type": "text/plain", "Retry-After": "7"}),
        "http_status",
        ("HTTP 429 Too Many Requests from {url}",),
        attempts=TRANSIENT,
    ),
    Fault(
        "403-bot-challenge",
        Response(403, CHALLENGE, HTML),
        "challenge",
        ("HTTP 403 from {url} is a bot challenge page, not the document",),
    ),
    Fault(
        "login-wall-200",
        Response(body=LOGIN_WALL, headers=HTML),
        "login_wall",
        ("page is a login wall, not the document",),
    ),
    Fault(
        "truncated-body",
        Response(body=_page(GOOD), headers=HTML, truncate_to=900),
        "fetch",
        ("the server broke off or garbled the response to {url}",),
        attempts=TRANSIENT,
    ),
    Fault(
        "gzip-bomb",
        Response(body=gzip_bomb(), headers={**HTML, "Content-Encoding": "gzip"}),
        "fetch",
        ("response body of {url} exceeds the 10 MB limit",),
    ),
    Fault(
        "50-mb-announced",
        Response(chunks=[bytes(MB)] * 50, headers={**HTML, "Content-Length": str(50 * MB)}),
        "fetch",
        ("response body of {url} exceeds the 10 MB limit",),
    ),
    Fault(
        "50-mb-streamed",
        Response(chunks=[b"<p>" + b"x" * (MB - 7) + b"</p>"] * 50, headers=HTML),
        "fetch",
        ("response body of {url} exceeds the 10 MB limit",),
    ),
    Fault(
        "pdf",
        Response(
            body=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            headers={"Content-Type": "application/pdf"},
        ),
        "not_html",
        ("returned application/pdf, not an HTML page",),
    ),
    Fault(
        "json",
        Response(body='{"policy": "moved"}', headers={"Content-Type": "application/json"}),
        "not_html",
        ("returned application/json, not an HTML page",),
    ),
    Fault(
        "image",
        Response(body=b"\x89PNG\r\n\x1a\n" + bytes(64), headers={"Content-Type": "image/png"}),
        "not_html",
        ("returned image/png, not an HTML page",),
    ),
    Fault(
        "redirect-loop",
        redirect("/policy"),
        "fetch",
        ("too many redirects (more than 5) from {url}",),
        attempts=6,  # the request and five redirects, then no retry: it would loop again
    ),
    Fault(
        "redirect-to-login",
        redirect("/login?next=/policy"),
        "login_wall",
        ("page is a login wall, not the document",),
        routes={"/login": Response(body=LOGIN_WALL, headers=HTML)},
    ),
    Fault(
        "empty-javascript-shell",
        Response(body=SHELL, headers=HTML),
        "empty_shell",
        ("page is an empty JavaScript shell (0 characters of text, 66 bytes of script)",),
    ),
    Fault(
        "selected-region-gone",
        Response(body=NEW_LAYOUT, headers=HTML),
        "selector_miss",
        ("selector 'main' matched nothing on the page",),
    ),
    # Not errors, and still no version: a tenth of the text waits for a second opinion, and a
    # page in the wrong charset is read for what it says.
    Fault(
        "shrunk-to-a-tenth",
        Response(body=_tenth(), headers=HTML),
        "shrink",
        ("text shrank from", "only if the next check sees the same text"),
        outcome="pending",
    ),
    Fault("invalid-bytes-for-its-charset", _mislabelled(), None, (), outcome="unchanged"),
]


def write_fault_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "pw.db"}"
[fetch]
min_gap = "0s"
retries = {RETRIES}
backoff = "2s"
timeout = "{int(TIMEOUT * 1000)}ms"
[alerts]
incident_after = 3
[[documents]]
slug = "policy"
name = "Example Policy"
url = "{url}"
select = ["main"]
[[channels]]
name = "box"
kind = "mbox"
path = "{tmp_path / "alerts.mbox"}"
min_significance = "cosmetic"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture
def h(tmp_path: Path, site: PageServer) -> Iterator[Harness]:
    site.set("/policy", fresh_page(GOOD))
    with harness(write_fault_config(tmp_path, site.url("/policy"))) as hh:
        first = hh.check("policy")
        assert (first.outcome, first.version) == ("new", 1)
        yield hh


def alert_kinds(h: Harness) -> list[str]:
    return sorted(d.kind for d in h.repo.outbox.deliveries())


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_a_fault_makes_no_version_and_no_alert_and_the_page_recovers(
    h: Harness, site: PageServer, fault: Fault
) -> None:
    for path, route in fault.routes.items():
        site.set(path, route)
    site.set("/policy", fault.route)
    before = len(site.requests_to("/policy"))

    result = h.check("policy")

    url = site.url("/policy")
    assert (result.outcome, result.error_kind) == (fault.outcome, fault.kind), result.message
    for needle in fault.needles:
        assert needle.format(url=url) in (result.message or ""), result.message
    assert len(site.requests_to("/policy")) - before == fault.attempts
    [check, _first] = h.repo.checks.checks("policy")
    assert (check.outcome, check.error_kind, check.message) == (
        fault.outcome,
        fault.kind,
        result.message,
    )
    assert h.repo.history.version_count("policy") == 1
    assert alert_kinds(h) == []

    site.set("/policy", fresh_page(GOOD))
    recovered = h.check("policy")
    assert (recovered.outcome, recovered.version) == ("unchanged", 1)

    site.set("/policy", fresh_page(CHANGED))
    changed = h.check("policy")
    assert (changed.outcome, changed.version) == ("changed", 2)
    assert alert_kinds(h) == ["change"]
    [change] = h.repo.history.changes("policy")
    [modified] = [c for c in change.changeset if c["kind"] == "modified"]
    assert "14 days" in modified["before"] and "44 days" in modified["after"]


def test_every_fault_of_the_issue_is_covered() -> None:
    wanted = {
        "headers-never-come",
        "body-trickles",
        "connection-reset",
        "500",
        "502",
        "503",
        "429-retry-after",
        "403-bot-challenge",
        "login-wall-200",
        "truncated-body",
        "gzip-bomb",
        "50-mb-announced",
        "50-mb-streamed",
        "pdf",
        "json",
        "image",
        "invalid-bytes-for-its-charset",
        "redirect-loop",
        "redirect-to-login",
        "empty-javascript-shell",
        "selected-region-gone",
        "shrunk-to-a-tenth",
    }
    assert {f.id for f in FAULTS} == wanted


# -- retries and back-off ----------------------------------------------------------------------


def test_server_errors_back_off_exponentially_as_configured(h: Harness, site: PageServer) -> None:
    site.set("/policy", Response(503, "busy", {"Content-Type": "text/plain"}))
    h.clock.sleeps.clear()
    h.check("policy")
    # Two retries: full jitter under 2 s, then under 4 s; nothing else waited.
    assert len(h.clock.sleeps) == RETRIES
    assert 0 <= h.clock.sleeps[0] <= 2 and 0 <= h.clock.sleeps[1] <= 4


def test_retry_after_is_waited_for_and_a_long_one_gives_up(h: Harness, site: PageServer) -> None:
    site.set("/policy", Response(429, "", {"Content-Type": "text/plain", "Retry-After": "7"}))
    h.clock.sleeps.clear()
    h.check("policy")
    assert h.clock.sleeps == [7.0, 7.0]

    site.set("/policy", Response(503, "", {"Content-Type": "text/plain", "Retry-After": "86400"}))
    h.clock.sleeps.clear()
    before = len(site.requests_to("/policy"))
    result = h.check("policy")
    assert h.clock.sleeps == [] and len(site.requests_to("/policy")) == before + 1
    assert "the server asked to wait 86400 s, over the limit of 600 s" in (result.message or "")


def test_a_server_that_recovers_within_the_retries_is_not_a_failure(
    h: Harness, site: PageServer
) -> None:
    page = Response(body=_page(GOOD), headers=HTML)
    site.set("/policy", in_turn(Response(502), Response(reset=True), page))
    result = h.check("policy")
    assert (result.outcome, result.version) == ("unchanged", 1)
    assert [c.outcome for c in h.repo.checks.checks("policy")] == ["unchanged", "new"]


# -- incidents ---------------------------------------------------------------------------------


def test_an_incident_opens_once_after_n_failures_and_closes_on_recovery(
    h: Harness, site: PageServer
) -> None:
    site.set("/policy", Response(503, "busy", {"Content-Type": "text/plain"}))
    h.check("policy")
    h.check("policy")
    assert h.repo.checks.open_incident("policy") is None and alert_kinds(h) == []
    h.check("policy")  # the third failure in a row
    incident = h.repo.checks.open_incident("policy")
    assert incident is not None and (incident.kind, incident.failures) == ("http_status", 3)
    assert alert_kinds(h) == ["incident_opened"]
    for _ in range(3):
        h.check("policy")
    assert alert_kinds(h) == ["incident_opened"]  # one alert, however long it lasts
    opened = h.repo.checks.open_incident("policy")
    assert opened is not None and opened.failures == 6

    site.set("/policy", fresh_page(GOOD))
    assert h.check("policy").outcome == "unchanged"
    assert h.repo.checks.open_incident("policy") is None
    assert alert_kinds(h) == ["incident_closed", "incident_opened"]

    site.set("/policy", fresh_page(CHANGED))
    assert h.check("policy").outcome == "changed"
    assert alert_kinds(h) == ["change", "incident_closed", "incident_opened"]


def test_a_pending_shrink_neither_counts_nor_breaks_a_failure_streak(
    h: Harness, site: PageServer
) -> None:
    site.set("/policy", Response(503))
    h.check("policy")
    h.check("policy")
    site.set("/policy", Response(body=_tenth(), headers=HTML))
    assert h.check("policy").outcome == "pending"
    site.set("/policy", Response(503))
    h.check("policy")
    assert alert_kinds(h) == ["incident_opened"]


def test_a_confirmed_shrink_becomes_a_version(h: Harness, site: PageServer) -> None:
    site.set("/policy", Response(body=_tenth(), headers=HTML))
    assert h.check("policy").outcome == "pending"
    confirmed = h.check("policy")
    assert (confirmed.outcome, confirmed.version) == ("changed", 2)
    assert alert_kinds(h) == ["change"]


# -- A/B flips ---------------------------------------------------------------------------------


def test_an_ab_flip_is_recognised_as_a_flip_not_news(h: Harness, site: PageServer) -> None:
    variant_b = policy_sections()
    variant_b[1].paragraphs.append("Some people see this extra sentence as part of a test.")
    a, b = fresh_page(GOOD), fresh_page(variant_b)
    outcomes = []
    for route in [b, a] * 4:
        site.set("/policy", route)
        outcomes.append(h.check("policy").outcome)
    # The first return waits for a second look; after that the page alternates: flips.
    assert outcomes == [
        "changed",
        "pending",
        "unchanged",
        "flip",
        "unchanged",
        "flip",
        "unchanged",
        "flip",
    ]
    assert h.repo.history.version_count("policy") == 2
    assert alert_kinds(h) == ["change"]  # the first sight of variant B; never again
    [flip] = [c for c in h.repo.checks.checks("policy") if c.outcome == "flip"][:1]
    assert flip.message == "same text as version 1: the page alternates between variants"

    site.set("/policy", fresh_page(CHANGED))
    assert h.check("policy").outcome == "changed"
    assert alert_kinds(h) == ["change", "change"]


# -- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault_id", ["gzip-bomb", "50-mb-streamed", "50-mb-announced"])
def test_huge_bodies_are_refused_in_bounded_memory(
    h: Harness, site: PageServer, fault_id: str
) -> None:
    [fault] = [f for f in FAULTS if f.id == fault_id]
    site.set("/policy", fault.route)
    tracemalloc.start()
    try:
        result = h.check("policy")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error_kind == "fetch"
    # The 10 MB cap plus a few decoding steps; never the 50 MB body or the 1 GiB bomb.
    assert peak < 32 * MB, f"peak {peak / MB:.1f} MB"


def test_a_wall_reached_by_a_redirect_says_where_it_was_sent(h: Harness, site: PageServer) -> None:
    site.set("/login", Response(body=LOGIN_WALL, headers=HTML))
    site.set("/policy", redirect("/login?next=/policy"))
    result = h.check("policy")
    assert result.error_kind == "login_wall"
    assert f"redirected to {site.url('/login?next=/policy')}" in (result.message or "")


@pytest.mark.parametrize(
    ("body", "charset", "expected"),
    [
        ("We’re — “here”".encode("cp1252"), "utf-8", "We’re — “here”"),
        ("café ".encode() + "naïve’".encode("cp1252"), "utf-8", "café naïve’"),
        ("café".encode("cp1252"), None, "café"),
        (b"bad \xff\xfe and \x81 bytes", "utf-8", "bad \ufffd\ufffd and \ufffd bytes"),
        ("café".encode("latin-1"), "iso-8859-1", "café"),
    ],
    ids=["cp1252-under-utf8", "mixed", "undeclared", "never-text", "declared-latin1"],
)
def test_bytes_that_are_not_utf8_are_read_as_windows_1252(
    body: bytes, charset: str | None, expected: str
) -> None:
    page = b"<html><body><main><p>" + body + b"</p></main></body></html>"
    doc = normalize_html(page, ExtractRules(min_chars=0), base_url=BASE, encoding=charset)
    assert doc.text == expected
