"""`policywatch controls`: the controls each watched page describes today, since when, and how
they moved or were renamed (the map is monitor.analysis.controlmap's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.analysis.controlmap import control_map, versions_of
from monitor.config import DocumentSettings
from storage.repo import Repo

_KIND_WORDS = {
    "control_moved": "moved",
    "control_renamed": "renamed",
    "control_added": "added",
    "control_removed": "removed",
    "form_link_changed": "form link changed",
}


def controls_today(repo: Repo, docs: Sequence[DocumentSettings]) -> list[dict[str, Any]]:
    """Each control of each document's latest version (`MappedControl.to_json()`): path, label,
    link, sentence, since which version it reads as it does, first seen, and its history."""
    maps = control_map((doc.slug, versions_of(repo.history, doc.slug)) for doc in docs)
    return [mapped.to_json() for m in maps for mapped in m.today]


def controls_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per control: document, path, quoted label when it is not the path's end, link,
    and since when; then one indented line per move, rename or new form link."""
    lines = []
    for row in rows:
        lines.append(
            f"{row['document']}  {_what(row)}{_link(row)}  "
            f"since v{row['since_version']} ({row['since'][:10]})"
        )
        for event in row["history"]:
            before = event["before"]
            was = f": was {_what(before)}{_link(before)}" if before else ""
            lines.append(
                f"    v{event['version']} ({event['date'][:10]}) "
                f"{_KIND_WORDS.get(event['kind'], event['kind'])}{was}"
            )
    return lines or ["no controls found in the latest versions"]


def _what(control: dict[str, Any]) -> str:
    path = " > ".join(control["path"])
    label = control["label"]
    if label is None or (control["path"] and label == control["path"][-1]):
        return path
    return f"{path}  \u201c{label}\u201d" if path else f"\u201c{label}\u201d"


def _link(control: dict[str, Any]) -> str:
    return f"  {control['link']}" if control["link"] else ""
