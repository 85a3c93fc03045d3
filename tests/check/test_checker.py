"""Checks against a real local HTTP server and a real SQLite file: the scripted life of a page."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pageserver import PageServer, Response, fresh_page, in_turn
from tests.sitegen import AI_SENTENCE_CHANGED, LOGIN_WALL, policy_page, sample_policy
from tests.support import Harness, document, harness, write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture
def h(tmp_path: Path, site: PageServer) -> Iterator[Harness]:
    path = write_config(tmp_path, document("policy", site.url("/policy")))
    with harness(path) as hh:
        yield hh


def test_scripted_life_of_a_page(h: Harness, site: PageServer) -> None:
    site.set("/policy", fresh_page())
    first = h.check("policy")
    assert (first.outcome, first.version) == ("new", 1)

    assert h.check("policy").outcome == "unchanged"

    # The server starts answering conditional requests: a 304 is an outcome, not an error.
    site.set("/policy", Response(body=policy_page(rng=random.Random(1)), headers=HTML, etag='"v1"'))
    assert h.check("policy").outcome == "unchanged"
    not_modified = h.check("policy")
    assert (not_modified.outcome, not_modified.version) == ("not_modified", 1)
    assert site.requests_to("/policy")[-1].headers.get("if-none-match") == '"v1"'

    site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
    changed = h.check("policy")
    assert (changed.outcome, changed.version) == ("changed", 2)
    assert "ai-training" in changed.topics
    assert changed.significance == "substantive"
    change = h.repo.history.changes("policy")[0]
    assert change.from_version == 1 and change.to_version == 2
    [modified] = [c for c in change.changeset if c["kind"] == "modified"]
    assert modified["section"] == ["Privacy Policy", "How do we use your information?"]
    added = " ".join(words for op, words in modified["spans"] if op == "+")
    assert "may" in added and "clicks" in added

    site.set("/policy", Response(body=LOGIN_WALL, headers=HTML))
    wall = h.check("policy")
    assert (wall.outcome, wall.error_kind) == ("failed", "login_wall")
    assert h.repo.history.version_count("policy") == 2

    site.set("/policy", fresh_page(sample_policy(AI_SENTENCE_CHANGED)))
    recovered = h.check("policy")
    assert (recovered.outcome, recovered.version) == ("unchanged", 2)
    assert [c.outcome for c in h.repo.checks.checks("policy")][::-1] == [
        "new",
        "unchanged",
        "unchanged",
        "not_modified",
        "changed",
        "failed",
        "unchanged",
    ]


def test_noise_never_makes_a_version(h: Harness, site: PageServer) -> None:
    site.set("/policy", fresh_page())
    outcomes = [h.check("policy").outcome for _ in range(11)]
    assert outcomes == ["new"] + ["unchanged"] * 10
    assert h.repo.history.version_count("policy") == 1


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (Response(status=503, body="busy"), "http_status"),
        (Response(status=404, body="gone"), "http_status"),
        (Response(body=b"%PDF-1.4 ...", headers={"Content-Type": "application/pdf"}), "not_html"),
        (
            Response(body="<html><body><main><p>Short.</p></main></body></html>", headers=HTML),
            "too_short",
        ),
        (Response(body=LOGIN_WALL, headers=HTML), "login_wall"),
        (Response(reset=True), "fetch"),
    ],
    ids=["503", "404", "pdf", "too-short", "login-wall", "reset"],
)
def test_errors_are_check_errors_not_versions(
    h: Harness, site: PageServer, response: Response, kind: str
) -> None:
    site.set("/policy", response)
    result = h.check("policy")
    assert (result.outcome, result.error_kind) == ("failed", kind)
    assert result.message
    assert h.repo.history.version_count("policy") == 0
    [check] = h.repo.checks.checks("policy")
    assert (check.outcome, check.error_kind, check.message) == ("failed", kind, result.message)


def test_shrink_waits_for_confirmation(h: Harness, site: PageServer) -> None:
    long_policy = sample_policy() * 4
    site.set("/policy", fresh_page(long_policy))
    assert h.check("policy").outcome == "new"
    site.set("/policy", fresh_page(sample_policy()[:2]))
    pending = h.check("policy")
    assert (pending.outcome, pending.error_kind) == ("pending", "shrink")
    assert h.repo.history.version_count("policy") == 1
    confirmed = h.check("policy")
    assert (confirmed.outcome, confirmed.version) == ("changed", 2)


def test_ab_flip_is_not_news(h: Harness, site: PageServer) -> None:
    variant_a = policy_page(rng=random.Random(1))
    variant_b = policy_page(sample_policy(AI_SENTENCE_CHANGED), rng=random.Random(2))
    site.set(
        "/policy", in_turn(*[Response(body=v, headers=HTML) for v in [variant_a, variant_b] * 3])
    )
    outcomes = [h.check("policy").outcome for _ in range(6)]
    # The first return to A waits (a return is news only if it persists); once the page has
    # shown both since version 2, it alternates: flips, no version, no alert.
    assert outcomes == ["new", "changed", "pending", "unchanged", "flip", "unchanged"]
    assert h.repo.history.version_count("policy") == 2


def test_a_rollback_that_persists_is_a_reversion(h: Harness, site: PageServer) -> None:
    variant_a = policy_page(rng=random.Random(1))
    variant_b = policy_page(sample_policy(AI_SENTENCE_CHANGED), rng=random.Random(2))
    site.set("/policy", in_turn(*[Response(body=v, headers=HTML) for v in [variant_a, variant_b]]))
    assert [h.check("policy").outcome for _ in range(2)] == ["new", "changed"]
    site.set("/policy", Response(body=variant_a, headers=HTML))
    first = h.check("policy")
    assert (first.outcome, first.version) == ("pending", None)
    assert "went back to version 1" in (first.message or "")
    reverted = h.check("policy")
    assert (reverted.outcome, reverted.version) == ("reverted", 3)
    assert h.check("policy").outcome == "unchanged"
    versions = h.repo.history.recent_versions("policy", 10)
    assert [(v.number, v.reverts_to) for v in versions] == [(3, 1), (2, None), (1, None)]
    assert versions[0].text_sha256 == versions[2].text_sha256
    change = h.repo.history.changes("policy")[0]
    assert (change.from_version, change.to_version) == (2, 3)
    assert "reverted" in change.flags


def test_technical_version_when_rules_change(tmp_path: Path, site: PageServer) -> None:
    site.set("/policy", fresh_page())
    path = write_config(tmp_path, document("policy", site.url("/policy")))
    with harness(path) as hh:
        assert hh.check("policy").outcome == "new"
    # The user narrows the region: the stored page is re-extracted, no fetch needed for that.
    path.write_text(path.read_text().replace('url = "http', 'remove = ["ul"]\nurl = "http'))
    with harness(path) as hh:
        result = hh.check("policy")
        versions = hh.repo.history.recent_versions("policy", 10)
        assert [v.technical for v in versions] == [True, False]
        assert result.outcome == "unchanged" and result.version == 2
        assert "- Things you share" not in hh.repo.history.latest_version("policy").text


# Interstitials in wordings no rule was written from: caught by their shape against the
# document's history (a shrink to a page that keeps none of the document's text).
UNSEEN_WALLS = {
    "hold-on": "<title>One moment</title><main><h1>Hold on</h1><p>We are confirming that this "
    "visit is really yours before we show the page. It reloads by itself when we are done, "
    "usually within a few seconds. If nothing happens, reload it yourself or come back a "
    "little later from the same browser.</p></main>",
    "snag": "<title>Metaverse Social</title><main><h1>Oops! We hit a snag</h1><p>Our engineers "
    "are on it and the page will be back shortly. In the meantime you can go back to the home "
    "page, look at your notifications or read the latest news from the people you follow. "
    "Thanks for your patience.</p></main>",
    "region": "<title>Not here</title><main><p>This part of the site is not offered where you "
    "are browsing from. Pick another country to go on, or visit the home page of your region "
    "to find the pages that apply to you. Settings for your region are listed there as well, "
    "with the contact details of the local office.</p></main>",
    "sign-in-fr": "<title>Metaverse Social</title><main><h2>Bon retour parmi nous</h2><p>Adresse "
    "e-mail ou numéro de mobile, puis votre mot de passe, et c'est parti. Pas encore de "
    "compte ? Quelques secondes suffisent pour en ouvrir un, et vous retrouverez vos amis, vos "
    "groupes et les pages que vous suivez.</p></main>",
}


@pytest.mark.parametrize("wall", UNSEEN_WALLS.values(), ids=UNSEEN_WALLS.keys())
def test_an_interstitial_in_any_wording_is_a_check_error_and_the_page_comes_back(
    h: Harness, site: PageServer, wall: str
) -> None:
    site.set("/policy", fresh_page(sample_policy() * 3))
    assert h.check("policy").outcome == "new"
    site.set("/policy", Response(body=f"<html><body>{wall}</body></html>", headers=HTML))
    for _ in range(3):  # no confirmation turns it into a version
        result = h.check("policy")
        assert (result.outcome, result.error_kind) == ("failed", "interstitial")
    assert "keeps 0% of its text" in (result.message or "")
    site.set("/policy", fresh_page(sample_policy() * 3))
    back = h.check("policy")
    assert (back.outcome, back.version) == ("unchanged", 1)  # the real page back: no flip
    assert h.repo.history.version_count("policy") == 1


WORDED_WALLS = {
    "verifying": "<title>Just a moment...</title><p>Verifying you are human. This may take a "
    "few seconds.</p>",
    "went-wrong": "<title>Error</title><h1>Sorry, something went wrong.</h1><p>We're working on "
    "it.</p>",
    "not-available": "<h2>This content isn't available right now</h2><p>It may have been "
    "removed.</p>",
    "sign-in-password": "<title>Welcome</title><form><input name='user'><input type='password' "
    "name='secret'><button>Continue</button></form><p>Use your account.</p>",
    "page-not-found": "<title>Page not found</title><p>Go back home.</p>",
}


@pytest.mark.parametrize("wall", WORDED_WALLS.values(), ids=WORDED_WALLS.keys())
def test_a_first_check_of_a_wall_is_no_version(h: Harness, site: PageServer, wall: str) -> None:
    site.set("/policy", Response(body=f"<html><body>{wall}</body></html>", headers=HTML))
    result = h.check("policy")
    assert result.outcome == "failed"
    assert result.error_kind in ("challenge", "error_page", "login_wall", "too_short")
    assert h.repo.history.version_count("policy") == 0


def test_a_real_shrink_keeps_the_document_and_is_confirmed(h: Harness, site: PageServer) -> None:
    site.set("/policy", fresh_page(sample_policy() * 3))
    assert h.check("policy").outcome == "new"
    site.set("/policy", fresh_page(sample_policy()))  # two thirds of the sections removed
    assert h.check("policy").outcome == "pending"
    assert h.check("policy").outcome == "changed"


def test_an_objection_form_link_that_changes_makes_a_version(h: Harness, site: PageServer) -> None:
    def page(form: str) -> Response:
        body = policy_page(rng=random.Random(3)).replace(
            "</main>",
            f'<p>To object, use <a href="{form}?__cft__[0]=AZx&amp;fbclid=IwAR1">this form</a>.'
            "</p></main>",
        )
        return Response(body=body, headers=HTML)

    site.set("/policy", page("https://www.facebook.com/help/contact/6359191084165019"))
    assert h.check("policy").outcome == "new"
    site.set("/policy", page("https://www.facebook.com/help/contact/6359191084165019"))
    assert h.check("policy").outcome == "unchanged"  # tracking parameters are not the link
    site.set("/policy", page("https://www.facebook.com/help/contact/2207256696331627"))
    moved = h.check("policy")
    assert (moved.outcome, moved.version) == ("changed", 2)
    assert moved.significance == "minor" and "opt-out-controls" in moved.topics


def test_a_utf8_page_labelled_utf16_reads_as_its_bytes(h: Harness, site: PageServer) -> None:
    body = policy_page(rng=random.Random(4)).replace(
        "Privacy Policy", "Politique de confidentialité"
    )
    site.set(
        "/policy",
        Response(body=body.encode(), headers={"Content-Type": "text/html; charset=utf-16"}),
    )
    assert h.check("policy").outcome == "new"
    assert "Politique de confidentialité" in h.repo.history.latest_version("policy").text


def test_a_section_replaced_by_an_error_message_is_a_check_error_not_a_version(
    h: Harness, site: PageServer
) -> None:
    """One part of the page failed to load ("This content isn't available") while the rest came:
    no version, no alert, and the whole page coming back is no news either."""
    whole = sample_policy() * 2
    site.set("/policy", fresh_page(whole))
    assert h.check("policy").outcome == "new"
    broken = sample_policy("This content isn't available right now.") + sample_policy()
    site.set("/policy", fresh_page(broken))
    for _ in range(3):  # confirmation never turns it into a version
        result = h.check("policy")
        assert (result.outcome, result.error_kind) == ("failed", "error_page")
    site.set("/policy", fresh_page(whole))
    back = h.check("policy")
    assert (back.outcome, back.version) == ("unchanged", 1)
    assert h.repo.history.version_count("policy") == 1
    assert h.repo.history.changes("policy") == []
