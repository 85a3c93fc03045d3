"""Pages that render with JavaScript: plain HTTP sees an empty shell (a check error, never a
version), the browser fetcher sees the text, and `auto` escalates and remembers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from monitor.fetch.browser import find_chromium
from tests.pageserver import PageServer, Response
from tests.sitegen import render_sections, sample_policy
from tests.support import Harness, document, harness, write_config

pytestmark = pytest.mark.skipif(
    find_chromium(None) is None, reason="no Chromium found (Debian package chromium)"
)

HTTP_ACCEPT_ENCODING = "gzip, deflate"  # what the HTTP fetcher sends; Chromium sends more


def js_page() -> str:
    """A shell whose policy text is put in place by a script, like the real Meta pages."""
    body = render_sections(sample_policy()).replace("`", "\\`")
    return f"""<!DOCTYPE html><html><head><title>Privacy Policy</title></head>
<body><div id="root"></div>
<noscript>You need to enable JavaScript to run this app.</noscript>
<script>
  setTimeout(() => {{ document.getElementById("root").innerHTML = `<h1>Privacy Policy</h1>{body}`; }}, 50);
</script>
<script>{"/* bundle */ " * 2000}</script>
</body></html>"""


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        server.set("/js", Response(body=js_page()))
        yield server


@contextmanager
def setup(tmp_path: Path, site: PageServer, fetcher: str) -> Iterator[Harness]:
    docs = document("policy", site.url("/js"), fetcher=fetcher, select=["#root"])
    with harness(write_config(tmp_path, docs)) as h:
        yield h


def test_http_sees_an_empty_shell_and_records_no_version(tmp_path: Path, site: PageServer) -> None:
    with setup(tmp_path, site, "http") as h:
        result = h.check("policy")
        assert (result.outcome, result.error_kind, result.fetcher) == (
            "failed",
            "empty_shell",
            "http",
        )
        assert h.repo.history.version_count("policy") == 0


def test_browser_gets_the_rendered_text(tmp_path: Path, site: PageServer) -> None:
    with setup(tmp_path, site, "browser") as h:
        result = h.check("policy")
        assert (result.outcome, result.fetcher) == ("new", "browser")
        text = h.repo.history.latest_version("policy").text
        assert "# How do we use your information?" in text
        assert h.check("policy").outcome == "unchanged"


def test_auto_escalates_and_remembers(tmp_path: Path, site: PageServer) -> None:
    with setup(tmp_path, site, "auto") as h:
        first = h.check("policy")
        assert (first.outcome, first.fetcher) == ("new", "browser")
        assert any(r.headers.get("accept-encoding") == HTTP_ACCEPT_ENCODING for r in site.requests)
        site.requests.clear()
        second = h.check("policy")
        assert (second.outcome, second.fetcher) == ("unchanged", "browser")
        assert not any(
            r.headers.get("accept-encoding") == HTTP_ACCEPT_ENCODING for r in site.requests
        )
        assert [c.fetcher for c in h.repo.checks.checks("policy")] == ["browser", "browser"]


def test_auto_stays_on_http_when_http_works(tmp_path: Path, site: PageServer) -> None:
    site.set(
        "/js",
        Response(
            body="<html><body><main>" + render_sections(sample_policy()) + "</main></body></html>"
        ),
    )
    docs = document("policy", site.url("/js"), fetcher="auto")
    with harness(write_config(tmp_path, docs)) as h:
        assert (h.check("policy").fetcher, h.check("policy").fetcher) == ("http", "http")


def test_validate_reports_the_fetcher_and_hints(
    tmp_path: Path, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from monitor.cli.main import main

    docs = document("shell", site.url("/js"), fetcher="http", select=["#root"])
    docs += document("auto", site.url("/js"), fetcher="auto", select=["#root"])
    docs += document("miss", site.url("/js"), fetcher="browser", select=["#gone"])
    path = write_config(tmp_path, docs, extra="")
    path.write_text(path.read_text() + '\n[browser]\ntimeout = "3s"\n')
    assert main(["--config", str(path), "validate", "--json"]) == 1
    reports = {r["document"]: r for r in json.loads(capsys.readouterr().out)}
    assert reports["shell"]["error"]["kind"] == "empty_shell"
    assert 'fetcher = "browser"' in reports["shell"]["hint"]
    assert reports["auto"]["ok"] and reports["auto"]["fetcher"] == "browser"
    assert reports["auto"]["identical"] is True and reports["auto"]["chars"] > 200
    assert reports["miss"]["ok"] is False and reports["miss"]["fetcher"] == "browser"
    assert (
        reports["miss"]["selector_matched"] is False and "never matched" in reports["miss"]["hint"]
    )
