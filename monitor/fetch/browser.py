"""Fetching pages that render with JavaScript: one headless system Chromium driven by Playwright, a
fresh context per page, and the same FetchResult / FetchError as the HTTP fetcher.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    WebSocketRoute,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response as PageResponse
from playwright.async_api import TimeoutError as PlaywrightTimeout

from monitor.config import BrowserSettings
from monitor.errors import FetchError
from monitor.fetch.http import (
    CHALLENGE_MARKERS,
    CHALLENGE_STATUSES,
    SNIFF_BYTES,
    TRANSIENT_STATUSES,
    Clock,
    FetchResult,
    SystemClock,
    parse_retry_after,
    too_large,
)

T = TypeVar("T")

_FALLBACK_CHROMIUM = "/usr/bin/chromium"
_NO_CHROMIUM = (
    "no Chromium found (install the Debian package chromium, or set [browser] executable)"
)
_BLOCKED_TYPES = frozenset({"image", "media", "font"})
_CLOSE_TIMEOUT = 10.0  # closing a context that takes longer means the browser is wedged
_POLL_MS = 50  # how often the selector check runs while the page renders
_NAVIGATION_RETRIES = 5
_NAVIGATED = ("context was destroyed", "page is navigating")
_API_PREFIX = re.compile(r"^[A-Za-z]+\.[A-Za-z_]+: ")

# Playwright passes its own --disable-features list, and Chromium keeps only the last occurrence of
# a switch, so ours must carry Playwright's list too (this mirrors Playwright 1.65; a test compares
# it with the command line of the running browser, so a Playwright upgrade cannot drop entries).
_PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
DISABLED_FEATURES = (*_PLAYWRIGHT_DISABLED_FEATURES, "Translate")

# Keeps Chromium from reaching out on its own (updates, sync, metrics, translation, casting).
# Playwright already passes most of these; repeating them costs nothing and keeps this list true
# whatever Playwright's defaults become.
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--disable-domain-reliability",
    "--no-default-browser-check",
    "--disable-gpu",
    "--headless=new",
    "--disable-features=" + ",".join(DISABLED_FEATURES),
)

# Any selector matching an element that is rendered and has text; hidden elements do not count
# (innerText of an element that is not rendered is its raw textContent, so visibility is checked).
_MATCHED_JS = """(selectors) => selectors.some((s) =>
  Array.from(document.querySelectorAll(s)).some((e) =>
    (e.checkVisibility ? e.checkVisibility() : e.getClientRects().length > 0) &&
    /\\S/.test(e.innerText || "")))"""
# The selectors Chromium can parse; soupsieve accepts some (:-soup-contains) that it cannot.
_PARSEABLE_JS = """(selectors) => selectors.filter((s) => {
  try { document.createDocumentFragment().querySelector(s); return true; }
  catch (e) { return false; } })"""
# Resolves once the DOM's text and structure have not changed for `quiet` ms, or at `cap` ms.
# Attribute changes are ignored: animations and focus rings toggle them without changing text.
_QUIET_JS = """([quiet, cap]) => new Promise((resolve) => {
  const start = performance.now();
  let last = start;
  const observer = new MutationObserver(() => { last = performance.now(); });
  observer.observe(document, { subtree: true, childList: true, characterData: true });
  const check = () => {
    const now = performance.now();
    if (now - last >= quiet || now - start >= cap) {
      observer.disconnect();
      resolve(now - last >= quiet);
      return;
    }
    setTimeout(check, Math.max(5, Math.min(last + quiet, start + cap) - now));
  };
  setTimeout(check, quiet);
})"""
_SIZE_JS = "() => document.documentElement ? document.documentElement.outerHTML.length : 0"


def find_chromium(explicit: str | None) -> str | None:
    """The Chromium to run: the configured one (a path or a name on PATH), else `chromium` or
    `chromium-browser` on PATH, else /usr/bin/chromium; None when none of them is there."""
    if explicit:
        return shutil.which(explicit)
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return shutil.which(_FALLBACK_CHROMIUM)


def browser_user_agent(user_agent: str) -> str:
    """The HTTP fetcher's User-Agent, never announcing a headless browser."""
    return user_agent.replace("HeadlessChrome/", "Chrome/")


@dataclass
class _Load:
    """What one page load has seen so far: its main-frame responses and whether it crashed."""

    url: str
    page: Page
    timeout: float
    deadline: float
    crashed: asyncio.Event = field(default_factory=asyncio.Event)
    main: PageResponse | None = None
    passed: asyncio.Event = field(default_factory=asyncio.Event)  # a main document below 400
    waiting: str = "the first response"

    def remaining(self) -> float:
        return max(0.001, self.deadline - asyncio.get_running_loop().time())

    def remaining_ms(self) -> float:
        return self.remaining() * 1000

    def on_response(self, response: PageResponse) -> None:
        # The latest document of the main frame: a challenge page may reload itself into the page.
        if response.request.is_navigation_request() and response.frame == self.page.main_frame:
            self.main = response
            if response.status < 400:
                self.passed.set()


class BrowserFetcher:
    """Fetches pages with one shared headless Chromium; safe to share between concurrent tasks."""

    def __init__(
        self,
        settings: BrowserSettings,
        *,
        user_agent: str,
        accept_language: str,
        clock: Clock | None = None,
        max_bytes: int = 10_000_000,
    ) -> None:
        self.settings = settings
        self.user_agent = browser_user_agent(user_agent)
        self.accept_language = accept_language
        self.max_bytes = max_bytes
        self._clock: Clock = clock or SystemClock()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._launching = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    async def __aenter__(self) -> BrowserFetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the browser and Playwright's driver; a later fetch starts them again."""
        async with self._launching:
            browser, self._browser = self._browser, None
            playwright, self._playwright = self._playwright, None
            if browser is not None:
                with suppress(PlaywrightError):
                    await browser.close()
            if playwright is not None:
                with suppress(PlaywrightError):
                    await playwright.stop()

    async def processes(self) -> dict[int, str]:
        """The running browser's processes, pid -> type ("browser", "renderer", "GPU", ...), for
        diagnostics and memory accounting; empty when no browser is running."""
        browser = self._browser
        if browser is None or not browser.is_connected():
            return {}
        try:
            session = await browser.new_browser_cdp_session()
            try:
                info = await session.send("SystemInfo.getProcessInfo")
            finally:
                with suppress(PlaywrightError):
                    await session.detach()
        except PlaywrightError:
            return {}
        return {int(p["id"]): str(p["type"]) for p in info.get("processInfo", [])}

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        wait_for: Sequence[str] = (),
    ) -> FetchResult:
        """Load `url` in a fresh context and return the rendered DOM; errors are FetchError.

        `etag` and `last_modified` are accepted for the Fetcher protocol and ignored: a rendered
        page is never fetched conditionally. `wait_for` are the document's selectors; without
        them the page is done when the network goes idle.
        """
        if not url.startswith(("http://", "https://")):
            raise FetchError("fetch", f"only http and https URLs can be fetched, not {url!r}")
        async with self._slots:
            context = await self._new_context(url)
            try:
                return await self._load(context, url, tuple(wait_for))
            finally:
                await self._close(context)

    # -- the browser -----------------------------------------------------------------------

    async def _browser_once(self) -> Browser:
        async with self._launching:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            self._browser = None
            executable = find_chromium(self.settings.executable)
            if executable is None:
                raise FetchError("fetch", _no_chromium(self.settings.executable))
            # A driver that died since the last launch fails this one: then once more, afresh.
            for attempt in (1, 2):
                fresh = self._playwright is None
                playwright = await self._playwright_once()
                try:
                    browser = await self._launch(playwright, executable)
                except PlaywrightError as exc:
                    await self._stop_playwright()
                    if fresh or attempt == 2:
                        message = f"could not start Chromium ({executable}): {_first_line(exc)}"
                        raise FetchError("fetch", message) from exc
                    continue
                browser.on("disconnected", self._forget)
                self._browser = browser
                return browser
            raise AssertionError("unreachable: the second attempt returns or raises")

    async def _launch(self, playwright: Playwright, executable: str) -> Browser:
        return await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            # Playwright adds --no-sandbox unless asked for the sandbox, which cannot start as root.
            chromium_sandbox=os.geteuid() != 0,
            timeout=max(30.0, self.settings.timeout) * 1000,
        )

    async def _playwright_once(self) -> Playwright:
        if self._playwright is None:
            try:
                self._playwright = await async_playwright().start()
            except Exception as exc:  # the driver is a subprocess: anything can go wrong
                message = f"could not start Playwright's driver: {_first_line(exc)}"
                raise FetchError("fetch", message) from exc
        return self._playwright

    async def _stop_playwright(self) -> None:
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with suppress(Exception):
                await playwright.stop()

    def _forget(self, browser: Browser) -> None:
        """The browser died or was closed: the next fetch launches a new one."""
        if self._browser is browser:
            self._browser = None

    async def _new_context(self, url: str) -> BrowserContext:
        # A browser that died between fetches may not have said so yet: relaunch and try again.
        for attempt in (1, 2):
            browser = await self._browser_once()
            try:
                context = await browser.new_context(
                    user_agent=self.user_agent,
                    extra_http_headers={"Accept-Language": self.accept_language},
                    service_workers="block",  # they would bypass request routing
                    accept_downloads=False,
                )
                await context.route("**/*", _route)
                await context.route_web_socket("**/*", _refuse_web_socket)
                return context
            except PlaywrightError as exc:
                self._forget(browser)
                with suppress(PlaywrightError):
                    await browser.close()
                if attempt == 2:
                    message = f"the browser could not open a page for {url}: {_first_line(exc)}"
                    raise FetchError("fetch", message, transient=True) from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _close(self, context: BrowserContext) -> None:
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await context.close()
        except PlaywrightError:
            pass  # the browser went away, and the context with it
        except TimeoutError:
            browser = context.browser
            if browser is not None:
                self._forget(browser)
                with suppress(PlaywrightError):
                    await browser.close()

    # -- one page ------------------------------------------------------------------------------

    async def _load(
        self, context: BrowserContext, url: str, selectors: tuple[str, ...]
    ) -> FetchResult:
        fetched_at: datetime = self._clock.now()
        started = self._clock.monotonic()
        page = await _translated(context.new_page(), url, None)
        # Budgets are real time (the loop's clock), as Playwright's own timeouts are.
        loop = asyncio.get_running_loop()
        load = _Load(url, page, self.settings.timeout, loop.time() + self.settings.timeout)
        page.on("crash", lambda _page: load.crashed.set())
        page.on("response", load.on_response)
        first = await _translated(self._navigate(load), url, load)
        try:
            await _translated(self._rendered(load, first, selectors), url, load)
            await _translated(self._settle(load), url, load)
        except FetchError as error:
            # A challenge that never let the page through says more than the time it took.
            current = load.main or first
            if error.kind == "fetch" and not load.crashed.is_set() and current.status >= 400:
                raise await _translated(self._status_error(current, url), url, load) from error
            raise
        final = load.main or first
        if final.status >= 400:
            raise await _translated(self._status_error(final, url), url, load)
        body = await _translated(self._body(load), url, load)
        return FetchResult(
            url=url,
            final_url=page.url,
            status=final.status,
            headers=await _translated(_flat_headers(final), url, load),
            body=body,
            content_type="text/html",
            charset="utf-8",
            fetched_at=fetched_at,
            elapsed_ms=(self._clock.monotonic() - started) * 1000,
            fetcher="browser",
        )

    async def _navigate(self, load: _Load) -> PageResponse:
        response = await load.page.goto(load.url, wait_until="commit", timeout=load.remaining_ms())
        if response is None:
            raise FetchError("fetch", f"the browser got no response for {load.url}")
        load.main = load.main or response
        return response

    async def _rendered(self, load: _Load, first: PageResponse, selectors: tuple[str, ...]) -> None:
        """Wait for the selectors (or network idle); an error status fails at once, except a
        bot challenge, which gets the rest of the time to let the browser through."""
        if first.status >= 400:
            error = await self._status_error(first, load.url)
            if error.kind != "challenge":
                raise error
            # The challenge page may well match the selectors: only a page past it counts.
            load.waiting = "the bot challenge to let the browser through"
            async with asyncio.timeout(load.remaining()):
                await load.passed.wait()
        load.waiting = "the document to load"
        await load.page.wait_for_load_state("domcontentloaded", timeout=load.remaining_ms())
        usable = await _evaluate(load, _PARSEABLE_JS, list(selectors)) if selectors else []
        if usable:
            load.waiting = " or ".join(f"'{s}'" for s in selectors)
            await load.page.wait_for_function(
                _MATCHED_JS, arg=usable, polling=_POLL_MS, timeout=load.remaining_ms()
            )
        else:
            load.waiting = "the network to go idle"
            await load.page.wait_for_load_state("networkidle", timeout=load.remaining_ms())

    async def _settle(self, load: _Load) -> None:
        """Wait until the DOM has been quiet for `settle` seconds, so late paragraphs are in.

        Quiet rather than a fixed pause: a static page costs just `settle`, content that keeps
        arriving is waited for, and a page that never stops changing (a ticking clock) is taken
        as it is once the render deadline has passed.
        """
        quiet = self.settings.settle
        if quiet <= 0:
            return
        loop = asyncio.get_running_loop()
        cap = max(quiet, load.deadline - loop.time())
        load.waiting = f"{quiet:g} s without changes"
        # The page's own timers end the wait; the Python-side bound covers a page that stalls them.
        async with asyncio.timeout(cap + 5):
            await _evaluate(load, _QUIET_JS, [quiet * 1000, cap * 1000])

    async def _body(self, load: _Load) -> bytes:
        # The length in UTF-16 units is a lower bound of the UTF-8 size: a page far too large is
        # refused before it is copied out of the browser.
        if await _evaluate(load, _SIZE_JS) > self.max_bytes:
            raise too_large(load.url, self.max_bytes)
        body = (await _retried(load, load.page.content)).encode("utf-8")
        if len(body) > self.max_bytes:
            raise too_large(load.url, self.max_bytes)
        return body

    async def _status_error(self, response: PageResponse, url: str) -> FetchError:
        status = response.status
        where = response.url if response.url == url else f"{response.url} (redirected from {url})"
        if status in CHALLENGE_STATUSES and await _looks_like_challenge(response):
            message = f"HTTP {status} from {where} is a bot challenge page, not the document"
            return FetchError("challenge", message, status=status)
        reason = f" {response.status_text}" if response.status_text else ""
        headers = await _flat_headers(response)
        return FetchError(
            "http_status",
            f"HTTP {status}{reason} from {where}",
            transient=status >= 500 or status in TRANSIENT_STATUSES,
            status=status,
            retry_after=parse_retry_after(headers.get("retry-after"), self._clock.now()),
        )


async def _evaluate(load: _Load, script: str, arg: object = None) -> Any:
    return await _retried(load, lambda: load.page.evaluate(script, arg))


async def _retried(load: _Load, step: Callable[[], Awaitable[T]]) -> T:
    """`step`, run again in the new document when a script navigated the page under it (a
    challenge reloading itself into the page, a client-side redirect)."""
    for attempt in range(1, _NAVIGATION_RETRIES + 1):
        try:
            return await step()
        except PlaywrightError as exc:
            navigated = any(phrase in str(exc) for phrase in _NAVIGATED)
            if not navigated or load.crashed.is_set() or attempt == _NAVIGATION_RETRIES:
                raise
        await load.page.wait_for_load_state("domcontentloaded", timeout=load.remaining_ms())
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _route(route: Route) -> None:
    request = route.request
    try:
        if request.resource_type in _BLOCKED_TYPES or not request.url.startswith(
            ("http://", "https://")
        ):
            await route.abort()
        else:
            await route.continue_()
    except PlaywrightError:
        pass  # the page closed while the request was pending


async def _refuse_web_socket(socket: WebSocketRoute) -> None:
    # ws:// and wss:// are not http(s): a document does not need a live channel to be read.
    with suppress(PlaywrightError):
        await socket.close()


async def _looks_like_challenge(response: PageResponse) -> bool:
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    try:
        prefix = (await response.body())[:SNIFF_BYTES]
    except PlaywrightError:  # an unreadable refusal is still a refusal, not a challenge
        return False
    text = prefix.decode("utf-8", "replace").lower()
    return any(marker in text for marker in CHALLENGE_MARKERS)


async def _flat_headers(response: PageResponse) -> dict[str, str]:
    flat: dict[str, str] = {}
    for header in await response.headers_array():
        name, value = header["name"].lower(), header["value"]
        if name == "set-cookie":  # session state, not evidence; may hold secrets
            continue
        flat[name] = f"{flat[name]}, {value}" if name in flat else value
    return flat


async def _translated(step: Awaitable[T], url: str, load: _Load | None) -> T:
    """Run one step of a page load; whatever Playwright raises leaves as a FetchError."""
    try:
        return await step
    except (PlaywrightError, TimeoutError) as exc:
        _raise_translated(exc, url, load)


def _raise_translated(exc: Exception, url: str, load: _Load | None) -> NoReturn:
    text = str(exc)
    if (load is not None and load.crashed.is_set()) or "crashed" in text.lower():
        message = f"the browser's renderer crashed while loading {url}"
        raise FetchError("fetch", message, transient=True) from exc
    if load is not None and isinstance(exc, PlaywrightTimeout | TimeoutError):
        message = f"the page did not finish rendering within {load.timeout:g} s "
        message += f"(waiting for {load.waiting})"
        raise FetchError("fetch", message, transient=True) from exc
    if "has been closed" in text or "Browser closed" in text:
        message = f"the browser closed while loading {url}"
        raise FetchError("fetch", message, transient=True) from exc
    if "Download is starting" in text:
        raise FetchError("fetch", f"{url} is a file download, not a page") from exc
    detail = _first_line(exc)
    if "net::ERR_" in detail:
        code = detail[detail.index("net::ERR_") :].split()[0]
        permanent = code in _PERMANENT_NET_ERRORS
        raise FetchError("fetch", f"could not load {url}: {code}", transient=not permanent) from exc
    raise FetchError(
        "fetch", f"the browser failed loading {url}: {detail}", transient=True
    ) from exc


_PERMANENT_NET_ERRORS = frozenset(
    {
        "net::ERR_TOO_MANY_REDIRECTS",
        "net::ERR_UNSAFE_REDIRECT",
        "net::ERR_INVALID_URL",
        "net::ERR_DISALLOWED_URL_SCHEME",
        "net::ERR_UNKNOWN_URL_SCHEME",
        "net::ERR_UNSAFE_PORT",
        "net::ERR_ABORTED",  # a download, or a redirect to a blocked (non-web) URL
    }
)


def _first_line(exc: BaseException) -> str:
    """The first line of an error, without Playwright's "Page.goto: " prefix."""
    text = str(exc).strip() or type(exc).__name__
    return _API_PREFIX.sub("", text.splitlines()[0])


def _no_chromium(explicit: str | None) -> str:
    if explicit:
        return f"the configured Chromium {explicit!r} was not found ([browser] executable)"
    return _NO_CHROMIUM
