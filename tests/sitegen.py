"""Project-written sample pages for tests: a fictional privacy policy inside a noisy page.

The wrapper adds what real pages carry and a monitor must ignore: scripts with inline state, a
per-request CSRF token and nonce, a render timestamp, generated class names, navigation, footer,
a cookie banner and tracking parameters on links.
"""

from __future__ import annotations

import html
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

AI_SENTENCE = (
    "We do not use the content of your private messages to train artificial intelligence models."
)
AI_SENTENCE_CHANGED = (
    "We may use information about how you interact with our products, such as clicks and "
    "scrolling, to train artificial intelligence models."
)


@dataclass
class Section:
    heading: str
    paragraphs: list[str]
    items: list[str] = field(default_factory=list)


def sample_policy(ai_sentence: str = AI_SENTENCE) -> list[Section]:
    """A short fictional policy with the sections a real one has."""
    return [
        Section(
            "What information do we collect?",
            [
                "We collect the information you give us when you create an account, post "
                "updates, or contact our support team.",
                "We also receive information from the devices you use, such as the browser "
                "type, language settings and approximate location.",
            ],
            ["Things you share with others", "Your connections and followers", "App usage"],
        ),
        Section(
            "How do we use your information?",
            [
                "We use the information we have to provide, personalise and improve our "
                "products and to keep the community safe.",
                ai_sentence,
            ],
        ),
        Section(
            "How can you manage your information?",
            [
                "You can review and change your choices in Settings & privacy > Privacy Center. "
                'Learn more in the <a href="https://l.example-social.test/l.php?u=https%3A%2F%2F'
                'help.example-social.test%2Fobject&h=AT0abc">objection form</a>.',
            ],
        ),
    ]


def render_sections(sections: Sequence[Section]) -> str:
    parts = []
    for section in sections:
        parts.append(f"<h2>{html.escape(section.heading)}</h2>")
        # Paragraphs are trusted markup written by the tests (they may hold links).
        parts.extend(f"<p>{p}</p>" for p in section.paragraphs)
        if section.items:
            parts.append(
                "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in section.items) + "</ul>"
            )
    return "\n".join(parts)


def noisy_page(
    body_html: str, *, title: str = "Privacy Policy", rng: random.Random | None = None
) -> str:
    """Wrap a document body in the noise of a real page; every call gives different noise."""
    rng = rng or random.Random(secrets.randbits(32))
    token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=24))
    nonce = "".join(rng.choices("ABCDEFGHIJKLMNOP0123456789", k=12))
    cls = "x" + "".join(rng.choices("abcdefghij", k=6))
    stamp = rng.randint(1_700_000_000, 1_900_000_000)
    tracking = f"?entry_point={rng.randint(1, 99)}&fbclid=IwAR{token[:10]}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script nonce="{nonce}">window.__STATE__ = {{"csrf": "{token}", "rendered": {stamp}}};</script>
<style>.{cls} {{ color: #333 }}</style></head>
<body class="{cls}">
<div id="cookie-banner" class="{cls}-banner" role="dialog"><p>We use cookies to improve your
experience. <button>Accept all</button><button>Only essential</button></p></div>
<nav class="{cls}-nav"><a href="/home{tracking}">Home</a> <a href="/help{tracking}">Help</a></nav>
<main class="{cls}-main" data-rendered="{stamp}">
<h1>{html.escape(title)}</h1>
{body_html}
<form method="post"><input type="hidden" name="csrf" value="{token}"></form>
</main>
<footer class="{cls}-foot"><p>Rendered at {stamp}. <a href="/terms{tracking}">Terms</a></p></footer>
<script>console.log("{token}")</script>
</body></html>"""


def policy_page(sections: Sequence[Section] | None = None, **kwargs: object) -> str:
    return noisy_page(render_sections(sections or sample_policy()), **kwargs)  # type: ignore[arg-type]


LOGIN_WALL = """<!DOCTYPE html><html><head><title>Log in or sign up to view</title></head>
<body><main><h1>Log in to continue</h1><form><input name="email" placeholder="Email or phone">
<input type="password" name="pass"><button>Log in</button></form>
<a href="/recover">Forgotten password?</a> <a href="/signup">Create new account</a>
</main></body></html>"""
