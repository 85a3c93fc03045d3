"""The browser fetcher with the system Chromium against a real local server: rendered text, time
limits, renderer and browser crashes, blocked resources, fresh contexts, statuses and the size cap.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import BrowserSettings
from monitor.errors import ExtractError, FetchError
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from monitor.fetch import browser as browser_module
from monitor.fetch.browser import DISABLED_FEATURES, BrowserFetcher, find_chromium
from monitor.fetch.http import USER_AGENT, FetchOptions, FetchResult, HttpFetcher
from tests.pageserver import PageServer, Request, Response, Route, redirect
from tests.sitegen import render_sections, sample_policy

pytestmark = pytest.mark.skipif(
    find_chromium(None) is None,
    reason="no Chromium found: install the Debian package chromium to run the browser tests",
)

TIMEOUT = 5.0  # generous: a good page must not fail on a busy machine
SHORT = 1.0  # for the pages that never finish
SETTLE = 0.15


def browser_settings(**keys: object) -> BrowserSettings:
    """Settings as config.toml would give them (durations are strings there)."""
    return BrowserSettings.model_validate(keys)


SETTINGS = browser_settings(timeout=f"{TIMEOUT:g}s", settle=f"{SETTLE * 1000:g}ms", concurrency=2)
SHORT_SETTINGS = browser_settings(timeout=f"{SHORT:g}s", settle=f"{SETTLE * 1000:g}ms")
ACCEPT_LANGUAGE = "en-GB,en;q=0.8"
MAX_BYTES = 2_000_000
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
POLICY_HEADING = "How do we use your information?"


class StepClock:
    """A clock that moves one second each time it is read: results say when they were taken."""

    def __init__(self) -> None:
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return START + timedelta(seconds=self.reads)

    def monotonic(self) -> float:
        self.reads += 1
        return float(self.reads)

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the browser fetcher never sleeps on the clock")


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for the module, so one browser serves most tests."""
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture(scope="module")
def clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="module")
def fetcher(runner: asyncio.Runner, clock: StepClock) -> Iterator[BrowserFetcher]:
    browser = new_fetcher(clock=clock)
    yield browser
    runner.run(browser.aclose())


@pytest.fixture(scope="module")
def short(runner: asyncio.Runner) -> Iterator[BrowserFetcher]:
    """A fetcher with a short time limit, for pages that never finish."""
    browser = new_fetcher(SHORT_SETTINGS)
    yield browser
    runner.run(browser.aclose())


@pytest.fixture(scope="module")
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def new_fetcher(
    settings: BrowserSettings = SETTINGS, clock: StepClock | None = None
) -> BrowserFetcher:
    return BrowserFetcher(
        settings,
        user_agent=USER_AGENT,
        accept_language=ACCEPT_LANGUAGE,
        clock=clock,
        max_bytes=MAX_BYTES,
    )


def fetch_error(
    runner: asyncio.Runner, fetcher: BrowserFetcher, url: str, wait_for: tuple[str, ...] = ()
) -> FetchError:
    with pytest.raises(FetchError) as info:
        runner.run(fetcher.fetch(url, wait_for=wait_for))
    return info.value


def open_contexts(fetcher: BrowserFetcher) -> int:
    browser = fetcher._browser  # peeking: a context left open would leak memory for ever
    return len(browser.contexts) if browser is not None else 0


# -- pages -------------------------------------------------------------------------------------


def policy_html() -> str:
    return render_sections(sample_policy())


def js_shell(trigger: str) -> str:
    """An app shell whose policy is put in place by a script; `trigger` calls fill()."""
    body = policy_html().replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
    return f"""<!DOCTYPE html><html><head><title>Privacy Policy</title></head>
<body><div id="root"></div>
<noscript>You need to enable JavaScript to run this app.</noscript>
<script>
const fill = () => {{ document.getElementById("root").innerHTML = `<h1>Privacy Policy</h1>{body}`; }};
{trigger}
</script></body></html>"""


def plain_page(text: str = "Plain policy text.", script: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>Plain</title></head><body><main id='root'><p>{text}</p></main><script>{script}</script></body></html>"


def signal_route(event: threading.Event) -> Route:
    def route(_request: Request) -> Response:
        event.set()
        return Response(body="{}", headers={"Content-Type": "application/json"})

    return route


# -- the browser's processes ------------------------------------------------------------------


def processes(runner: asyncio.Runner, fetcher: BrowserFetcher) -> dict[int, str]:
    return runner.run(fetcher.processes())


def browser_pid(runner: asyncio.Runner, fetcher: BrowserFetcher) -> int:
    (pid,) = [pid for pid, kind in processes(runner, fetcher).items() if kind == "browser"]
    return pid


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trigger",
    ['window.addEventListener("load", fill);', "setTimeout(fill, 300);"],
    ids=["after-load", "after-300ms"],
)
def test_script_rendered_text_is_the_document(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer, trigger: str
) -> None:
    path = f"/shell-{len(trigger)}"
    site.set(path, Response(body=js_shell(trigger)))
    url = site.url(path)
    rules = ExtractRules(select=("#root",))

    result = runner.run(fetcher.fetch(url, wait_for=("#root",)))

    assert POLICY_HEADING.encode() in result.body
    assert (result.status, result.fetcher, result.content_type, result.charset) == (
        200,
        "browser",
        "text/html",
        "utf-8",
    )
    assert result.url == result.final_url == url
    document = normalize_html(result.body, rules, base_url=result.final_url)
    assert f"## {POLICY_HEADING}" in document.text
    assert document.title == "Privacy Policy"

    async def over_http() -> FetchResult:
        async with HttpFetcher(FetchOptions(retries=0, min_gap=0)) as http:
            return await http.fetch(url)

    plain = runner.run(over_http())
    with pytest.raises(ExtractError) as info:
        normalize_html(plain.body, rules, base_url=url)
    assert info.value.kind == "empty_shell"
    assert open_contexts(fetcher) == 0


def test_without_selectors_the_page_is_read_once_the_network_is_idle(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    # The text comes from a second request: only a wait for that request's answer sees it.
    site.set(
        "/late-data",
        Response(
            body='{"text": "Fetched after the page loaded."}',
            headers={"Content-Type": "application/json"},
            delay_headers=0.3,
        ),
    )
    script = 'fetch("/late-data").then((r) => r.json()).then((d) => { document.getElementById("root").textContent = d.text; });'
    site.set("/idle", Response(body=plain_page("", script)))

    result = runner.run(fetcher.fetch(site.url("/idle")))

    assert b"Fetched after the page loaded." in result.body


def test_late_paragraphs_are_waited_for_until_the_page_is_quiet(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    # Paragraphs keep arriving after the selector matched, each sooner than `settle` after the
    # last, the final one well past `settle` after the match: a fixed pause would miss it.
    step = SETTLE * 1000 * 0.6
    late = "\n".join(
        f'setTimeout(() => document.getElementById("root").insertAdjacentHTML("beforeend", "<p>Late paragraph {n}.</p>"), {n * step:.0f});'
        for n in range(1, 9)
    )
    site.set("/late", Response(body=plain_page("First paragraph.", late)))

    result = runner.run(fetcher.fetch(site.url("/late"), wait_for=("#root",)))

    assert all(f"Late paragraph {n}.".encode() in result.body for n in range(1, 9))


def test_a_page_that_never_stops_changing_is_taken_at_the_deadline(
    runner: asyncio.Runner, short: BrowserFetcher, site: PageServer
) -> None:
    ticker = 'let n = 0; setInterval(() => { document.getElementById("tick").textContent = String(++n); }, 50);'
    body = plain_page("A policy with a ticking clock.", ticker).replace(
        "</main>", "<p id='tick'>0</p></main>"
    )
    site.set("/ticker", Response(body=body))
    started = time.monotonic()

    result = runner.run(short.fetch(site.url("/ticker"), wait_for=("#root",)))

    assert b"A policy with a ticking clock." in result.body
    assert time.monotonic() - started < SHORT + 3


@pytest.mark.parametrize(
    ("select", "waiting"),
    [(("#never",), "'#never'"), ((), "the network to go idle")],
    ids=["selector-never-matches", "never-network-idle"],
)
def test_a_page_that_never_finishes_times_out_and_the_next_fetch_works(
    runner: asyncio.Runner,
    short: BrowserFetcher,
    site: PageServer,
    select: tuple[str, ...],
    waiting: str,
) -> None:
    poll = 'setInterval(() => fetch("/poll?" + Date.now()), 100);'
    site.set("/poll", Response(body="{}", headers={"Content-Type": "application/json"}))
    site.set("/busy", Response(body=plain_page("Still loading.", poll)))
    site.set("/good", Response(body=plain_page("A good page.")))
    started = time.monotonic()

    error = fetch_error(runner, short, site.url("/busy"), wait_for=select)

    assert time.monotonic() - started < SHORT + 3
    assert (error.kind, error.transient) == ("fetch", True)
    assert (
        error.message
        == f"the page did not finish rendering within {SHORT:g} s (waiting for {waiting})"
    )
    assert len(site.requests_to("/poll")) >= 3  # the page was really polling all along
    assert open_contexts(short) == 0
    assert b"A good page." in runner.run(short.fetch(site.url("/good"), wait_for=("#root",))).body


def test_a_server_that_never_answers_times_out(
    runner: asyncio.Runner, short: BrowserFetcher, site: PageServer
) -> None:
    site.set("/silent", Response(body="late", delay_headers=30))

    error = fetch_error(runner, short, site.url("/silent"))

    assert (
        error.message
        == f"the page did not finish rendering within {SHORT:g} s (waiting for the first response)"
    )
    assert error.transient


def test_a_renderer_crash_is_a_fetch_error_and_the_browser_carries_on(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    loaded = threading.Event()
    site.set("/crash-loaded", signal_route(loaded))
    site.set("/crash", Response(body=plain_page("About to crash.", 'fetch("/crash-loaded");')))
    site.set("/after-crash", Response(body=plain_page("Rendered after the crash.")))
    runner.run(fetcher.fetch(site.url("/after-crash"), wait_for=("#root",)))
    browser = browser_pid(runner, fetcher)

    async def crash_it() -> FetchError:
        task = asyncio.create_task(fetcher.fetch(site.url("/crash"), wait_for=("#never",)))
        assert await asyncio.to_thread(loaded.wait, 10)
        # Every page renderer dies, as the kernel's OOM killer would do it (not the browser's
        # own UI renderer, which headless Chromium keeps too).
        victims = [
            pid
            for pid, kind in (await fetcher.processes()).items()
            if kind == "renderer" and "--top-chrome-webui" not in command_line(pid)
        ]
        assert victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(FetchError) as info:
            await task
        return info.value

    started = time.monotonic()
    error = runner.run(crash_it())

    assert time.monotonic() - started < TIMEOUT  # the crash ends the wait, not the time limit
    assert error.message == f"the browser's renderer crashed while loading {site.url('/crash')}"
    assert (error.kind, error.transient) == ("fetch", True)
    assert open_contexts(fetcher) == 0
    result = runner.run(fetcher.fetch(site.url("/after-crash"), wait_for=("#root",)))
    assert b"Rendered after the crash." in result.body
    assert browser_pid(runner, fetcher) == browser  # the same browser carried on


def test_a_dead_browser_is_relaunched_by_the_next_fetch(
    runner: asyncio.Runner, site: PageServer
) -> None:
    loaded = threading.Event()
    site.set("/hang-loaded", signal_route(loaded))
    site.set("/hang", Response(body=plain_page("Hanging.", 'fetch("/hang-loaded");')))
    site.set("/alive", Response(body=plain_page("The browser is alive.")))
    fetcher = new_fetcher(browser_settings(timeout="20s", settle="0s"))

    def fetch_alive() -> bytes:
        return runner.run(fetcher.fetch(site.url("/alive"), wait_for=("#root",))).body

    async def kill_during_fetch(browser: int) -> FetchError:
        task = asyncio.create_task(fetcher.fetch(site.url("/hang"), wait_for=("#never",)))
        assert await asyncio.to_thread(loaded.wait, 10)
        os.kill(browser, signal.SIGKILL)
        with pytest.raises(FetchError) as info:
            await task
        return info.value

    try:
        assert b"The browser is alive." in fetch_alive()
        first = browser_pid(runner, fetcher)
        os.kill(first, signal.SIGKILL)  # between fetches

        assert b"The browser is alive." in fetch_alive()
        second = browser_pid(runner, fetcher)
        assert second != first

        error = runner.run(kill_during_fetch(second))
        assert (error.kind, error.transient) == ("fetch", True)
        assert site.url("/hang") in error.message

        assert b"The browser is alive." in fetch_alive()
        third = browser_pid(runner, fetcher)
        assert third not in (first, second)
        assert not alive(first) and not alive(second)
        everything = processes(runner, fetcher)
    finally:
        runner.run(fetcher.aclose())
    assert not [pid for pid in everything if alive(pid)]  # aclose leaves nothing behind


def test_images_media_fonts_and_web_sockets_are_blocked(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    page = f"""<!DOCTYPE html><html><head><title>Assets</title>
<style>@font-face {{ font-family: Policy; src: url("/asset/font.woff2"); }} p {{ font-family: Policy; }}</style>
<link rel="stylesheet" href="/asset/style.css"></head>
<body><main id="root"><p>A page with pictures.</p>
<img src="/asset/picture.png" alt=""><video src="/asset/clip.mp4" autoplay muted></video>
<audio src="/asset/sound.mp3" autoplay></audio>
<div style="background-image: url('/asset/background.png')">Decorated.</div></main>
<script>fetch("/asset/data.json"); try {{ new WebSocket("ws://127.0.0.1:{site.port}/asset/socket"); }} catch (e) {{}}</script>
</body></html>"""
    site.set("/assets", Response(body=page))
    site.set(
        "/asset/style.css",
        Response(body="main { color: #222 }", headers={"Content-Type": "text/css"}),
    )
    site.set("/asset/data.json", Response(body="{}", headers={"Content-Type": "application/json"}))

    def seen() -> set[str]:
        return {r.route for r in site.requests if r.route.startswith("/asset/")}

    async def without_blocking() -> None:
        # The control: the same page in a plain context of the same browser asks for them all.
        browser = fetcher._browser
        assert browser is not None
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(site.url("/assets"), wait_until="networkidle")
        finally:
            await context.close()

    result = runner.run(fetcher.fetch(site.url("/assets")))

    assert b"A page with pictures." in result.body
    assert seen() == {"/asset/style.css", "/asset/data.json"}
    runner.run(without_blocking())
    assert seen() >= {
        "/asset/font.woff2",
        "/asset/picture.png",
        "/asset/background.png",
        "/asset/clip.mp4",
        "/asset/sound.mp3",
        "/asset/socket",
    }


def test_every_fetch_starts_with_no_cookies_or_storage(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    script = """document.cookie = "script_cookie=1; path=/";
const before = localStorage.getItem("seen");
localStorage.setItem("seen", "yes");
document.getElementById("root").insertAdjacentHTML("beforeend", "<p>storage before: " + before + "</p>");"""
    headers = [("Set-Cookie", "server_cookie=secret; Path=/"), ("X-Policy-Version", "7")]
    site.set("/cookies", Response(body=plain_page("Cookie page.", script), headers=headers))
    url = site.url("/cookies")

    first = runner.run(fetcher.fetch(url, wait_for=("#root p + p",)))
    second = runner.run(fetcher.fetch(url, wait_for=("#root p + p",)))

    requests = site.requests_to("/cookies")
    assert len(requests) == 2
    assert "cookie" not in requests[1].headers
    assert b"storage before: null" in first.body
    assert b"storage before: null" in second.body
    assert "set-cookie" not in second.headers
    assert second.headers["x-policy-version"] == "7"


def test_status_headers_final_url_and_the_request_headers(
    runner: asyncio.Runner, fetcher: BrowserFetcher, clock: StepClock, site: PageServer
) -> None:
    site.set("/old-policy", redirect("/new-policy", 301))
    site.set(
        "/new-policy",
        Response(body=plain_page("Moved here."), headers=[("X-Trace", "a"), ("X-Trace", "b")]),
    )
    reads = clock.reads

    result = runner.run(
        fetcher.fetch(
            site.url("/old-policy"), etag='"v1"', last_modified="Sun, 01 Mar 2026 08:00:00 GMT"
        )
    )

    assert (result.url, result.final_url) == (site.url("/old-policy"), site.url("/new-policy"))
    assert result.status == 200
    assert result.headers["x-trace"] == "a, b"
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert all(name == name.lower() for name in result.headers)
    # Time is the injected clock's (each read moves it one second).
    assert result.fetched_at == START + timedelta(seconds=reads + 1)
    assert result.elapsed_ms == 1000
    sent = site.requests_to("/new-policy")[-1].headers
    assert sent["accept-language"] == ACCEPT_LANGUAGE
    assert sent["user-agent"] == USER_AGENT
    assert "headless" not in sent.get("sec-ch-ua", "").lower()
    assert "if-none-match" not in sent
    assert "if-modified-since" not in sent


@pytest.mark.parametrize(
    ("response", "kind", "status", "transient"),
    [
        (Response(404, plain_page("No such page.")), "http_status", 404, False),
        (
            Response(503, plain_page("Down."), headers={"Retry-After": "120"}),
            "http_status",
            503,
            True,
        ),
        (Response(403, plain_page("Forbidden.")), "http_status", 403, False),
    ],
    ids=["404", "503", "403-refusal"],
)
def test_error_statuses_are_fetch_errors(
    runner: asyncio.Runner,
    fetcher: BrowserFetcher,
    site: PageServer,
    response: Response,
    kind: str,
    status: int,
    transient: bool,
) -> None:
    path = f"/status-{status}-{kind}"
    site.set(path, response)
    started = time.monotonic()

    error = fetch_error(runner, fetcher, site.url(path), wait_for=("#root",))

    assert (error.kind, error.status, error.transient) == (kind, status, transient)
    assert site.url(path) in error.message
    assert error.retry_after == (120.0 if status == 503 else None)
    assert time.monotonic() - started < TIMEOUT  # an error status does not wait for rendering
    assert open_contexts(fetcher) == 0


def test_a_challenge_that_lets_the_browser_through_gives_the_page(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    # The challenge page matches the selector too, and passes later than `settle`: only the
    # page behind it may be taken.
    challenge = plain_page(
        "Checking your browser before you can read this.",
        f'document.cookie = "passed=1; path=/"; setTimeout(() => location.reload(), {SETTLE * 3000:.0f});',
    )

    def route(request: Request) -> Response:
        if "passed=1" in request.headers.get("cookie", ""):
            return Response(body=plain_page("The policy behind the check."))
        return Response(403, challenge)

    site.set("/guarded", route)

    result = runner.run(fetcher.fetch(site.url("/guarded"), wait_for=("#root p",)))

    assert result.status == 200
    assert b"The policy behind the check." in result.body
    assert len(site.requests_to("/guarded")) == 2


def test_a_challenge_that_never_lets_the_browser_through_is_a_challenge_error(
    runner: asyncio.Runner, short: BrowserFetcher, site: PageServer
) -> None:
    site.set("/wall", Response(403, plain_page("Checking your browser before you can read this.")))
    started = time.monotonic()

    error = fetch_error(runner, short, site.url("/wall"), wait_for=("#root",))

    assert time.monotonic() - started < SHORT + 3
    assert (error.kind, error.status, error.transient) == ("challenge", 403, False)
    assert (
        error.message
        == f"HTTP 403 from {site.url('/wall')} is a bot challenge page, not the document"
    )


def test_navigation_failures_are_fetch_errors(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{free.getsockname()[1]}/"
    download = {"Content-Type": "application/octet-stream", "Content-Disposition": "attachment"}
    site.set("/download", Response(body=b"\x00" * 100, headers=download))

    refused = fetch_error(runner, fetcher, closed)
    downloaded = fetch_error(runner, fetcher, site.url("/download"))

    assert refused.message == f"could not load {closed}: net::ERR_CONNECTION_REFUSED"
    assert refused.transient
    assert downloaded.message == f"{site.url('/download')} is a file download, not a page"
    assert not downloaded.transient
    assert open_contexts(fetcher) == 0


def test_a_rendered_page_over_max_bytes_is_refused(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    grow = f'document.getElementById("root").insertAdjacentHTML("beforeend", "<p>" + "x".repeat({MAX_BYTES}) + "</p>");'
    site.set("/huge", Response(body=plain_page("Small on the wire.", grow)))

    error = fetch_error(runner, fetcher, site.url("/huge"), wait_for=("#root",))

    assert error.message == f"response body of {site.url('/huge')} exceeds the 2 MB limit"
    assert error.kind == "fetch"


def test_concurrent_fetches_are_limited(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    active, peak, lock = 0, 0, threading.Lock()
    pair, hold = threading.Barrier(2, timeout=20), threading.Event()

    def slow(_request: Request) -> Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        pair.wait()  # two pages are in flight together, whatever the machine's load
        hold.wait(0.1)  # and the server is slow to answer them (the event is never set)
        with lock:
            active -= 1
        return Response(body=plain_page("Slowly served."))

    site.set("/slow", slow)

    async def four() -> list[FetchResult]:
        return await asyncio.gather(
            *(fetcher.fetch(site.url(f"/slow?n={n}"), wait_for=("#root",)) for n in range(4))
        )

    results = runner.run(four())

    assert all(b"Slowly served." in r.body for r in results)
    assert peak == SETTINGS.concurrency


def test_chromium_runs_with_the_quiet_flags(
    runner: asyncio.Runner, fetcher: BrowserFetcher, site: PageServer
) -> None:
    site.set("/flags", Response(body=plain_page("Flags.")))
    runner.run(fetcher.fetch(site.url("/flags"), wait_for=("#root",)))
    pid = browser_pid(runner, fetcher)
    args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")

    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-domain-reliability",
        "--metrics-recording-only",
        "--disable-gpu",
        "--disable-extensions",
    ):
        assert flag in args
    assert [a for a in args if a.startswith("--headless")][-1] == "--headless=new"
    assert ("--no-sandbox" in args) == (os.geteuid() == 0)
    # Chromium keeps only the last --disable-features: it must hold every earlier one's names.
    lists = [
        a.removeprefix("--disable-features=").split(",")
        for a in args
        if a.startswith("--disable-features=")
    ]
    assert set(lists[-1]) == set(DISABLED_FEATURES)
    assert set().union(*lists[:-1]) <= set(lists[-1])
    assert {"Translate", "OptimizationHints", "MediaRouter"} <= set(lists[-1])


def test_a_missing_chromium_is_a_permanent_fetch_error(
    runner: asyncio.Runner, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-chromium")
    fetcher = new_fetcher(browser_settings(executable=missing))

    error = fetch_error(runner, fetcher, "http://127.0.0.1:9/")

    assert (error.kind, error.transient) == ("fetch", False)
    assert missing in error.message
    runner.run(fetcher.aclose())


def test_no_chromium_anywhere_says_what_to_install(
    runner: asyncio.Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(browser_module, "_FALLBACK_CHROMIUM", str(tmp_path / "chromium"))
    assert find_chromium(None) is None
    fetcher = new_fetcher()

    error = fetch_error(runner, fetcher, "http://127.0.0.1:9/")

    assert error.message == (
        "no Chromium found (install the Debian package chromium, or set [browser] executable)"
    )
    assert (error.kind, error.transient) == ("fetch", False)
    runner.run(fetcher.aclose())


def test_find_chromium() -> None:
    found = find_chromium(None)
    assert found is not None and os.access(found, os.X_OK)
    assert find_chromium(found) == found
    assert find_chromium("/nonexistent/chromium") is None
    assert find_chromium("chromium-that-does-not-exist") is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "chrome://crash", "ftp://127.0.0.1/x"])
def test_only_web_urls_are_fetched(
    runner: asyncio.Runner, fetcher: BrowserFetcher, url: str
) -> None:
    error = fetch_error(runner, fetcher, url)

    assert error.message == f"only http and https URLs can be fetched, not {url!r}"
    assert not error.transient
