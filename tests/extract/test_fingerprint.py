"""The extraction fingerprint: blind to page noise, never blind to what extraction reads.

The property that matters is soundness: two pages with the same fingerprint must extract to the
same text (a false "unchanged" is the worst failure a monitor can have). It is checked on
generated pages and on noisy renderings of the real corpus; the pipeline tests show an unchanged
page skipping extraction and a changed one never doing so.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ExtractError
from monitor.extract import html as normalizer
from monitor.extract.fingerprint import fingerprint, selector_attributes
from monitor.extract.guards import reads_whole_page
from monitor.extract.html import normalize_html
from monitor.extract.rules import ExtractRules
from tests import corpus
from tests.pageserver import PageServer, fresh_page
from tests.sitegen import Section, policy_page, sample_policy
from tests.support import document, harness, write_config

BASE = "https://www.example-social.test/privacy/policy/"
DEFAULT = ExtractRules(min_chars=0)


def fp(page: str, rules: ExtractRules = DEFAULT, base: str = BASE) -> str | None:
    return fingerprint(page, rules, base_url=base)


def extracted(page: str, rules: ExtractRules = DEFAULT) -> tuple[str, str] | str:
    """The text and title a page extracts to, or the kind of error that refuses it."""
    try:
        doc = normalize_html(page, rules, base_url=BASE)
    except ExtractError as exc:
        return exc.kind
    return doc.text, doc.title


def page(body: str, head: str = "<title>Privacy Policy</title>") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


MAIN = (
    '<main class="m1"><h2 role="heading">Our policy</h2><p>We collect what you give us. '
    'See <a href="/help?fbclid=IwAR1">the help page</a>.</p><div class="c1">Settings</div></main>'
)


# ---------------------------------------------------------------- blind to noise


def test_noise_of_a_real_page_leaves_the_fingerprint_alone() -> None:
    pages = [policy_page(rng=random.Random(seed)) for seed in range(5)]
    assert len(set(pages)) == 5
    assert len({fp(p) for p in pages}) == 1


def _in_main(extra: str) -> str:
    return MAIN.replace("</main>", extra + "</main>")


@pytest.mark.parametrize(
    ("base", "noisy"),
    [
        (MAIN, MAIN.replace('class="m1"', 'class="m2" data-rendered="1764"')),  # class names
        (MAIN, MAIN.replace("IwAR1", "IwAR2")),  # a tracking parameter on a link
        (MAIN, MAIN.replace("<p>", '<p nonce="abc" data-ft="x">')),  # attributes nobody reads
        (MAIN, MAIN + "<footer><p>Rendered at 1764000000</p></footer>"),  # outside the region
        (_in_main("<!-- 12 ms -->"), _in_main("<!-- 13 ms -->")),  # a comment's words
        (_in_main("<script>t = 'a'</script>"), _in_main("<script>t = 'b'</script>")),
        (_in_main("<style>.x{}</style>"), _in_main("<style>.y{}</style>")),
    ],
)
def test_what_extraction_never_reads_is_not_fingerprinted(base: str, noisy: str) -> None:
    assert fp(page(noisy)) == fp(page(base))
    assert extracted(page(noisy)) == extracted(page(base))


@pytest.mark.parametrize(
    "changed",
    [
        MAIN.replace("what you give", "what you share"),  # a word
        MAIN.replace("/help?", "/optout?"),  # a link target
        MAIN.replace('<div class="c1">', '<div class="c1" hidden>'),  # hidden
        MAIN.replace('<div class="c1">', '<div style="display: none">'),  # hidden by style
        MAIN.replace('class="c1"', 'class="cookie-banner"'),  # a consent banner's class
        MAIN.replace('<div class="c1">', '<div role="navigation">'),  # a role
        MAIN.replace('<div class="c1">', '<div role="heading" aria-level="4">'),  # a level
        MAIN.replace("collect what", "collect<br>what"),  # an element
        MAIN.replace("<h2", "<h3").replace("</h2>", "</h3>"),  # an element's name
    ],
)
def test_what_extraction_reads_is_fingerprinted(changed: str) -> None:
    assert extracted(page(changed)) != extracted(page(MAIN))
    assert fp(page(changed)) != fp(page(MAIN))


def test_the_title_and_the_base_url_are_fingerprinted() -> None:
    assert fp(page(MAIN, "<title>Log in to continue</title>")) != fp(page(MAIN))
    assert fp(page(MAIN), base="https://other.test/policy") != fp(page(MAIN))


def test_the_rules_are_fingerprinted() -> None:
    narrow = ExtractRules(select=("main",), min_chars=0)
    assert fp(page(MAIN), narrow) != fp(page(MAIN))


def test_a_selector_keeps_the_attributes_it_names() -> None:
    by_id = ExtractRules(select=("#policy",), min_chars=0)
    one = page(f'<div id="policy">{MAIN}</div><div id="x">Other</div>')
    other = one.replace('id="x"', 'id="policy"')
    assert extracted(one, by_id) != extracted(other, by_id)
    assert fp(one, by_id) != fp(other, by_id)
    assert selector_attributes(ExtractRules(select=("div.a > p[data-x^=y]",))) == {
        "class",
        "data-x",
    }


def test_selectors_that_could_read_anything_turn_the_fingerprint_off() -> None:
    for selector in ("p:nth-child(2)", "main:-soup-contains('Policy')", r"#a\:b"):
        assert fp(page(MAIN), ExtractRules(select=(selector,))) is None


def test_a_selected_script_is_never_the_document() -> None:
    rules = ExtractRules(select=("script",), min_chars=0)
    scripted = page('<script>document.write("Policy text")</script>' + MAIN)
    assert extracted(scripted, rules) == ("", "Privacy Policy")


# ---------------------------------------------------------------- sound on generated pages


def consistent(one: tuple[str, str] | str, other: tuple[str, str] | str) -> bool:
    """What equal fingerprints promise: the same text and title, unless a guard that reads the
    whole page (only ever for a short text, where the pipeline does not trust a fingerprint)
    refused one of them. Errors are never stored with a fingerprint."""
    if one == other:
        return True
    texts = [found[0] for found in (one, other) if isinstance(found, tuple)]
    return len(texts) < 2 and all(reads_whole_page(len(text)) for text in texts)


_TEXT = st.sampled_from(["Policy", "we use data", " ", "\n\n", "AI training", "opt out", "&amp;"])
_ATTRS = st.sampled_from(
    [
        "",
        ' class="x1"',
        ' class="x2"',
        ' id="root"',
        ' id="consent-banner"',
        ' class="cookie-notice"',
        ' role="main"',
        ' role="heading" aria-level="3"',
        ' role="navigation"',
        " hidden",
        ' style="display:none"',
        ' aria-hidden="true"',
        ' data-nonce="a1"',
        ' data-nonce="b2"',
    ]
)
_TAGS = st.sampled_from(
    [
        "div",
        "p",
        "main",
        "section",
        "footer",
        "header",
        "nav",
        "span",
        "h2",
        "ul",
        "li",
        "pre",
        "table",
        "tr",
        "td",
        "form",
        "button",
        "script",
        "style",
        "article",
        "em",
    ]
)
_HREFS = st.sampled_from(
    ["/help", "/help?fbclid=IwAR9", "#top", "", f"{BASE}#s1", "https://l.example.test/l.php?u=x"]
)


@st.composite
def _fragment(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["text", "element", "link", "comment", "br"]))
        if kind == "text":
            parts.append(draw(_TEXT))
        elif kind == "comment":
            parts.append(f"<!-- {draw(_TEXT)} -->")
        elif kind == "br":
            parts.append("<br>")
        elif kind == "link":
            parts.append(f'<a href="{draw(_HREFS)}"{draw(_ATTRS)}>{draw(_TEXT)}</a>')
        elif depth < 3:
            tag = draw(_TAGS)
            inner = draw(_fragment(depth + 1))
            parts.append(f"<{tag}{draw(_ATTRS)}>{inner}</{tag}>")
    return "".join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_fragment(), min_size=2, max_size=2), st.booleans())
def test_equal_fingerprints_mean_equal_text_on_generated_pages(
    bodies: list[str], with_selector: bool
) -> None:
    rules = ExtractRules(select=("#root", "main"), min_chars=0) if with_selector else DEFAULT
    one, other = (page(body) for body in bodies)
    if fp(one, rules) == fp(other, rules):
        assert consistent(extracted(one, rules), extracted(other, rules))


@settings(max_examples=300, deadline=None)
@given(_fragment(), st.data())
def test_equal_fingerprints_mean_equal_text_under_small_edits(
    body: str, data: st.DataObject
) -> None:
    """Edits that are mostly noise: the fingerprint must move exactly when the text can."""
    edits = [
        ("x1", "x2"),
        ("a1", "b2"),
        ("IwAR9", ""),
        ("Policy", "policy"),
        ("<p", "<div"),
        ("<!-- ", "<!-- more "),
        ('id="root"', 'id="consent-banner"'),
        (" hidden", ""),
        ("/help", "/help?fbclid=IwAR1"),
    ]
    old, new = data.draw(st.sampled_from(edits))
    one, other = page(body), page(body.replace(old, new))
    if fp(one) == fp(other):
        assert consistent(extracted(one), extracted(other))


# ---------------------------------------------------------------- sound on the real corpus


@pytest.mark.skipif(corpus.archive_path() is None, reason="needs ../shared/corpus")
def test_equal_fingerprints_mean_equal_text_on_the_real_history() -> None:
    """Consecutive real versions in fresh noise: equal fingerprints only where texts are equal."""
    rng = random.Random(7)
    equal = 0
    for name in corpus.DOCUMENTS:
        previous: tuple[str | None, tuple[str, str] | str] | None = None
        for version in corpus.versions(name)[:60]:
            served = corpus.served_page(version.markdown, rng)
            current = (fp(served), extracted(served))
            if previous is not None and previous[0] == current[0]:
                assert consistent(previous[1], current[1]), f"{name} version {version.n}"
                equal += 1
            previous = current
    assert equal > 0  # the noise-only steps of the archive are recognised


# ---------------------------------------------------------------- in the pipeline


def long_policy(extra: str = "") -> list[Section]:
    sections = sample_policy()
    filler = [
        f"Paragraph {n} explains how we keep, share and delete the information we collect."
        for n in range(30)
    ]
    return [*sections, Section("More details", [*filler, extra])]


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def test_an_unchanged_page_skips_extraction(
    tmp_path: Path, site: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, document("policy", site.url("/policy")))
    site.set("/policy", fresh_page(long_policy()))
    with harness(path) as h:
        assert h.check("policy").outcome == "new"
        first = h.repo.checks.last_check("policy")
        assert first is not None and first.fingerprint is not None

        def no_extraction(*args: object, **kwargs: object) -> None:
            raise AssertionError("an unchanged page was extracted")

        monkeypatch.setattr("monitor.check.checker.normalize_html", no_extraction)
        again = h.check("policy")
        assert (again.outcome, again.version) == ("unchanged", 1)
        second = h.repo.checks.last_check("policy")
        assert second is not None
        assert (second.fingerprint, second.text_sha256) == (first.fingerprint, first.text_sha256)

        monkeypatch.setattr("monitor.check.checker.normalize_html", normalizer.normalize_html)
        site.set("/policy", fresh_page(long_policy("We now train AI models on how you scroll.")))
        changed = h.check("policy")
        assert (changed.outcome, changed.version) == ("changed", 2)


def test_a_short_text_is_never_trusted_to_its_fingerprint(tmp_path: Path, site: PageServer) -> None:
    """Below the wall threshold the guards read the whole page, so the text alone is not enough."""
    path = write_config(tmp_path, document("policy", site.url("/policy")))
    site.set("/policy", fresh_page(sample_policy()))
    with harness(path) as h:
        assert h.check("policy").outcome == "new"
        assert h.check("policy").outcome == "unchanged"
        last = h.repo.checks.last_check("policy")
        assert last is not None and last.fingerprint is None


def test_a_flip_back_to_the_latest_text_is_unchanged(tmp_path: Path, site: PageServer) -> None:
    path = write_config(tmp_path, document("policy", site.url("/policy")))
    site.set("/policy", fresh_page(long_policy()))
    with harness(path) as h:
        h.check("policy")
        site.set("/policy", fresh_page(long_policy("An extra sentence.")))
        assert h.check("policy").outcome == "changed"
        site.set("/policy", fresh_page(long_policy()))
        assert h.check("policy").outcome == "pending"  # a return waits for a second look
        site.set("/policy", fresh_page(long_policy("An extra sentence.")))
        result = h.check("policy")
        assert (result.outcome, result.version) == ("unchanged", 2)
