"""A real browser (Playwright driving the system Chromium) against the app served by uvicorn on
127.0.0.1: browse from the dashboard to a change and see the inserted words marked, and check
that script and event-handler payloads from a fixture page stay text.

Screenshots go to tests/artifacts/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.web.server import bind, server_for
from tests.websupport import XSS_SCRIPT, History, history


def find_chromium() -> str | None:
    for candidate in (
        shutil.which("chromium"),
        "/usr/bin/chromium",
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (install the Debian package `chromium`, or put it on PATH)",
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with history(tmp_path_factory.mktemp("browser")) as h:
        yield h


@pytest.fixture(scope="module")
def base_url(recorded: History) -> Iterator[str]:
    sock = bind("127.0.0.1", 0)
    server = server_for(recorded.app())
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    # Playwright's sync API keeps an event loop running in this thread: the history, recorded
    # with asyncio.run, must be made before it starts (hence the dependency on base_url).
    from playwright.sync_api import sync_playwright

    args = [*ARGS, "--no-sandbox"] if os.geteuid() == 0 else ARGS
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.console_messages = []
    tab.dialogs = []
    tab.on("console", lambda message: tab.console_messages.append(message.text))
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n", encoding="utf-8")
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_from_dashboard_to_a_change_with_marked_words(page: Any, base_url: str) -> None:
    page.goto(base_url + "/")
    screenshot(page, "dashboard.png")
    page.get_by_role("link", name="Policy", exact=True).click()
    page.wait_for_url(f"{base_url}/documents/policy")
    assert page.locator("li.entry.technical").count() == 1
    screenshot(page, "timeline.png")
    page.get_by_role("link", name="changed since version 1").click()
    page.wait_for_url(f"{base_url}/changes/*")
    inserted = page.locator("ins")
    assert "may" in " ".join(inserted.all_inner_texts())
    underline = inserted.first.evaluate("e => getComputedStyle(e).textDecorationLine")
    strike = page.locator("del").first.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "underline" in underline and "line-through" in strike
    # The words "[added: ...]" are there for screen readers, but take no room on screen.
    hidden = page.locator("ins .sr").first.evaluate("e => e.getBoundingClientRect().width")
    assert hidden <= 1
    assert page.locator("mark").count() >= 1
    path = screenshot(page, "change.png")
    assert path.stat().st_size > 10_000
    page.get_by_role("link", name="Side by side").click()
    assert page.locator(".side .before del").count() >= 1
    screenshot(page, "change-side.png")
    assert not [m for m in page.console_messages if "Content Security Policy" in m]


def test_payloads_from_a_page_stay_text(page: Any, base_url: str, recorded: History) -> None:
    change = recorded.repo.history.changes("partners")[0]
    for path, shown in (
        (f"/changes/{change.id}", XSS_SCRIPT),
        (f"/changes/{change.id}?mode=side", XSS_SCRIPT),
        ("/documents/partners/versions/1", XSS_SCRIPT),
        ("/search?q=onerror", "onerror="),
    ):
        page.goto(base_url + path)
        assert page.evaluate("() => window.__pwned") is None, path
        assert page.title() != "pwned", path
        assert page.locator("main script, main img").count() == 0, path
        assert shown in page.locator("main").inner_text(), path
    screenshot(page, "payloads.png")
    assert page.dialogs == []
    # Nothing was even attempted: a blocked attempt would show up as a CSP report.
    assert not [m for m in page.console_messages if "Content Security Policy" in m]
