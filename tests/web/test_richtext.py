"""Links and table rows of the canonical text shown as HTML: alerts.richtext on its own (escaping,
hostile links, diffs across a link), then a real change of a page with a link and a table, as
the change view, the version page and the alert email show it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
from markupsafe import Markup, escape
from sqlalchemy import text

from alerts import render
from alerts.richtext import Run, Style
from alerts.richtext import render as rich
from monitor import config
from monitor.daemon.runtime import open_store
from monitor.web import create_app
from tests.pageserver import PageServer, Response
from tests.sitegen import policy_page
from tests.support import Harness, ManualClock, document, write_config

PLAIN = Style()
OPS = Style(ops={"-": ("<->", "</->"), "+": ("<+>", "</+>")}, mark=("<m>", "</m>"))


def test_a_link_becomes_an_anchor_with_everything_escaped() -> None:
    out = rich([Run("=", 'Read [the "rules" <b>](https://ex.test/a?x=1&y="2") now.')], PLAIN).html
    assert isinstance(out, Markup)
    assert out == (
        'Read <a href="https://ex.test/a?x=1&amp;y=&#34;2&#34;" rel="noopener noreferrer nofollow">'
        "the &#34;rules&#34; &lt;b&gt;</a> now."
    )


def test_only_http_links_are_links() -> None:
    for hostile in (
        "[click](javascript:alert(document.cookie))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        '[x](https://ex.test/" onmouseover="alert(1))',
        "[x](//evil.example/path)",
    ):
        out = rich([Run("=", hostile)], PLAIN).html
        assert "<a" not in out and out == escape(hostile), out


def test_rows_become_cells_and_html_in_cells_stays_text() -> None:
    row = "| Keystrokes <img src=x onerror=alert(1)> | [Safety](https://ex.test/s) |"
    out = rich([Run("=", row)], PLAIN)
    assert out.cells == (
        Markup("Keystrokes &lt;img src=x onerror=alert(1)&gt;"),
        Markup('<a href="https://ex.test/s" rel="noopener noreferrer nofollow">Safety</a>'),
    )
    assert out.html.startswith("<table><tr><td>Keystrokes &lt;img") and "<img" not in out.html


def test_a_cell_separator_inside_a_link_is_not_a_cell() -> None:
    out = rich([Run("=", "| a | [b | c](https://ex.test/) |")], PLAIN)
    assert out.cells is not None and len(out.cells) == 2


def test_diff_runs_keep_their_marks_inside_links_and_cells() -> None:
    runs = [
        Run("=", "| Clicks | [used for "),
        Run("-", "ads"),
        Run("+", "AI"),
        Run("=", "](https://ex.test/u) |"),
    ]
    out = rich(runs, OPS)
    assert out.cells == (
        Markup("Clicks"),
        Markup(
            '<a href="https://ex.test/u" rel="noopener noreferrer nofollow">used for <->ads</-><+>AI</+></a>'
        ),
    )


def test_a_link_whose_address_changed_is_shown_as_the_diff() -> None:
    runs = [
        Run("=", "[Settings](https://ex.test/"),
        Run("-", "old"),
        Run("+", "new"),
        Run("=", ")"),
    ]
    out = rich(runs, OPS).html
    assert "<a" not in out and "<->old</-><+>new</+>" in out
    added = rich([Run("+", "[new](https://ex.test/n)")], OPS).html
    assert added == '<a href="https://ex.test/n" rel="noopener noreferrer nofollow"><+>new</+></a>'


PAGE_EXTRA = """
<h2>What we collect and why</h2>
<table><tr><th>Data</th><th>Use</th></tr>
<tr><td>Keystrokes &lt;img src=x onerror=alert(1)&gt;</td><td>{use}</td></tr>
<tr><td>Mouse movements</td><td>Fraud detection</td></tr></table>
<p>Change this in <a href="https://www.example-social.test/settings/{setting}">{label}</a>. Or
read [click here](javascript:alert(document.cookie)) as the words of this page.</p>
"""


def page(use: str, setting: str, label: str) -> str:
    extra = PAGE_EXTRA.format(use=use, setting=setting, label=label)
    return policy_page().replace("</main>", extra + "</main>")


def test_a_real_change_shows_links_and_tables(tmp_path: Path) -> None:
    with PageServer() as site:
        channel = '[[channels]]\nname = "desk"\nkind = "mbox"\npath = "alerts.mbox"\nmin_significance = "cosmetic"\n'
        path = write_config(tmp_path, document("policy", site.url("/policy")) + channel)
        settings = config.load(path)
        store = open_store(settings)
        try:
            h = Harness(settings, store, ManualClock())
            site.set(
                "/policy", Response(body=page("Safety features", "privacy", "Privacy settings"))
            )
            assert h.check("policy").outcome == "new"
            site.set("/policy", Response(body=page("Training AI models", "privacy", "AI settings")))
            assert h.check("policy").outcome == "changed"
            found = store.repo.history.version("policy", 2)
            assert found is not None
            latest = found.text
            assert "| Keystrokes <img src=x onerror=alert(1)> | Training AI models |" in latest
            assert "[AI settings](https://www.example-social.test/settings/privacy)" in latest
            change = store.repo.history.changes("policy")[0].id
            app = create_app(settings, store.engine, clock=h.clock)
            for mode in ("inline", "side"):
                view = _get(app, f"/changes/{change}?mode={mode}").text
                _assert_rendered(view)
            version = _get(app, "/documents/policy/versions/2").text
            table = re.search(r'<table class="cells">.*?</table>', version, re.S)
            assert table is not None and table.group(0).count("<tr>") == 3  # one table, 3 rows
            assert "<td>Mouse movements</td><td>Fraud detection</td>" in table.group(0)
            _assert_rendered(version)
            with store.engine.connect() as db:
                payload = db.execute(
                    text("SELECT payload FROM alerts WHERE kind = 'change'")
                ).scalar_one()
            message = render.render(json.loads(payload), idempotency_key="k")
            _assert_rendered(message.html, '<td style="border:1px solid')
            # The text part keeps the canonical form.
            assert "Keystrokes <img src=x onerror=alert(1)> | [-Safety" in message.text
        finally:
            store.engine.dispose()


def _assert_rendered(page: str, table: str = '<table class="cells">') -> None:
    link = '<a href="https://www.example-social.test/settings/privacy" rel="noopener noreferrer'
    assert link + ' nofollow"' in page
    assert "Keystrokes &lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert table in page
    assert "javascript:" not in re.sub(
        r"\[click here\]\(javascript:alert\(document\.cookie\)\)", "", page
    )
    assert 'href="javascript' not in page.lower()


def _get(app: object, path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.get(path)

    return asyncio.run(run())


def test_words_of_one_kind_share_one_wrapper() -> None:
    runs = [Run("=", "we "), Run("+", "may "), Run("+", "train", mark=True), Run("+", " on it")]
    assert rich(runs, OPS).html == "we <+>may <m>train</m> on it</+>"
