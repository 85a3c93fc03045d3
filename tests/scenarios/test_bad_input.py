"""Bad input: more config mistakes (one line, exit 2, nothing written), every CLI command that
takes a slug, a version or a file refusing a bad one in one line with exit 2, and fetched content
treated as hostile end to end (no header injection, no markup that runs in an email or the UI).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from bs4.element import Tag

from monitor.cli.main import main
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from monitor.web import create_app
from tests.config.test_config import BAD as CONFIG_CASES
from tests.pageserver import PageServer, Request, Response, Route
from tests.sitegen import Section, noisy_page, render_sections, sample_policy
from tests.smtpserver import SmtpServer
from tests.support import document, harness, write_config
from tests.webhookreceiver import WebhookReceiver
from tests.websupport import get

HTML = {"Content-Type": "text/html; charset=utf-8"}
GOOD_DOC = document("example-policy", "https://example.org/privacy")
MBOX = '[[channels]]\nname = "box"\nkind = "mbox"\npath = "alerts.mbox"\n'
HOOK = '[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "https://hooks.example.org/x"\n'

# -- config: the kinds test_config.py and test_alerting.py do not cover --------------------------

# (case id, config text, substrings the one-line message must contain)
MORE_CONFIG = [
    (
        "web-host-without-token",
        '[web]\nhost = "0.0.0.0"\n',
        ["web", "'0.0.0.0' needs web.token or web.token_env"],
    ),
    ("web-port", "[web]\nport = 70000\n", ["web.port", "70000"]),
    ("web-base-url", '[web]\nbase_url = "localhost:8080"\n', ["web.base_url", "localhost:8080"]),
    ("mbox-without-path", MBOX.replace('path = "alerts.mbox"\n', ""), ["channels[0].path"]),
    ("mbox-path-type", MBOX.replace('"alerts.mbox"', "7"), ["channels[0].path", "7"]),
    (
        "bad-significance",
        MBOX + 'min_significance = "huge"\n',
        ["channels[0].min_significance", "'huge'"],
    ),
    ("bad-digest", MBOX + 'digest = "weekly"\n', ["channels[0].digest", "'weekly'"]),
    ("bad-channel-timeout", HOOK + 'timeout = "later"\n', ["channels[0].timeout", "later"]),
    ("bad-webhook-url", HOOK.replace("https://", "hooks://"), ["channels[0].url", "hooks://"]),
    (
        "chat-url-twice",
        '[[channels]]\nname = "c"\nkind = "slack"\nurl = "https://hooks.example.org/s"\n'
        'url_env = "PW_SLACK"\n',
        ["channels[0]", "exactly one of url or url_env"],
    ),
    (
        "email-port",
        '[[channels]]\nname = "m"\nkind = "email"\nsmtp_host = "mail"\nsmtp_port = 70000\n'
        'from = "a@example.org"\nto = ["b@example.org"]\n',
        ["channels[0].smtp_port", "70000"],
    ),
    (
        "email-security",
        '[[channels]]\nname = "m"\nkind = "email"\nsmtp_host = "mail"\nsecurity = "tls1.3"\n'
        'from = "a@example.org"\nto = ["b@example.org"]\n',
        ["channels[0].security", "'tls1.3'"],
    ),
    (
        "email-without-from",
        '[[channels]]\nname = "m"\nkind = "email"\nsmtp_host = "mail"\nto = ["b@example.org"]\n',
        ["channels[0].from", "missing"],
    ),
    ("duplicate-channel", MBOX + MBOX, ["channels[1].name", "'box'", "channels[0]"]),
    ("misspelt-channel-key", MBOX + 'tpoics = ["research"]\n', ["channels[0].tpoics", "unknown"]),
    ("max-attempts-zero", "[alerts]\nmax_attempts = 0\n", ["alerts.max_attempts", "0"]),
    ("digest-hour", "[alerts]\ndigest_hour = 24\n", ["alerts.digest_hour", "24"]),
    ("incident-after-type", '[alerts]\nincident_after = "3"\n', ["alerts.incident_after", "'3'"]),
    ("fetch-timeout", '[fetch]\ntimeout = "soon"\n', ["fetch.timeout", "soon"]),
    ("retries", "[fetch]\nretries = -1\n", ["fetch.retries", "-1"]),
    ("max-bytes", "[fetch]\nmax_bytes = 0\n", ["fetch.max_bytes", "0"]),
    ("browser-concurrency", "[browser]\nconcurrency = 0\n", ["browser.concurrency", "0"]),
    ("flip-window", "[guards]\nflip_window = 99\n", ["guards.flip_window", "99"]),
    ("storage-url-type", "[storage]\nurl = 5\n", ["storage.url", "5"]),
    ("topic-exclude-type", '[[topics]]\nname = "t"\nterms = ["a"]\nexclude = "b"\n', ["exclude"]),
    (
        "doc-select-type",
        GOOD_DOC + "select = [1]\n",
        ["documents[0].select[0]", "1"],
    ),
]


@pytest.mark.parametrize(("text", "needles"), [pytest.param(t, n, id=i) for i, t, n in MORE_CONFIG])
def test_more_config_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needles: list[str]
) -> None:
    path = tmp_path / "config.toml"
    storage = "" if "[storage]" in text else '[storage]\nurl = "sqlite:///pw.db"\n'
    path.write_text(storage + text)
    code = main(["--config", str(path), "check"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert list(tmp_path.iterdir()) == [path], "nothing may be written for a bad config"


def test_config_mistakes_cover_well_over_twenty_kinds() -> None:
    ids = {case[0] for case in CONFIG_CASES} | {case[0] for case in MORE_CONFIG}
    assert len(ids) == len(CONFIG_CASES) + len(MORE_CONFIG) >= 40


# -- the command line -----------------------------------------------------------------------------


def _page(sections: list[Section], seed: int) -> str:
    return noisy_page(render_sections(sections), rng=random.Random(seed))


@pytest.fixture
def cfg(tmp_path: Path) -> Iterator[str]:
    """A config with one document holding two versions, and one mbox channel."""
    with PageServer() as site:
        site.set("/policy", Response(body=_page(sample_policy(), 1), headers=HTML))
        box = tmp_path / "alerts.mbox"
        channel = MBOX.replace('"alerts.mbox"', f'"{box}"')
        path = write_config(tmp_path, document("policy", site.url("/policy")) + channel)
        assert main(["--config", str(path), "check"]) == 0
        changed = sample_policy("We now use what you type to train our models.")
        site.set("/policy", Response(body=_page(changed, 2), headers=HTML))
        assert main(["--config", str(path), "check"]) == 0
        yield str(path)


USAGE = [
    (["check", "nope"], "unknown document 'nope' (known: policy)"),
    (["check", "policy", "nope"], "unknown document 'nope'"),
    (["validate", "nope"], "unknown document 'nope'"),
    (["history", "nope"], "unknown document 'nope'"),
    (["checks", "nope"], "unknown document 'nope'"),
    (["checks", "--limit", "0"], "--limit must be a positive number"),
    (["show", "nope"], "unknown document 'nope'"),
    (["show", "policy", "3"], "policy has no version 3 (versions are 1 to 2)"),
    (["show", "policy", "0"], "policy has no version 0 (versions are 1 to 2)"),
    (["show", "policy", "-1"], "'-1' is not a version number (like 2 or v2)"),
    (["show", "policy", "two"], "'two' is not a version number (like 2 or v2)"),
    (["diff", "nope"], "unknown document 'nope'"),
    (["diff", "policy", "1", "9"], "policy has no version 9 (versions are 1 to 2)"),
    (["diff", "policy", "7", "2"], "policy has no version 7 (versions are 1 to 2)"),
    (["diff", "policy", "0"], "policy has no version 0 (versions are 1 to 2)"),
    (["alerts", "retry", "999"], "there is no delivery 999"),
    (["alerts", "retry", "one"], "invalid int value: 'one'"),
    (["alerts", "list", "--limit", "-5"], "--limit must be a positive number"),
    (["alerts", "list", "--status", "lost"], "invalid choice: 'lost'"),
    (["test-alert", "nope"], "unknown channel 'nope' (known: box)"),
    (["compare", "/no/such/old.html", "/no/such/new.html"], "cannot read /no/such/old.html"),
    (["init"], "already exists; use --force to overwrite it"),
]


@pytest.mark.parametrize(("argv", "needle"), USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_a_bad_slug_version_or_file_is_one_line_and_exit_2(
    cfg: str, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    capsys.readouterr()
    code = main(["--config", cfg, *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err


def test_unreadable_files_are_one_line_and_exit_2(
    cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    good = tmp_path / "good.html"
    good.write_text(_page(sample_policy(), 3))
    cases = [
        (["--config", str(folder), "checks"], "cannot read the file"),
        (["--config", str(tmp_path / "missing.toml"), "checks"], "file not found"),
        (["compare", str(folder), str(good)], f"cannot read {folder}"),
        (["compare", str(good), str(tmp_path / "gone.md")], "cannot read"),
    ]
    for argv, needle in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert len(err.strip().splitlines()) == 1 and needle in err, (argv, err)


def test_compare_with_a_bad_selector_is_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "p.html"
    page.write_text(_page(sample_policy(), 4))
    code = main(["compare", str(page), str(page), "--select", "div[[x"])
    err = capsys.readouterr().err
    assert code == 2 and "invalid CSS selector 'div[[x'" in err and "unexpected" not in err, err


def test_init_into_a_missing_folder_is_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "config.toml"
    code = main(["--config", str(target), "init"])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot write {target}" in err and "unexpected" not in err, err


# -- fetched content is hostile --------------------------------------------------------------------

INJECTED_TITLE = "Privacy Policy\r\nBcc: victim@example.org\r\nX-Injected: yes"
PAYLOADS = (
    '<script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2"> and '
    "<!channel> and @everyone"
)


def hostile_sections(changed: bool) -> list[Section]:
    sections = sample_policy()
    # Escaped: the payloads are words on the page (what a careless or hostile page can show).
    words = PAYLOADS.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    sections[1].paragraphs.append(
        f"Partners may show {words} in their notices"
        + (", which we may use to train our models." if changed else ".")
    )
    sections[2].paragraphs.append(
        'You can <a href="javascript:window.__pwned=3">opt out here</a> or '
        '<a href=" JaVaScRiPt:window.__pwned=4">there</a>.'
    )
    sections.append(
        Section(
            "Line\r\nBreaks&#13;&#10;Bcc: victim@example.org\u2028X-Injected: yes\x85Done",
            ["A heading that tries to break a mail header, in every line-break spelling."],
        )
    )
    return sections


def hostile_route(changed: bool) -> Route:
    counter = iter(range(10**6))

    def route(_request: Request) -> Response:
        body = noisy_page(
            render_sections(hostile_sections(changed)).replace("&amp;#13;&amp;#10;", "&#13;&#10;"),
            title=INJECTED_TITLE,
            rng=random.Random(next(counter)),
        )
        return Response(body=body, headers=HTML)

    return route


def assert_inert(html: str) -> None:
    """No element or attribute in `html` can run code."""
    soup = BeautifulSoup(html, "lxml")
    runs = soup.find_all(["script", "iframe", "object", "embed", "svg", "math", "base"])
    assert runs == [], runs
    for tag in soup.find_all(True):
        assert isinstance(tag, Tag)
        for name, value in tag.attrs.items():
            assert not name.lower().startswith("on"), (tag.name, name)
            text = value if isinstance(value, str) else " ".join(value)
            assert not re.match(r"\s*javascript:", text, re.I), (tag.name, name, text)


def test_hostile_page_text_reaches_no_mail_header_and_runs_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        PageServer() as site,
        SmtpServer() as smtp,
        WebhookReceiver([200]) as slack,
    ):
        monkeypatch.setenv("PW_SLACK_URL", slack.url)
        channels = f"""
[[channels]]
name = "mail"
kind = "email"
smtp_host = "{smtp.host}"
smtp_port = {smtp.port}
security = "none"
from = "alerts@example.org"
to = ["desk@example.org"]
min_significance = "cosmetic"
[[channels]]
name = "chat"
kind = "slack"
url_env = "PW_SLACK_URL"
min_significance = "cosmetic"
"""
        site.set("/policy", hostile_route(changed=False))
        path = write_config(tmp_path, document("policy", site.url("/policy")) + channels)
        assert main(["--config", str(path), "check"]) == 0
        site.set("/policy", hostile_route(changed=True))
        assert main(["--config", str(path), "check"]) == 0

        [mail] = smtp.messages
        head = mail.data.split(b"\r\n\r\n", 1)[0].decode("ascii")
        names = [line.split(":", 1)[0] for line in head.split("\r\n") if not line[:1].isspace()]
        assert "Bcc" not in names and "X-Injected" not in names, head
        assert not re.search(r"\r\n(Bcc|X-Injected):", head, re.I), head
        message = mail.message
        html_part = message.get_body(("html",))
        assert html_part is not None
        html = html_part.get_content()
        assert_inert(html)
        assert "&lt;script&gt;" in html  # the words are shown, as words

        [post] = slack.requests
        text = json.dumps(json.loads(post.body))
        assert "<!channel>" not in text and "&lt;!channel&gt;" in text

        with harness(path) as h:
            app = create_app(h.settings, h.store.engine)
            [change] = h.repo.history.changes("policy")
            for page in (f"/changes/{change.id}", "/documents/policy/versions/2", "/"):
                response = get(app, page)
                assert response.status_code == 200, page
                assert_inert(response.text)


def test_line_breaks_in_any_spelling_never_survive_extraction() -> None:
    page = (
        "<html><head><title>A\r\nB\u2028C\x85D&#13;&#10;E</title></head><body><main>"
        "<h1>Head\rer\u2029X-Injected: 1</h1><p>" + "Body text. " * 30 + "</p></main></body></html>"
    )
    doc = normalize_html(page, ExtractRules(), base_url="https://example.org/")
    for text in [doc.title, *(block.text for block in doc.blocks)]:
        assert not re.search(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", text), repr(text)
