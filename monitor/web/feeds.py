"""Atom feeds of changes: all of them, per document, per topic; each entry links to its change
page and carries the changed blocks (escaped HTML) and why they matter. And the feed of control
changes (`/feeds/controls.atom`), each entry titled by the move and linked to its evidence."""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree import ElementTree as ET

import jinja2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from monitor.analysis.controlmap import latest_events
from monitor.web import views
from monitor.web.context import WebContext, context
from monitor.web.controls import ENTRIES as CONTROL_ENTRIES
from monitor.web.controls import evidence_link, headline, the_map
from storage.values import ChangeOut

ATOM = "http://www.w3.org/2005/Atom"
ENTRIES = 30
BLOCKS_PER_ENTRY = 20  # an entry shows the first blocks; the link has them all
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

router = APIRouter(prefix="/feeds", include_in_schema=False)
ET.register_namespace("", ATOM)


@router.get("/all.atom")
def all_changes(request: Request) -> Response:
    web = context(request)
    return atom(
        web, "policywatch: all changes", "/feeds/all.atom", web.queries.changes(limit=ENTRIES)
    )


@router.get("/documents/{slug}.atom")
def document_changes(request: Request, slug: str) -> Response:
    web = context(request)
    page = web.repo.pages.page(slug)
    if page is None:
        raise HTTPException(404, f"no document {slug!r}")
    changes = web.queries.changes(slug=slug, limit=ENTRIES)
    return atom(web, f"policywatch: {page.name}", f"/feeds/documents/{slug}.atom", changes)


@router.get("/topics/{topic}.atom")
def topic_changes(request: Request, topic: str) -> Response:
    web = context(request)
    changes = web.queries.changes(topic=topic, limit=ENTRIES)
    return atom(web, f"policywatch: changes about {topic}", f"/feeds/topics/{topic}.atom", changes)


@router.get("/controls.atom")
def control_changes(request: Request) -> Response:
    web = context(request)
    names = {d.slug: d.name for d in web.settings.documents}
    events = latest_events(the_map(web), CONTROL_ENTRIES)
    path = "/feeds/controls.atom"
    feed = _feed(web, "policywatch: control changes", path, events[0].at if events else None)
    for n, event in enumerate(events):
        url = evidence_link(web, event.document, event.version)
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"{url}#control-{n}-{event.kind}")
        _text(entry, "title", f"{names.get(event.document, event.document)}: {headline(event)}")
        _text(entry, "updated", _stamp(event.at))
        _link(entry, url, "alternate", "text/html")
        ET.SubElement(entry, f"{{{ATOM}}}category", term="opt-out-controls")
        _text(entry, "summary", event.control.sentence)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def _feed(web: WebContext, title: str, path: str, updated: datetime | None) -> ET.Element:
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", web.base_url + path)
    _text(feed, "title", title)
    _text(feed, "updated", _stamp(updated or web.clock.now()))
    _link(feed, web.base_url + path, "self", "application/atom+xml")
    _link(feed, web.base_url + "/", "alternate", "text/html")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "policywatch")
    _text(feed, "generator", "policywatch")
    return feed


def atom(web: WebContext, title: str, path: str, changes: list[ChangeOut]) -> Response:
    names = {page.slug: page.name for page in web.repo.pages.pages()}
    feed = _feed(web, title, path, changes[0].created_at if changes else None)
    template = web.templates.get_template("feed_entry.html")
    for change in changes:
        feed.append(_entry(web, change, names.get(change.slug, change.slug), template))
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


def _entry(web: WebContext, change: ChangeOut, name: str, template: jinja2.Template) -> ET.Element:
    url = f"{web.base_url}/changes/{change.id}"
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", url)
    topics = f" ({', '.join(change.topics)})" if change.topics else ""
    level = views.significance(change.significance)
    heading = f"{name}: {level} change, version {change.from_version} → {change.to_version}"
    _text(entry, "title", heading + topics)
    _text(entry, "updated", _stamp(change.created_at))
    _text(entry, "published", _stamp(change.created_at))
    _link(entry, url, "alternate", "text/html")
    for topic in change.topics:
        ET.SubElement(entry, f"{{{ATOM}}}category", term=_clean(topic))
    sections = views.sections(change.changeset, 0, BLOCKS_PER_ENTRY)
    where = "; ".join(dict.fromkeys(s.title for s in sections))
    _text(entry, "summary", f"{change.n_changes} block(s) changed in: {where}.")
    html = template.render(
        change=change, sections=sections, more=max(0, change.n_changes - BLOCKS_PER_ENTRY), url=url
    )
    content = _text(entry, "content", html)
    content.set("type", "html")
    return entry


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}")
    element.text = _clean(value)
    return element


def _link(parent: ET.Element, href: str, rel: str, kind: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", href=href, rel=rel, type=kind)


def _clean(value: str) -> str:
    """Without the characters XML 1.0 cannot carry (a page may hold a stray control byte)."""
    return _NOT_XML.sub("", value)


def _stamp(value: datetime) -> str:
    return views.iso(value)
