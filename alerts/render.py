"""An alert payload rendered into a Message: the header-safe subject, the plain-text and the
inline-styled HTML email parts (Jinja2 templates, HTML autoescaped; in the HTML part, links and
table rows of the canonical text are made HTML by alerts.richtext) and the webhook JSON."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from alerts import richtext
from alerts.base import Message
from alerts.chat import render_discord, render_slack
from alerts.content import build, title_of
from alerts.sample import sample_payload
from alerts.view import SUBJECT_PREFIX, ChangeView, header_safe, summary_of

__all__ = [
    "header_safe",
    "render",
    "render_discord",
    "render_slack",
    "sample_payload",
    "subject_of",
    "summary_of",
]

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=StrictUndefined,
)


_DEL = "background:#ffebe9;color:#82071e;text-decoration:line-through"
_INS = "background:#dafbe1;color:#116329;text-decoration:underline"
_CELL = "border:1px solid #d0d7de;padding:3px 8px;vertical-align:top"


EMAIL = richtext.Style(
    ops={"-": (f'<del style="{_DEL}">', "</del>"), "+": (f'<ins style="{_INS}">', "</ins>")},
    link_attrs='style="color:#0969da"',
    table_attrs='role="presentation" style="border-collapse:collapse;margin:4px 0;font-size:14px"',
    cell_attrs=f'style="{_CELL}"',
)


def change_html(change: ChangeView) -> Markup:
    """A change's segments as email HTML: links as links, a table row as a table."""
    runs = [richtext.Run(s.op, s.text) for s in change.segments]
    return richtext.render(runs, EMAIL, row=change.row).html


_ENV.globals["change_html"] = change_html


def subject_of(payload: Mapping[str, Any], *, channel: str = "") -> str:
    """`[policywatch] Facebook Privacy Policy: ai-training language changed (3 changes)`."""
    return header_safe(SUBJECT_PREFIX + title_of(payload, channel=channel))


def render(payload: Mapping[str, Any], *, idempotency_key: str, channel: str = "") -> Message:
    """Everything an email or a generic webhook sends for one alert payload.

    `channel` is the name of the channel rendering it, shown in the subject of a test alert.
    """
    view = build(payload, channel=channel)
    subject = header_safe(SUBJECT_PREFIX + view.title)
    summary = summary_of(view)
    return Message(
        subject=subject,
        text=_ENV.get_template("alert.txt").render(alert=view, subject=subject),
        html=_ENV.get_template("alert.html").render(alert=view, subject=subject),
        json={**payload, "text": summary},
        idempotency_key=idempotency_key,
        summary=summary,
    )
