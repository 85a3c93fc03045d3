"""Slack and Discord message shapes for an alert: their own markup and escaping rules, and
their size limits (Slack: 50 blocks of 3000 characters; Discord: 6000 characters per embed)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from alerts.content import build
from alerts.view import (
    PATH_SEPARATOR,
    AlertView,
    Budget,
    ChangeView,
    EntryView,
    shorten,
    summary_of,
)

SLACK_TEXT = 3000
SLACK_BLOCKS = 50
SLACK_HEADER = 150
DISCORD_CONTENT = 2000
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_TOTAL = 6000
DISCORD_FOOTER = 2048
_DISCORD_COLORS = {
    "substantive": 0xCF222E,
    "minor": 0xBF8700,
    "cosmetic": 0x6E7781,
    "incident_opened": 0xCF222E,
    "incident_closed": 0x1A7F37,
}
_DISCORD_INLINE = re.compile(r"([\\*_~`|\[\]<>])")
_DISCORD_LINE_START = re.compile(r"^([#>-])", re.MULTILINE)

Escape = Callable[[str], str]


def slack_escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord_escape(text: str) -> str:
    """Discord markdown characters made literal (Discord drops a backslash before punctuation)."""
    return _DISCORD_LINE_START.sub(r"\\\1", _DISCORD_INLINE.sub(r"\\\1", text))


def _marked(text: str, mark: str, escape: Escape) -> str:
    """`text` between `mark`s, its outer spaces left outside (chat markup needs that)."""
    core = text.strip()
    if not core:
        return text
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    return f"{lead}{mark}{escape(core)}{mark}{trail}"


def change_markup(change: ChangeView, *, escape: Escape, marks: tuple[str, str], limit: int) -> str:
    """One change in chat markup, removed words struck and added words bold, within `limit`."""
    out = f"{change.label}: "
    previous = ""
    for segment in change.segments:
        if segment.op == "=":
            piece = escape(segment.text)
        else:
            piece = _marked(segment.text, marks[0] if segment.op == "-" else marks[1], escape)
            if previous == "-" and segment.op == "+" and not piece[:1].isspace():
                piece = " " + piece
        if len(out) + len(piece) > limit - 1:
            return out.rstrip() + "…"
        out += piece
        previous = segment.op
    return out


def _facts(entry: EntryView, escape: Escape, bold: str) -> list[str]:
    lines = [f"{bold}{escape(label)}:{bold} {escape(value)}" for label, value in entry.facts]
    if entry.topics:
        topics = "; ".join(
            t.label
            + (f" ({', '.join(chr(8220) + w + chr(8221) for w in t.terms)})" if t.terms else "")
            for t in entry.topics
        )
        lines.append(f"{bold}Topics:{bold} {escape(topics)}")
    return lines


def _slack_link(url: str, label: str) -> str:
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    return f"<{safe}|{slack_escape(label)}>"


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": shorten(text, SLACK_TEXT)}}


def _slack_entry(entry: EntryView, *, titled: bool) -> list[dict[str, Any]]:
    head = [f"*{slack_escape(entry.title)}*"] if titled else []
    intro = [slack_escape(entry.intro)] if entry.intro else []
    blocks = [_slack_section("\n".join(head + intro + _facts(entry, slack_escape, "*")))]
    for section in entry.sections:
        for change in section.changes:
            text = f"*{slack_escape(section.heading)}*\n"
            text += change_markup(change, escape=slack_escape, marks=("~", "*"), limit=2500)
            if change.evidence:
                text += "\n_matched " + slack_escape("; ".join(change.evidence)) + "_"
            blocks.append(_slack_section(text))
    if entry.more:
        more = f"… and {entry.more} more change{'s' if entry.more != 1 else ''}"
        link = f": {_slack_link(entry.link, 'see the full diff')}" if entry.link else ""
        blocks.append(_slack_section(more + link))
    if entry.link:
        blocks.append(_slack_section(_slack_link(entry.link, entry.link_label)))
    return blocks


def render_slack(payload: Mapping[str, Any], *, channel: str = "") -> dict[str, Any]:
    """The body of a Slack incoming-webhook post: a fallback `text` and section blocks."""
    view = build(payload, channel=channel, budget=Budget(changes=15, chars=20_000))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": shorten(view.title, SLACK_HEADER)},
        }
    ]
    if view.intro:
        blocks.append(_slack_section(slack_escape(view.intro)))
    for entry in view.entries:
        blocks += _slack_entry(entry, titled=len(view.entries) > 1)
    footer = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": slack_escape(view.footer)}],
    }
    if len(blocks) >= SLACK_BLOCKS - 1:
        blocks = [*blocks[: SLACK_BLOCKS - 2], _slack_section("… more in the full alert")]
    return {"text": summary_of(view), "blocks": [*blocks, footer]}


def _discord_link(label: str, url: str) -> str:
    """A masked link; brackets, parentheses and spaces in the URL would end it early."""
    for char, code in (("(", "%28"), (")", "%29"), (" ", "%20"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(char, code)
    return f"[{discord_escape(label)}]({url})"


def _discord_description(view: AlertView) -> str:
    parts = [discord_escape(view.intro)] if view.intro else []
    for entry in view.entries:
        lines = [f"**{discord_escape(entry.title)}**"] if len(view.entries) > 1 else []
        lines += [discord_escape(entry.intro)] if entry.intro else []
        lines += _facts(entry, discord_escape, "**")
        if entry.link:
            lines.append(_discord_link(entry.link_label, entry.link))
        parts.append("\n".join(lines))
    return shorten("\n\n".join(parts), 2000)


def _discord_fields(view: AlertView, room: int) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    omitted = sum(entry.more for entry in view.entries)
    reserve = 200  # for the closing "more changes" field
    for entry in view.entries:
        for section in entry.sections:
            for change in section.changes:
                name = (
                    section.heading
                    if len(view.entries) == 1
                    else entry.document + PATH_SEPARATOR + section.heading
                )
                name = shorten(name, DISCORD_FIELD_NAME)
                value = change_markup(change, escape=discord_escape, marks=("~~", "**"), limit=900)
                if change.evidence:
                    value += "\n*matched " + discord_escape("; ".join(change.evidence)) + "*"
                value = shorten(value, DISCORD_FIELD_VALUE)
                if len(fields) >= DISCORD_FIELDS - 1 or len(name) + len(value) > room - reserve:
                    omitted += 1
                    continue
                fields.append({"name": name, "value": value, "inline": False})
                room -= len(name) + len(value)
    if omitted:
        link = next((entry.link for entry in view.entries if entry.link), "")
        more = f"… and {omitted} more change{'s' if omitted != 1 else ''}"
        fields.append(
            {
                "name": "More",
                "value": more + (": " + _discord_link("see the full diff", link) if link else ""),
            }
        )
    return fields


def render_discord(payload: Mapping[str, Any], *, channel: str = "") -> dict[str, Any]:
    """The body of a Discord webhook post: `content` and one embed, inside Discord's limits."""
    view = build(payload, channel=channel, budget=Budget(changes=20, chars=20_000))
    significance = next((e.significance for e in view.entries if e.significance), "")
    embed: dict[str, Any] = {
        "title": shorten(view.title, DISCORD_TITLE),
        "description": _discord_description(view),
        "color": _DISCORD_COLORS.get(significance or view.kind, 0x0969DA),
        "footer": {"text": shorten(view.footer, DISCORD_FOOTER)},
    }
    link = next((entry.link for entry in view.entries if entry.link), "")
    if link:
        embed["url"] = link
    used = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    embed["fields"] = _discord_fields(view, DISCORD_TOTAL - used)
    return {
        "content": shorten(summary_of(view), DISCORD_CONTENT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }
