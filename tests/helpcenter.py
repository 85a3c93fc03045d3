"""Project-written help-center articles for the controls tests and bench: an article body (numbered
steps with bolded menu names, "tap ... then tap ...", arrow paths, quoted toggles, form links)
inside the chrome a help center puts around it: a breadcrumb trail of links, a search bar, a
"was this helpful?" widget, related articles and a footer, all of which name menus too and must
not count as controls."""

from __future__ import annotations

import html
from collections.abc import Sequence

BREADCRUMB = ("Help Centre", "Privacy, safety and security", "Your privacy settings")
RELATED = (
    "Settings > Privacy > Who can see your posts",
    "Manage your ad preferences",
    "Download a copy of your information",
)


def steps(*items: str) -> str:
    """A numbered list of steps; `**name**` in an item is a bolded menu name."""
    return "<ol>" + "".join(f"<li><span dir='auto'>{_bold(i)}</span></li>" for i in items) + "</ol>"


def para(text: str) -> str:
    """A paragraph; `**name**` is bold, `[words](url)` a link."""
    return f"<div><span dir='auto'>{_bold(text)}</span></div>"


def article(
    title: str, *body: str, breadcrumb: Sequence[str] = BREADCRUMB, related: Sequence[str] = RELATED
) -> str:
    """A whole help-center page holding `body` (HTML from `steps` and `para`)."""
    trail = " › ".join(
        f"<a href='/help/{n}/?helpref=breadcrumb'>{html.escape(step)}</a>"
        for n, step in enumerate(breadcrumb, 100)
    )
    related_html = "".join(
        f"<div role='listitem'><a href='/help/{n}/?helpref=related'><span>{html.escape(t)}</span>"
        "</a></div>"
        for n, t in enumerate(related, 200)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | Help Centre</title>
<script>window.__state={{"token":"Zx81Qw","ts":1764100000}};</script></head>
<body><div id="root">
<div role="navigation" aria-label="Help Centre"><a href="/help/">Help Centre</a>
<a href="/help/search/">Search the help centre</a></div>
<div role="main"><div class="x1">
<div class="crumbs">{trail}</div>
<div class="x2"><h1><span dir="auto">{html.escape(title)}</span></h1>
<div id="article-body">{"".join(body)}</div></div>
<div class="x3"><fieldset><legend><h2>Was this helpful?</h2></legend>
<label><input type="radio" name="h" value="y"> Yes</label>
<label><input type="radio" name="h" value="n"> No</label></fieldset></div>
<div class="x4"><h2>Related articles</h2><div role="list">{related_html}</div></div>
</div></div>
<div role="contentinfo"><a href="/privacy/">Privacy</a> <a href="/terms/">Terms</a>
<a href="/settings/">Settings</a> <span>© 2026 Example Social</span></div>
</div></body></html>"""


def _bold(text: str) -> str:
    out = html.escape(text, quote=False)
    parts = out.split("**")
    out = "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))
    while "[" in out and "](" in out:  # [words](url) -> a link
        start = out.index("[")
        middle = out.index("](", start)
        end = out.index(")", middle)
        words, url = out[start + 1 : middle], out[middle + 2 : end]
        out = f"{out[:start]}<a href='{url}'>{words}</a>{out[end + 1 :]}"
    return out
