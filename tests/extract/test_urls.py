"""Canonical link targets: one table of (href, base, expected), one parametrised test."""

from __future__ import annotations

import pytest

from monitor.extract.urls import canonical_url

BASE = "https://www.facebook.com/privacy/policy/"

CASES: list[tuple[str, str, str, str]] = [
    # (case id, href, base, expected canonical target)
    ("absolute", "https://example.com/a", BASE, "https://example.com/a"),
    ("relative path", "../center/", BASE, "https://www.facebook.com/privacy/center/"),
    ("root relative", "/help/123", BASE, "https://www.facebook.com/help/123"),
    ("protocol relative", "//help.example.com/x", BASE, "https://help.example.com/x"),
    (
        "scheme and host lowercased",
        "HTTPS://WWW.Example.COM/Path",
        BASE,
        "https://www.example.com/Path",
    ),
    ("default port dropped", "https://example.com:443/a", BASE, "https://example.com/a"),
    (
        "login page that comes back to the destination",
        "https://www.facebook.com/login/?next=https%3A%2F%2Fwww.facebook.com%2Fsettings%2F%3Ftab%3Dai",
        BASE,
        "https://www.facebook.com/settings/?tab=ai",
    ),
    # The Privacy Center puts an interstitial in front of a setting when nobody is logged in;
    # the same link alternates with the plain one from capture to capture.
    (
        "privacy center interstitial around a login around the setting",
        "/privacy/center/interstitial/?logout_url=https%3A%2F%2Fwww.facebook.com%2Flogin%2F%3Fnext%3Dhttps%253A%252F%252Fwww.facebook.com%252Fadpreferences%252F%253Fentry_product%253Daccount_settings_menu%26ref%3Dhttps%253A%252F%252Fwww.facebook.com%252F",
        BASE,
        "https://www.facebook.com/adpreferences/?entry_product=account_settings_menu",
    ),
    (
        "a login page on another site is a page",
        "https://example.com/login/?next=/x",
        BASE,
        "https://example.com/login/?next=/x",
    ),
    (
        "http is https",
        "http://help.example.com/5355?ref=igtos",
        BASE,
        "https://help.example.com/5355",
    ),
    ("http default port", "http://example.com:80/a", BASE, "https://example.com/a"),
    ("http other port kept", "http://example.com:8080/a", BASE, "https://example.com:8080/a"),
    # Archived printable policies resolve an encoded absolute address against their own path.
    (
        "encoded address inside a printable path",
        "https://mbasic.facebook.com/privacy/policy/printable/https%3A%2F%2Flm.facebook.com%2Fl.php%3Fu=https%3A%2F%2Fresearch.example.com%2F",
        BASE,
        "https://research.example.com/",
    ),
    (
        "encoded address with its query outside the encoding",
        "/privacy/policy/printable/https%3A%2F%2Fhelp.example.com%2F1986?ref=x&id=4",
        BASE,
        "https://help.example.com/1986?id=4",
    ),
    (
        "an encoded address in a query value stays a value",
        "https://example.com/share?next=https%3A%2F%2Fexample.org%2F",
        BASE,
        "https://example.com/share?next=https://example.org/",
    ),
    ("empty path becomes slash", "https://example.com", BASE, "https://example.com/"),
    (
        "whitespace around and inside",
        "  https://example.com/a\n/b  ",
        BASE,
        "https://example.com/a/b",
    ),
    (
        "facebook redirect wrapper",
        "https://l.facebook.com/l.php?u=https%3A%2F%2Fhelp.example.com%2Fobject%3Fid%3D7&h=AT0abc",
        BASE,
        "https://help.example.com/object?id=7",
    ),
    (
        "mobile redirect wrapper",
        "https://lm.facebook.com/l.php?u=https%3A%2F%2Fhelp.instagram.com%2F1986&h=AT0x-_y",
        BASE,
        "https://help.instagram.com/1986",
    ),
    (
        "instagram redirect wrapper",
        "https://l.instagram.com/?u=https%3A%2F%2Fexample.org%2Fpolicy%3Futm_source%3Dig&e=AT1",
        BASE,
        "https://example.org/policy",
    ),
    (
        "messenger redirect wrapper",
        "https://l.messenger.com/l.php?u=https%3A%2F%2Fexample.org%2Fm&h=AT2",
        BASE,
        "https://example.org/m",
    ),
    (
        "wrapper inside a wrapper",
        "https://l.facebook.com/l.php?u=https%3A%2F%2Fl.instagram.com%2F%3Fu%3Dhttps%253A%252F%252Fexample.org%252Fz",
        BASE,
        "https://example.org/z",
    ),
    (
        "entry point and click tracking",
        "/privacy/center/?entry_point=POLICY_SECTION%3A1&__cft__[0]=AZW1&__cft__[1]=AZW2&__tn__=-UK-R",
        BASE,
        "https://www.facebook.com/privacy/center/",
    ),
    (
        "other tracking parameters",
        "https://example.com/p?fbclid=IwAR1&utm_source=x&utm_campaign=y&ref=dp&refsrc=a&_rdr"
        "&hc_ref=ARQ&hc_location=ufi&__xts__[0]=68.A&ig_rid=1&igshid=2&mibextid=3&helpref=uf",
        BASE,
        "https://example.com/p",
    ),
    (
        "meaningful parameters kept and sorted",
        "https://e.com/s?z=1&a=2&m=3",
        BASE,
        "https://e.com/s?a=2&m=3&z=1",
    ),
    ("repeated keys sorted by value", "https://e.com/s?k=b&k=a", BASE, "https://e.com/s?k=a&k=b"),
    ("blank value kept", "https://e.com/s?flag=&a=1", BASE, "https://e.com/s?a=1&flag="),
    ("space in query encoded once", "https://e.com/s?q=a+b", BASE, "https://e.com/s?q=a%20b"),
    (
        "signed cdn video",
        "https://video.fxyz1-1.fna.fbcdn.net/v/t39.25447-2/file.mp4?_nc_cat=1&oh=00_AYb&oe=6761A2F3",
        BASE,
        "fbcdn:/v/t39.25447-2/file.mp4",
    ),
    (
        "signed cdn image on another edge",
        "https://scontent-lhr8-1.xx.fbcdn.net/v/t39.8562-6/icon.png?_nc_ht=x&oh=1&oe=2",
        BASE,
        "fbcdn:/v/t39.8562-6/icon.png",
    ),
    (
        "video redirect carrying a signed cdn source: the id names the video",
        "https://mbasic.facebook.com/video_redirect/?id=1078&noredirect=0&source=misc"
        "&src=https%3A%2F%2Fvideo-fra5-1.xx.fbcdn.net%2Fo1%2Fv%2Ft2%2FAQPHbM1Y%3Foh%3D1",
        BASE,
        "https://mbasic.facebook.com/video_redirect/?id=1078&noredirect=0&source=misc",
    ),
    (
        "a url in a query that is not a cdn stays",
        "https://e.com/share?u2=https%3A%2F%2Fwww.facebook.com%2Fprivacy",
        BASE,
        "https://e.com/share?u2=https://www.facebook.com/privacy",
    ),
    (
        "instagram cdn",
        "https://scontent.cdninstagram.com/v/t51.2885-15/pic.jpg?stp=dst&_nc_ohc=abc&oh=00&oe=6",
        BASE,
        "cdninstagram:/v/t51.2885-15/pic.jpg",
    ),
    (
        "section fragment kept",
        "/privacy/policy/#1-WhatInformationDoWe",
        BASE,
        BASE + "#1-WhatInformationDoWe",
    ),
    ("dotted section fragment kept", "#1.subpage.2-Friends", BASE, BASE + "#1.subpage.2-Friends"),
    (
        "login redirect fragment dropped",
        "https://www.facebook.com/home#_=_",
        BASE,
        "https://www.facebook.com/home",
    ),
    ("generated id fragment dropped", "#ea2SG9qUySboIlMvL", BASE, BASE),
    ("state fragment dropped", "https://e.com/a#state=xyz&t=1", BASE, "https://e.com/a"),
    ("empty fragment dropped", "https://e.com/a#", BASE, "https://e.com/a"),
    (
        "mailto kept as is",
        "mailto:Privacy@Example.com?subject=Hi",
        BASE,
        "mailto:Privacy@Example.com?subject=Hi",
    ),
    ("tel kept as is", "tel:+1-555-0100", BASE, "tel:+1-555-0100"),
    ("javascript dropped", "javascript:void(0)", BASE, ""),
    ("javascript in capitals dropped", "  JavaScript:print()", BASE, ""),
    ("data uri dropped", "data:text/html,hi", BASE, ""),
]


@pytest.mark.parametrize(
    ("href", "base", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_canonical_url(href: str, base: str, expected: str) -> None:
    assert canonical_url(href, base) == expected


def test_canonical_url_is_idempotent() -> None:
    for _, href, base, expected in CASES:
        if expected.startswith("http"):
            assert canonical_url(expected, base) == expected, href


def test_a_wrapper_without_a_target_is_kept_as_a_plain_link() -> None:
    assert (
        canonical_url("https://l.facebook.com/l.php?h=AT0", BASE) == "https://l.facebook.com/l.php"
    )
