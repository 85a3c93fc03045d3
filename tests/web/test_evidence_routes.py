"""The stored page behind each version, over the web: a download that can never run in our
origin (attachment, octet-stream, nosniff, a sandboxing CSP) with the served bytes, its JSON
metadata under /api/, and the full SHA-256 where the UI offers it."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.web import create_app
from tests.evidence.support import Recorded, recorded
from tests.websupport import get

TOKEN = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    with recorded(tmp_path_factory.mktemp("evidence-web")) as made:
        yield made


@pytest.fixture(scope="module")
def app(history: Recorded) -> Any:
    h = history.harness
    return create_app(h.settings, h.store.engine, clock=h.clock)


def assert_cannot_run_here(response: Any) -> None:
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    [csp] = response.headers.get_list("content-security-policy")  # ours, not the UI's as well
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp


@pytest.mark.parametrize(("slug", "number"), [("policy", 2), ("help", 1)])
def test_download_is_the_served_page_and_never_runs_in_our_origin(
    app: Any, history: Recorded, slug: str, number: int
) -> None:
    served = history.served[(slug, number)]
    for path in (
        f"/documents/{slug}/versions/{number}/snapshot",
        f"/api/documents/{slug}/versions/{number}/snapshot/raw",
    ):
        response = get(app, path)
        assert response.status_code == 200
        assert response.content == served
        assert_cannot_run_here(response)
        assert f'filename="{slug}-v{number}-2026030' in response.headers["content-disposition"]
        assert response.headers["x-policywatch-sha256"] == hashlib.sha256(served).hexdigest()


def test_api_metadata(app: Any, history: Recorded) -> None:
    response = get(app, "/api/documents/help/versions/2/snapshot")
    assert response.status_code == 200
    data = response.json()
    served = history.served[("help", 2)]
    assert data["schema"] == "policywatch.snapshot/1"
    assert (data["document"], data["version"], data["status"]) == ("help", 2, 200)
    assert data["sha256"] == hashlib.sha256(served).hexdigest() and data["size"] == len(served)
    assert data["url"] == data["final_url"] == history.site.url("/help")
    assert data["fetched_at"].startswith("2026-03-05T")
    assert data["headers"]["content-encoding"] == "gzip"  # as the server sent it
    assert data["download"] == "/api/documents/help/versions/2/snapshot/raw"
    paths = get(app, "/api/openapi.json").json()["paths"]
    assert "/api/documents/{slug}/versions/{number}/snapshot" in paths
    assert "/api/documents/{slug}/versions/{number}/snapshot/raw" in paths


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/api/documents/policy/versions/9/snapshot", "'policy' has no version 9"),
        ("/api/documents/nope/versions/1/snapshot/raw", "nope"),
        ("/documents/policy/versions/0/snapshot", "has no version 0"),
    ],
)
def test_missing_versions_are_404(app: Any, path: str, detail: str) -> None:
    response = get(app, path)
    assert response.status_code == 404 and detail in response.text


def test_the_version_and_change_pages_offer_it_with_the_full_hash(
    app: Any, history: Recorded
) -> None:
    digest = hashlib.sha256(history.served[("policy", 3)]).hexdigest()
    page = get(app, "/documents/policy/versions/3")
    assert page.status_code == 200
    assert digest in page.text
    assert 'href="/documents/policy/versions/3/snapshot"' in page.text
    assert history.harness.repo.history.version("policy", 3).text_sha256 in page.text
    change = get(app, "/documents/policy/versions/3/change", follow_redirects=True)
    assert change.status_code == 200 and "/changes/" in str(change.url)
    assert digest in change.text and 'href="/documents/policy/versions/3/snapshot"' in change.text


def test_the_download_needs_the_token(history: Recorded) -> None:
    h = history.harness
    web = h.settings.web.model_copy(update={"token_env": "PW_TOKEN"})
    settings = dataclasses.replace(h.settings, web=web)
    guarded = create_app(settings, h.store.engine, clock=h.clock, environ={"PW_TOKEN": TOKEN})
    raw = "/api/documents/policy/versions/1/snapshot/raw"
    assert get(guarded, raw).status_code == 401
    assert get(guarded, "/documents/policy/versions/1/snapshot").status_code == 303
    response = get(guarded, raw, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.content == history.served[("policy", 1)]
