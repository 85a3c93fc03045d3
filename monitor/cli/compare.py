"""`policywatch compare`: two files or URLs through the normalizer, differ and topics (no database).

The output is the `policywatch.changeset/1` JSON document (see the README); a guard that fires
(a login wall, an empty shell...) is an `error` outcome, not an exception. So is a pair where one
side is not the document judged against the other (a capture that lost the text, a block that is
an error message): `check` would refuse that capture, so `compare` says so, and lists the changes
it would have made, all cosmetic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from monitor.analysis.assessment import SCHEMA, Earlier, assess
from monitor.analysis.controls import controls_json
from monitor.analysis.topics import TopicRule
from monitor.errors import CheckError, ExtractError, UsageError
from monitor.extract.document import Document
from monitor.extract.guards import check_walls, not_a_version_of
from monitor.extract.html import normalize_html, normalize_text
from monitor.extract.markdown import normalize_markdown
from monitor.extract.rules import ExtractRules

if TYPE_CHECKING:  # the fetchers (httpx) load only when an input is a URL
    from monitor.fetch.http import FetchOptions, FetchResult

InputFormat = Literal["auto", "html", "markdown", "text"]

SHRINK_RATIO = 0.5
"""The default of `guards.shrink_ratio` in the config."""

_SUFFIXES: dict[str, InputFormat] = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}


def is_url(source: str) -> bool:
    return urlsplit(source).scheme in ("http", "https")


def read_source(source: str, options: FetchOptions | None = None) -> tuple[bytes, str | None]:
    """The bytes of a file or URL, and the content type when it came over HTTP."""
    if is_url(source):
        from monitor.fetch.http import FetchOptions

        return asyncio.run(_fetch(source, options or FetchOptions(min_gap=0.0)))
    try:
        return Path(source).read_bytes(), None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from exc


async def _fetch(url: str, options: FetchOptions) -> tuple[bytes, str | None]:
    from monitor.fetch.http import HttpFetcher

    async with HttpFetcher(options) as fetcher:
        result = await fetcher.fetch(url)
    return result.body, result.content_type


def detect_format(source: str, data: bytes, content_type: str | None) -> InputFormat:
    if content_type:
        if "html" in content_type:
            return "html"
        if "markdown" in content_type:
            return "markdown"
    suffix = Path(urlsplit(source).path if is_url(source) else source).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head:
        return "html"
    return "text"


WALLS = frozenset({"challenge", "login_wall", "error_page"})
"""Guards that refuse a page which still has a text: a wall is compared, and reported."""


def to_document(
    data: bytes, fmt: InputFormat, rules: ExtractRules, *, source: str, guarded: bool = True
) -> Document:
    """Normalise one input; guards raise ExtractError like they do for fetched pages (not
    when `guarded` is false)."""
    if fmt == "html":
        base_url = source if is_url(source) else "https://localhost/"
        return normalize_html(data, rules, base_url=base_url, guarded=guarded)
    text = data.decode("utf-8", errors="replace")
    doc = normalize_markdown(text) if fmt == "markdown" else normalize_text(text)
    if not guarded:
        return doc
    check_walls(doc)  # as normalize_html does for a page
    if len(doc.text) < rules.min_chars:
        raise ExtractError(
            "too_short",
            f"extracted text is only {len(doc.text)} characters (minimum {rules.min_chars})",
        )
    return doc


def load(
    source: str, fmt: InputFormat, rules: ExtractRules, options: FetchOptions | None = None
) -> Document:
    """One input as a Document. A URL read as HTML (`auto` or `html`) is acquired as `check`
    acquires a page (monitor.fetch.acquire): the same guards, content type included."""
    if is_url(source) and fmt in ("auto", "html"):
        from monitor.fetch.http import FetchOptions

        return asyncio.run(_acquire(source, rules, options or FetchOptions(min_gap=0.0)))
    data, content_type = read_source(source, options)
    chosen = detect_format(source, data, content_type) if fmt == "auto" else fmt
    return to_document(data, chosen, rules, source=source)


def read_input(
    source: str, fmt: InputFormat, rules: ExtractRules
) -> tuple[Document, ExtractError | None]:
    """One input as a Document and, for a file that is a wall (a sign-in page, an error page),
    the guard's refusal beside its text. Any other refusal raises, as `load` does."""
    try:
        return load(source, fmt, rules), None
    except ExtractError as exc:
        if exc.kind not in WALLS or is_url(source):
            raise
        data, content_type = read_source(source)
        chosen = detect_format(source, data, content_type) if fmt == "auto" else fmt
        return to_document(data, chosen, rules, source=source, guarded=False), exc


async def _acquire(url: str, rules: ExtractRules, options: FetchOptions) -> Document:
    from monitor.fetch.acquire import acquire
    from monitor.fetch.http import HttpFetcher

    def examine(result: FetchResult, text: str | None) -> Document:
        return normalize_html(text or "", rules, base_url=result.final_url)

    async with HttpFetcher(options) as http:
        acquired = await acquire(("http",), lambda _kind: http.fetch(url), examine)
    if acquired.error is not None:
        raise acquired.error
    assert acquired.value is not None
    return acquired.value


def _load_or_none(source: str, fmt: InputFormat, rules: ExtractRules) -> Document | None:
    """An earlier version, or None when it is not the document (check never kept it either)."""
    try:
        return load(source, fmt, rules)
    except CheckError:
        return None


def compare(
    old_source: str,
    new_source: str,
    *,
    fmt: InputFormat = "auto",
    rules: ExtractRules | None = None,
    topics: Sequence[TopicRule],
    document_topics: Sequence[str] = (),
    shrink_ratio: float = SHRINK_RATIO,
    earlier_sources: Sequence[str] = (),
) -> dict[str, Any]:
    """The changeset document for OLD -> NEW. Unreadable input raises UsageError."""
    rules = rules or ExtractRules(min_chars=0)
    earlier = [doc for source in earlier_sources if (doc := _load_or_none(source, fmt, rules))]
    side = "old"
    try:
        old, old_refused = read_input(old_source, fmt, rules)
        side = "new"
        new, new_refused = read_input(new_source, fmt, rules)
    except CheckError as exc:
        return {
            "schema": SCHEMA,
            "outcome": "error",
            "error": {"kind": exc.kind, "message": exc.message, "side": side},
            "significance": None,
            "topics": [],
            "flags": [],
            "changes": [],
            "controls": {"before": [], "after": [], "changes": []},
        }

    def earlier_lines() -> Iterator[str]:
        return (block.line for doc in earlier for block in doc.blocks)

    return changeset_document(
        old,
        new,
        topics,
        document_topics,
        shrink_ratio=shrink_ratio,
        earlier=earlier_lines if earlier else None,
        refused=("new", new_refused)
        if new_refused
        else ("old", old_refused)
        if old_refused
        else None,
    )


def changeset_document(
    old: Document,
    new: Document,
    topics: Sequence[TopicRule],
    document_topics: Sequence[str] = (),
    *,
    shrink_ratio: float = SHRINK_RATIO,
    earlier: Earlier | None = None,
    refused: tuple[str, ExtractError] | None = None,
) -> dict[str, Any]:
    """The assessment of OLD -> NEW in its JSON shape, with the outcome of the comparison: an
    `error` naming the side that is not the document when `check` would refuse one of them
    (`refused`, a side a guard refused on its own, else judged against the other side).
    `earlier` gives the lines of versions before OLD, as `check` has them in its history."""
    refused = refused or not_a_version_of(new, old, shrink_ratio=shrink_ratio)
    # Next to a side that is not the document, what the other restores is not a re-expansion.
    assessment = assess(old, new, topics, document_topics, None if refused else earlier)
    if refused is not None:
        side, exc = refused
        data = assessment.not_the_document().to_json()
        error: dict[str, str] | None = {"kind": exc.kind, "message": exc.message, "side": side}
    else:
        data = assessment.to_json()
        error = None
    return {
        "schema": data.pop("schema"),
        "outcome": "error" if error else "changed" if assessment.changes else "unchanged",
        "error": error,
        **data,
        "controls": controls_json(old, new),
    }
