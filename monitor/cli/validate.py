"""`policywatch validate`: fetch each document twice and say whether its extraction is sound.

Per document: which fetcher, the HTTP status, whether the selector matched, how much text came
out, whether two fetches gave the identical text, and a hint when something is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bs4 import BeautifulSoup, Tag

from monitor.config import DocumentSettings, Settings
from monitor.daemon.runtime import fetch_options, make_browser
from monitor.errors import CheckError
from monitor.extract.document import Document
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from monitor.fetch.acquire import Fetch, acquire, fetch_order
from monitor.fetch.http import FetchResult, HttpFetcher
from storage.redact import redact

HINTS = {
    "empty_shell": 'the page renders with JavaScript: set fetcher = "browser" (or "auto")',
    "challenge": 'the site shows a bot check to plain HTTP: try fetcher = "browser"',
    "login_wall": "the page asks to log in: look for a public or printable URL of the same text",
    "too_short": "little text came out: check `select`, or lower `min_chars` for a short page",
    "not_html": "the URL does not serve an HTML page",
    "http_status": "the server refused the request: check the URL in a browser",
    "fetch": "the page could not be reached: check the URL and the network",
}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    slug: str
    url: str
    fetcher: str
    status: int | None
    selector_matched: bool | None
    chars: int | None
    words: int | None
    identical: bool | None
    error_kind: str | None = None
    message: str | None = None
    hint: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.identical is True

    def to_json(self) -> dict[str, Any]:
        return {
            "document": self.slug,
            "url": self.url,
            "fetcher": self.fetcher,
            "status": self.status,
            "selector_matched": self.selector_matched,
            "chars": self.chars,
            "words": self.words,
            "identical": self.identical,
            "ok": self.ok,
            "error": {"kind": self.error_kind, "message": self.message}
            if self.error_kind
            else None,
            "hint": self.hint,
        }


async def validate_documents(
    settings: Settings, docs: Sequence[DocumentSettings]
) -> list[ValidationReport]:
    """Validate each document as `check` acquires it (monitor.fetch.acquire: `auto` is HTTP,
    then the browser if needed), fetched twice with the fetcher that worked."""
    options = fetch_options(settings)
    async with HttpFetcher(options) as http, make_browser(settings, options) as browser:
        reports = []
        for doc in docs:
            rules = settings.rules(doc)

            async def fetch(
                kind: str, doc: DocumentSettings = doc, rules: ExtractRules = rules
            ) -> FetchResult:
                if kind == "browser":
                    return await browser.fetch(doc.url, wait_for=rules.wait_for)
                return await http.fetch(doc.url)

            reports.append(await _validate(doc, rules, fetch))
        return reports


async def _validate(doc: DocumentSettings, rules: ExtractRules, fetch: Fetch) -> ValidationReport:
    def examine(result: FetchResult, text: str | None) -> Document:
        return normalize_html(text or "", rules, base_url=result.final_url)

    first = await acquire(fetch_order(doc.fetcher), fetch, examine)
    if first.error is None:
        second = await acquire((first.fetcher,), fetch, examine)
    if first.error is not None or second.error is not None:
        failed = first if first.error is not None else second
        assert failed.error is not None
        report = _failure(doc, failed.result, failed.error)
        if (
            failed.fetcher == "browser"
            and failed.error.kind == "fetch"
            and doc.select
            and "waiting for" in failed.error.message
        ):
            report = replace(
                report,
                selector_matched=False,
                hint="the page rendered but `select` never matched: check the selector "
                "against the rendered page (ids and roles last longer than class names)",
            )
        return replace(report, fetcher=failed.fetcher, status=failed.status)
    one, two = first.value, second.value
    assert one is not None and two is not None and first.result is not None
    return ValidationReport(
        slug=doc.slug,
        url=redact(doc.url),  # a report is printed and pasted: no credentials
        fetcher=first.fetcher,
        status=first.result.status,
        selector_matched=True if doc.select else None,
        chars=len(one.text),
        words=one.words,
        identical=one.text == two.text,
        hint=None
        if one.text == two.text
        else "two fetches gave different text: add `remove` rules for the parts that change",
    )


def _failure(
    doc: DocumentSettings, fetched: FetchResult | None, exc: CheckError
) -> ValidationReport:
    hint = HINTS.get(exc.kind)
    if exc.kind == "selector_miss" and fetched is not None:
        regions = main_regions(fetched.body)
        hint = "the page's main regions: " + (", ".join(regions) if regions else "none with an id")
    return ValidationReport(
        slug=doc.slug,
        url=redact(doc.url),  # a report is printed and pasted: no credentials
        fetcher="http",
        status=fetched.status if fetched else None,
        selector_matched=False if exc.kind == "selector_miss" else None,
        chars=None,
        words=None,
        identical=None,
        error_kind=exc.kind,
        message=redact(exc.message),
        hint=hint,
    )


def main_regions(html: bytes, limit: int = 5) -> list[str]:
    """Durable selectors (ids and roles) of the largest text regions of a page, largest first."""
    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    found: list[tuple[int, str]] = []
    for tag in soup.find_all(True):
        if not isinstance(tag, Tag):
            continue
        selector = _durable_selector(tag)
        if selector:
            found.append((len(tag.get_text(" ", strip=True)), selector))
    found.sort(reverse=True)
    return [f"{selector} ({size:,} chars)" for size, selector in found[:limit] if size]


def _durable_selector(tag: Tag) -> str | None:
    ident = tag.get("id")
    if isinstance(ident, str) and ident:
        return f"#{ident}"
    if tag.name == "main":
        return "main"
    role = tag.get("role")
    if role == "main" or tag.name == "article":
        return f"[role={role}]" if role else "article"
    return None
