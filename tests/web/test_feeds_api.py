"""Atom feeds, the JSON API and its OpenAPI schema, token protection, and serve_web on a real
socket, over a history recorded by real checks of local fixture pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from monitor import config
from monitor.errors import ConfigError
from monitor.web import create_app, serve_web
from monitor.web.auth import COOKIE
from monitor.web.server import check_exposure
from tests.websupport import KEYSTROKE, XSS_SCRIPT, History, get, history, post

NS = {"a": "http://www.w3.org/2005/Atom"}
TOKEN = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def h(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    with history(tmp_path_factory.mktemp("api")) as recorded:
        yield recorded


@pytest.fixture(scope="module")
def app(h: History) -> Any:
    return h.app()


def atom(app: Any, path: str, **kwargs: Any) -> ET.Element:
    response = get(app, path, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    return root


def assert_valid_atom(feed: ET.Element) -> list[ET.Element]:
    """The elements RFC 4287 requires: id, title, updated (RFC 3339) on the feed and on each
    entry, an author for the feed, and a link to each entry's page."""
    for parent in [feed, *feed.findall("a:entry", NS)]:
        for tag in ("id", "title", "updated"):
            element = parent.find(f"a:{tag}", NS)
            assert element is not None and element.text, tag
        updated = parent.findtext("a:updated", namespaces=NS)
        assert updated is not None and datetime.fromisoformat(updated).tzinfo is not None
    assert feed.find("a:author/a:name", NS) is not None
    entries = feed.findall("a:entry", NS)
    for entry in entries:
        link = entry.find("a:link[@rel='alternate']", NS)
        assert link is not None and "/changes/" in link.get("href", "")
        content = entry.find("a:content", NS)
        assert content is not None and content.get("type") == "html"
    return entries


def test_feed_of_all_changes(app: Any, h: History) -> None:
    entries = assert_valid_atom(atom(app, "/feeds/all.atom"))
    ids = [e.findtext("a:id", namespaces=NS) for e in entries]
    expected = [c.id for slug in ("policy", "partners") for c in h.repo.history.changes(slug)]
    assert sorted(i.rsplit("/", 1)[1] for i in ids if i) == sorted(str(i) for i in expected)
    assert all(i and i.startswith("http://127.0.0.1:8080/changes/") for i in ids)


def test_feed_per_document_and_per_topic(app: Any) -> None:
    policy = assert_valid_atom(atom(app, "/feeds/documents/policy.atom"))
    assert len(policy) == 3
    assert all("Policy:" in (e.findtext("a:title", namespaces=NS) or "") for e in policy)
    ai = assert_valid_atom(atom(app, "/feeds/topics/ai-training.atom"))
    assert ai and all(
        "ai-training" in [c.get("term") for c in e.findall("a:category", NS)] for e in ai
    )
    assert assert_valid_atom(atom(app, "/feeds/topics/astrology.atom")) == []
    assert get(app, "/feeds/documents/nope.atom").status_code == 404


def test_feed_content_is_escaped_html(app: Any) -> None:
    [entry] = assert_valid_atom(atom(app, "/feeds/documents/partners.atom"))
    content = entry.findtext("a:content", namespaces=NS) or ""
    # Once the XML is parsed, the HTML inside must still show the payload as text.
    assert "&lt;script&gt;" in content and "<script" not in content
    assert "<ins>" in content


def test_openapi_schema_is_served(app: Any) -> None:
    schema = get(app, "/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for path in (
        "/api/documents",
        "/api/documents/{slug}/versions",
        "/api/documents/{slug}/versions/{number}",
        "/api/documents/{slug}/versions/{number}/text",
        "/api/changes",
        "/api/changes/{change_id}",
        "/api/documents/{slug}/compare",
        "/api/search",
        "/api/checks",
    ):
        assert path in paths, path
    assert not any(p.startswith(("/changes", "/feeds", "/documents")) for p in paths)


def test_api_documents_and_versions(app: Any) -> None:
    docs = {d["slug"]: d for d in get(app, "/api/documents").json()}
    assert docs["policy"]["versions"] == 5
    assert docs["policy"]["open_incident"]["kind"] == "login_wall"
    assert docs["policy"]["last_check"]["outcome"] == "failed"
    assert "ai-training" in docs["partners"]["latest_change"]["topics"]
    versions = get(app, "/api/documents/policy/versions", params={"limit": 2}).json()
    assert [v["number"] for v in versions] == [5, 4]
    assert versions[0]["technical"] is True and versions[0]["change_id"] is None
    three = get(app, "/api/documents/policy/versions/3").json()
    assert KEYSTROKE in three["text"]
    plain = get(app, "/api/documents/policy/versions/3/text")
    assert plain.headers["content-type"].startswith("text/plain") and plain.text == three["text"]
    at = get(app, "/api/documents/policy/at/2026-05-01").json()
    assert at["number"] == 3
    assert get(app, "/api/documents/policy/versions/9").status_code == 404
    assert get(app, "/api/documents/nope").json() == {"detail": "no document 'nope'"}


def test_api_changes_compare_search_checks(app: Any, h: History) -> None:
    changes = get(app, "/api/changes", params={"document": "policy"}).json()
    assert [(c["from_version"], c["to_version"]) for c in changes] == [(3, 4), (2, 3), (1, 2)]
    assert changes[2]["changes"][0]["spans"] and changes[2]["changes"][0]["section"]
    ai = get(app, "/api/changes", params={"topic": "ai-training"}).json()
    assert {c["document"] for c in ai} == {"policy", "partners"}
    one = get(app, f"/api/changes/{changes[1]['id']}").json()
    assert one["to_version"] == 3 and "research" in one["topics"]
    compared = get(app, "/api/documents/policy/compare", params={"from": 1, "to": 3}).json()
    assert compared["schema"] == "policywatch.changeset/1"
    assert "behavioral-data" in compared["topics"]
    hits = get(app, "/api/search", params={"q": "keystroke"}).json()
    assert [(r["since"], r["until"]) for r in hits[0]["runs"]] == [(3, 4)]
    assert hits[0]["runs"][0]["since_change"] == changes[1]["id"]
    assert hits[0]["present"] is False and "keystroke" in hits[0]["example"]
    errors = get(app, "/api/checks", params={"document": "policy", "errors": "true"}).json()
    assert [c["error_kind"] for c in errors] == ["login_wall", "login_wall"]
    assert get(app, "/api/changes", params={"significance": "huge"}).status_code == 400
    deliveries = get(app, "/api/deliveries").json()
    assert deliveries and {d["channel"] for d in deliveries} == {"ops-hook"}


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    web = f'[web]\nhost = "0.0.0.0"\ntoken = "{TOKEN}"\n'
    with history(tmp_path_factory.mktemp("locked"), web=web) as recorded:
        yield recorded.app()


def test_token_guards_pages_api_and_feeds(locked: Any) -> None:
    page = get(locked, "/documents/policy?topic=research")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fdocuments%2Fpolicy%3Ftopic%3Dresearch"
    api = get(locked, "/api/documents")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    assert get(locked, "/api/openapi.json").status_code == 401
    assert get(locked, "/feeds/all.atom").status_code == 401
    assert (
        get(locked, "/api/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert get(locked, "/feeds/all.atom", params={"token": "wrong"}).status_code == 401
    # Only feeds take the token in the URL (it would end up in logs and histories otherwise).
    assert get(locked, "/api/documents", params={"token": TOKEN}).status_code == 401
    assert get(locked, "/login").status_code == 200
    assert get(locked, "/static/style.css").status_code == 200


def test_token_opens_them(locked: Any) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert get(locked, "/api/documents", headers=bearer).status_code == 200
    assert get(locked, "/", headers={"X-Policywatch-Token": TOKEN}).status_code == 200
    assert_valid_atom(atom(locked, "/feeds/all.atom", params={"token": TOKEN}))


def test_login_form_sets_a_cookie(locked: Any) -> None:
    wrong = post(locked, "/login", data={"token": "guess", "next": "/deliveries"})
    assert wrong.status_code == 401 and COOKIE not in wrong.cookies
    good = post(locked, "/login", data={"token": TOKEN, "next": "/deliveries"})
    assert good.status_code == 303 and good.headers["location"] == "/deliveries"
    cookie = good.cookies[COOKIE]
    assert TOKEN not in cookie
    assert "httponly" in good.headers["set-cookie"].lower()
    assert "samesite=strict" in good.headers["set-cookie"].lower()
    page = get(locked, "/deliveries", cookies={COOKIE: cookie})
    assert page.status_code == 200 and "Alert deliveries" in page.text
    assert get(locked, "/deliveries", cookies={COOKIE: "forged"}).status_code == 303
    elsewhere = post(locked, "/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert elsewhere.headers["location"] == "/"


DOC = '[[documents]]\nslug = "a"\nname = "A"\nurl = "https://example.org/a"\n'


def test_token_env_must_be_set(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "pw.db"}"\n[web]\ntoken_env = "PW_T"\n{DOC}'
    )
    settings = config.load(path)
    with pytest.raises(ConfigError, match="PW_T"):
        create_app(settings, None, environ={})  # type: ignore[arg-type]
    open_settings = config.load(_write(tmp_path, ""))
    with pytest.raises(ConfigError, match=r"needs web\.token"):
        check_exposure(open_settings, "0.0.0.0")
    check_exposure(open_settings, "127.0.0.1")


def _write(tmp_path: Path, web: str) -> Path:
    path = tmp_path / "open.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "pw.db"}"\n{web}\n{DOC}')
    return path


def test_serve_web_serves_until_stopped(h: History) -> None:
    async def scenario() -> tuple[int, str, bool]:
        stop = asyncio.Event()
        urls: list[str] = []
        server = asyncio.create_task(
            serve_web(
                h.harness.settings,
                h.engine,
                host="127.0.0.1",
                port=0,
                stop=stop,
                clock=h.harness.clock,
                ready=urls.append,
            )
        )
        while not urls:  # yields to the server task until it is listening
            await asyncio.sleep(0)
        # The socket listens before `ready` is called: the connection waits in its backlog.
        async with httpx.AsyncClient(base_url=urls[0]) as client:
            response = await client.get("/documents/policy")
        stop.set()
        await asyncio.wait_for(server, 10)
        return response.status_code, response.text, server.done()

    status, text, done = asyncio.run(scenario())
    assert status == 200 and ">Version 5</a>" in text and done


def test_xss_payload_is_only_text_in_json(app: Any) -> None:
    body = get(app, "/api/documents/partners/versions/1").json()["text"]
    assert XSS_SCRIPT in body  # JSON carries the words as they were; HTML pages escape them
