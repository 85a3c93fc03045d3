"""How an alert (and the controls feed) says a control changed, leading with the move:
"'Allow use of my public content for AI' is now 'Let AI learn from my public content'".

Reads the control changes of a `policywatch.changeset/1` change (`controls`: kind, before and
after, each {path, label, link, sentence}); the kinds of one control (moved and renamed at once)
make one phrase. The phrases are ordered by what matters most to someone who opted out: a control
removed, renamed, moved, a form that moved, then a control added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from alerts.view import items, line, mapping

_ORDER = (
    "control_removed",
    "control_renamed",
    "control_moved",
    "form_link_changed",
    "control_added",
)


def control_phrases(controls: Sequence[Mapping[str, Any]]) -> list[str]:
    """One phrase per control that changed, most important first."""
    grouped: dict[tuple[str, str], tuple[Mapping[str, Any], Mapping[str, Any], set[str]]] = {}
    for change in controls:
        before, after = mapping(change.get("before")), mapping(change.get("after"))
        key = (repr(sorted(before.items())), repr(sorted(after.items())))
        kinds = grouped.setdefault(key, (before, after, set()))[2]
        kinds.add(line(change.get("kind")))
    ranked = sorted(grouped.values(), key=lambda g: min(_rank(k) for k in g[2]))
    return [_phrase(before, after, kinds) for before, after, kinds in ranked]


def _rank(kind: str) -> int:
    return _ORDER.index(kind) if kind in _ORDER else len(_ORDER)


def _phrase(before: Mapping[str, Any], after: Mapping[str, Any], kinds: set[str]) -> str:
    if "control_removed" in kinds:
        where = _where(before)
        return f"{_name(before)} was removed" + (f" (it was in {where})" if where else "")
    if "control_added" in kinds:
        where = _where(after)
        return f"new control {_name(after)}" + (f" in {where}" if where else "")
    parts = []
    if "control_renamed" in kinds:
        parts.append(f"{_name(before)} is now {_name(after)}")
    if "control_moved" in kinds:
        moved = f"now in {_where(after) or 'no menu'} (was {_where(before) or 'no menu'})"
        parts.append(moved if parts else f"{_name(after)} is {moved}")
    if "form_link_changed" in kinds:
        link = line(after.get("link"))
        parts.append(f"its form now at {link}" if parts else f"{_name(after)} now links to {link}")
    return ", ".join(parts)


def _name(control: Mapping[str, Any]) -> str:
    path = [line(step) for step in items(control.get("path"))]
    label = line(control.get("label")) or (path[-1] if path else line(control.get("link")))
    return f"'{label}'"


def _where(control: Mapping[str, Any]) -> str:
    """The menus leading to the control: its path, less its last step when that is the control."""
    path = [line(step) for step in items(control.get("path"))]
    if path and path[-1] == line(control.get("label")):
        path = path[:-1]
    return " > ".join(path)


def controls_of(change: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The control changes of an alert's change: its own list, else those of its blocks."""
    own = items(change.get("controls"))
    if own:
        return [mapping(c) for c in own]
    return [
        mapping(c)
        for block in items(change.get("changes"))
        for c in items(mapping(block).get("controls"))
    ]
