"""Controls as facts: the settings paths, labels and form links a page describes, and how they
changed between two versions (moved, renamed, added, removed, a form that now lives elsewhere).

A path is the ordered menu steps a sentence tells people to follow, however the page writes
them: "Settings & privacy > Accounts Center > Ad preferences" (or arrows, angle quotes),
"tap Settings, then tap Privacy, then Data use for AI", or numbered steps, one list item each ("Go
to Settings", "Tap Accounts Center", "Turn off Data use for AI"). A step is a menu name: a few
words (STEP_WORDS at most) starting with a capital letter, after a verb (tap, select, go to,
turn off...) or between separators. Bold is not kept by extraction, so a bolded menu name is
found by the verb before it and its capital. A control's label is the name the sentence quotes
("Allow use of my public content"), else the path's last step; its link is a form or settings
page the sentence links to; a form link with no path or quoted name is a control named by the
link's words ("use [the objection form](...)"), unless they only say how to reach the company
("contact us"). Pure functions; no I/O.

Not controls: a line that is only a path of links (a breadcrumb that escaped extraction's chrome
removal), a line that is one link to a page that is not a form (a related article), generic
buttons at the end of steps ("Tap Save"), prose with arrows or "then".

Identity over time: the same control in two versions is matched by what it does: the same path,
label and link, else its label, else the last step of its path, else its link, else the menu
leading to it (two steps or more), else the words of its sentence besides its menus and name
(SHAPE_WORDS or more), so a moved path or a renamed label reads as one control that
moved or was renamed, not one removed and one added.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.analysis.links import destination
from monitor.analysis.significance import cosmetic_form
from monitor.analysis.topics import split_sentences
from monitor.extract.document import Block, Document

ControlChangeKind = Literal[
    "control_moved", "control_renamed", "control_added", "control_removed", "form_link_changed"
]


@dataclass(frozen=True, slots=True)
class Control:
    path: tuple[str, ...]
    label: str | None
    link: str | None
    sentence: str

    def to_json(self) -> dict[str, object]:
        return {
            "path": list(self.path),
            "label": self.label,
            "link": self.link,
            "sentence": self.sentence,
        }


@dataclass(frozen=True, slots=True)
class ControlChange:
    kind: ControlChangeKind
    before: Control | None
    after: Control | None

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "before": self.before.to_json() if self.before else None,
            "after": self.after.to_json() if self.after else None,
        }


STEP_WORDS = 8
"""A menu step is short: a longer run between two separators is prose, not a menu name."""

_LINK = re.compile(r"\[([^\]]*)\]\(((?:[^()\s]|\([^()\s]*\))*)\)")
_SEPARATOR = re.compile(r"\s+(?:>|→|›|»|->)\s+")
_QUOTED = re.compile(r"[\"“‘']([^\"“”‘’']{3,80})[\"”’']")
_VERB = r"(?:tap|click|select|choose|open|go\s+to|(?:turn|switch)\s+(?:on|off)|toggle)"
_THEN_SPLIT = re.compile(r",?\s+(?:and\s+)?then\s+", re.I)
_VERB_AT = re.compile(rf"\b{_VERB}\s+(?:on\s+)?", re.I)
_LEAD = re.compile(rf".*\b(?:{_VERB}|in|under|from|at|via)\s+(?=\S)", re.I)
_NEXT_VERB = (
    r"(?:turn|tap|click|select|choose|open|switch|toggle|go|fill|submit|follow|review|use"
    r"|complete|enter|find|scroll|check|change|press|confirm|save)\b"
)
"""Verbs that start the next instruction after "and": "Your choices and fill in the form"."""
_TRAIL = re.compile(r"[\s,.;:!?)]+$")
_LAST_END = re.compile(
    rf"[.;:!?](?:\s|$)|,\s|\)|\s+(?:to|where|which|then|if)\s|\s+and\s+(?={_NEXT_VERB})",
    re.I,
)
_FORM_HINT = re.compile(r"help/contact|/settings|accountscenter|privacy/center|/form", re.I)


_STEP_NUMBER = re.compile(r"^\s*(?:step\s+)?\d{1,2}\s*[.):]\s+", re.I)
_ONE_STEP = re.compile(rf"^{_VERB}\s+(?:on\s+)?(?P<step>.+)$", re.I)
_STEP_END = re.compile(
    r"[.;:!?](?:\s|$)|,\s|\s+(?:to|where|which|then|if|so|for\s+(?:the|your|each))\s"
    r"|\s+(?:in|at|on|from|under|near|beside|next\s+to)\s+(?:the|a)\s|\s+(?:below|above)\b"
    rf"|\s+and\s+(?={_NEXT_VERB}|then\b)",
    re.I,
)
_BUTTONS = frozenset(
    {"save", "submit", "done", "confirm", "continue", "next", "ok", "send", "back", "cancel"}
    | {"close", "apply", "update"}
)
"""Buttons that end a series of steps: the step before them is the control."""
RUN_SHARE = 0.5
"""A list is a series of steps when at least this share of its items are steps (two or more)."""


def extract_controls(doc: Document) -> list[Control]:
    """Every control the document describes, in document order."""
    return [control for control, _ in locate_controls(doc)]


def locate_controls(doc: Document) -> list[tuple[Control, tuple[int, ...]]]:
    """Every control the document describes, with the indices of the blocks that describe it:
    a sentence with a path (or a quoted name and a form link), or a list of steps, one item each
    (items of one list, or paragraphs numbered "1.", "2.", ...), read as one path."""
    found: list[tuple[Control, tuple[int, ...]]] = []
    blocks = doc.blocks
    i = 0
    while i < len(blocks):
        run = _step_run(blocks, i)
        if run:
            control = _run_control([blocks[j].text for j in run])
            if control is not None:
                found.append((control, tuple(run)))
                i = run[-1] + 1
                continue
        block = blocks[i]
        if block.kind != "heading":
            text = block.text
            for start, end in split_sentences(text):
                control = _control(text[start:end].strip())
                if control is not None:
                    found.append((control, (i,)))
        i += 1
    return _once(found)


def _once(
    found: list[tuple[Control, tuple[int, ...]]],
) -> list[tuple[Control, tuple[int, ...]]]:
    """Each control once: the same path, label and link told again (a section repeated, a
    summary restating a step) is the same control, described by all its blocks, shown by its
    first sentence. Counting repeats would make one mention dropped read as a control removed."""
    merged: dict[tuple[tuple[str, ...], str | None, str | None], int] = {}
    out: list[tuple[Control, tuple[int, ...]]] = []
    for control, blocks in found:
        key = (control.path, _fold(control.label), _leads(control.link))
        at = merged.get(key)
        if at is None:
            merged[key] = len(out)
            out.append((control, blocks))
        else:
            first, seen = out[at]
            out[at] = (first, tuple(sorted({*seen, *blocks})))
    return out


def _listed(block: Block) -> bool:
    return block.kind == "item" or (
        block.kind == "paragraph" and _STEP_NUMBER.match(block.text) is not None
    )


def _step_run(blocks: Sequence[Block], start: int) -> list[int]:
    """The indices of the list starting at `start` when it reads as a series of steps (at least
    two items that name a menu, and at least RUN_SHARE of its items), else []."""
    if not _listed(blocks[start]) or (start and _listed(blocks[start - 1])):
        return []
    end = start
    while end < len(blocks) and _listed(blocks[end]) and blocks[end].level == blocks[start].level:
        end += 1
    steps = [i for i in range(start, end) if _item_steps(blocks[i].text)]
    if len(steps) < 2 or len(steps) < RUN_SHARE * (end - start):
        return []
    return list(range(steps[0], steps[-1] + 1))


def _item_steps(text: str) -> list[str]:
    """The menu steps one list item names, in order: a path in one of its sentences, or the
    menu after the verb that starts it ("Tap Accounts Center at the bottom")."""
    words = _LINK.sub(r"\1", _STEP_NUMBER.sub("", text, count=1))
    out: list[str] = []
    for start, end in split_sentences(words):
        sentence = words[start:end].strip()
        path = _path(sentence)
        if path:
            out.extend(path)
            continue
        m = _ONE_STEP.match(sentence)
        if m:
            step = _clean(_STEP_END.split(m.group("step"), maxsplit=1)[0])
            quoted = _QUOTED.search(m.group("step"))
            if quoted and not _menu_name(step):
                step = _clean(quoted.group(1))
            if _menu_name(step):
                out.append(step)
    return out


def _run_control(texts: Sequence[str]) -> Control | None:
    steps = [step for text in texts for step in _item_steps(text)]
    while steps and steps[-1].casefold() in _BUTTONS:
        steps.pop()
    if len(steps) < 2:
        return None
    sentence = " ".join(texts)
    words = _LINK.sub(r"\1", sentence)
    labels = [m.group(1).strip() for m in _QUOTED.finditer(words)]
    label = next((q for q in reversed(labels) if q not in steps), None)
    links = [m.group(2) for m in _LINK.finditer(sentence)]
    link = next((u for u in links if _FORM_HINT.search(u)), None)
    return Control(tuple(steps), label or steps[-1], link, sentence)


def _control(sentence: str) -> Control | None:
    if _breadcrumb(sentence) or _link_only(sentence):
        return None
    words = _LINK.sub(r"\1", sentence)
    path = _path(words)
    labels = [m.group(1).strip() for m in _QUOTED.finditer(words)]
    label = next((q for q in labels if q not in path), None)
    forms = [
        (m.group(1), m.group(2)) for m in _LINK.finditer(sentence) if _FORM_HINT.search(m.group(2))
    ]
    link = forms[0][1] if forms else None
    if not path and not label and forms and _names_a_form(forms[0][0]):
        label = _clean(forms[0][0])  # "use [the objection form](...)": the form, named by its link
    if not path and not (label and link):
        return None
    return Control(tuple(path), label or (path[-1] if path else None), link, sentence)


_NOT_A_NAME = re.compile(
    r"\bcontact|\bcontacter\b|कॉन्टैक्ट|^(?:online|en ligne|click here|cliquez ici|this link)$",
    re.I,
)
"""Link words that name no control: a way to reach the company ("contact us", "nous contacter"),
or no name at all ("online")."""


def _names_a_form(anchor: str) -> bool:
    """Whether a form link's words name what it does: two words or more, not a contact link."""
    words = _clean(anchor)
    return len(words.split()) >= 2 and not _NOT_A_NAME.search(words)


def _breadcrumb(sentence: str) -> bool:
    """A line that is only a path whose steps are mostly links: a breadcrumb, page chrome."""
    parts = _SEPARATOR.split(sentence.strip())
    linked = sum(1 for part in parts if _LINK.fullmatch(part.strip()))
    return len(parts) >= 2 and 2 * linked >= len(parts)


def _link_only(sentence: str) -> bool:
    """A line that is one link to a page that is not a form: a related article's title, even
    one that names menus ("[Settings > Privacy > Who can see your posts](...)")."""
    m = _LINK.fullmatch(sentence.strip())
    return m is not None and not _FORM_HINT.search(m.group(2))


def _separated_path(text: str) -> list[str]:
    parts = _SEPARATOR.split(text)
    if len(parts) < 2:
        return []
    lead = re.split(r": |\(", parts[0])[-1]  # "Where to find it: Settings", "(Settings"
    first = _strip_verb(_LEAD.sub("", lead, count=1))
    last = _LAST_END.split(parts[-1], maxsplit=1)[0]
    steps = [_clean(s) for s in (first, *parts[1:-1], last)]
    if any(not _menu_name(s) for s in steps):
        return []
    return steps


def _menu_name(step: str) -> bool:
    """A menu step: a few words, starting with a capital letter (menus are named in title or
    sentence case: "Settings & privacy", "Accounts Center"), or with a letter of a script that
    has no case (Hindi: "सेटिंग्स")."""
    if not step or len(step.split()) > STEP_WORDS:
        return False
    first = step[0]
    return first.isupper() or (first.isalpha() and first.lower() == first.upper())


def _then_path(text: str) -> list[str]:
    """The steps of "tap Settings, then tap Privacy, then Data use for AI": after the last verb
    before the first "then", one menu per part (a part may hold a `>` path); the walk stops at
    the first part that names no menu ("then scroll down")."""
    parts = _THEN_SPLIT.split(text)
    if len(parts) < 2:
        return []
    verbs = list(_VERB_AT.finditer(parts[0]))
    if not verbs:
        return []
    parts[0] = parts[0][verbs[-1].end() :]
    steps: list[str] = []
    for part in parts:
        words = _STEP_END.split(_strip_verb(part), maxsplit=1)[0]
        names = [_clean(name) for name in _SEPARATOR.split(words)]
        if not all(_menu_name(name) for name in names):
            break
        steps.extend(names)
    return steps if len(steps) >= 2 else []


def _path(text: str) -> list[str]:
    """The longer of the `>` path and the "then" path of a sentence (both when it mixes them:
    "Select Settings & privacy > Settings, then tap Ad preferences")."""
    return max(_separated_path(text), _then_path(text), key=len)


def _strip_verb(step: str) -> str:
    return re.sub(rf"^\s*{_VERB}\s+(?:on\s+)?", "", step.strip(), flags=re.I)


def _clean(step: str) -> str:
    step = _TRAIL.sub("", step.strip().strip("\"“”‘’'*"))
    return re.sub(r"^(?:the|your)\s+(?=[A-Z])", "", step)


# -- changes -----------------------------------------------------------------------------------


def diff_controls(before: Sequence[Control], after: Sequence[Control]) -> list[ControlChange]:
    """How the controls changed: each control of `after` is matched with one of `before` by its
    label, else the last step of its path, else its link; matched ones that differ moved, were
    renamed or point to another form; the rest were added or removed."""
    changes: list[ControlChange] = []
    removed: list[ControlChange] = []
    for old, new in match_controls(before, after):
        if old is None:
            changes.append(ControlChange("control_added", None, new))
        elif new is None:
            removed.append(ControlChange("control_removed", old, None))
        else:
            changes.extend(differences(old, new))
    return changes + removed


def match_controls(
    before: Sequence[Control], after: Sequence[Control]
) -> list[tuple[Control | None, Control | None]]:
    """Each control of `after` with the control of `before` it is (or None: added), in the order
    of `after`, then the controls of `before` left unmatched (with None: removed). The keys are
    tried strongest first across all controls (every same label is paired before any same menu),
    so a control renamed where it stands does not take the place of its neighbour."""
    old_of: dict[int, Control] = {}
    taken: set[int] = set()
    for key in _KEYS:
        for n, new in enumerate(after):
            if n in old_of:
                continue
            old = next((c for c in before if id(c) not in taken and key(c, new)), None)
            if old is not None:
                old_of[n] = old
                taken.add(id(old))
    pairs: list[tuple[Control | None, Control | None]] = [
        (old_of.get(n), new) for n, new in enumerate(after)
    ]
    pairs.extend((old, None) for old in before if id(old) not in taken)
    return pairs


def _fold(text: str | None) -> str:
    """A name as compared across versions: case, typography and spacing aside."""
    return cosmetic_form(text or "").casefold()


def _where(control: Control) -> tuple[str, ...]:
    """The menu steps that lead to the control: its path, less the last step when that step is
    the control itself (no quoted name)."""
    path = tuple(_fold(s) for s in control.path)
    if path and control.label is not None and _fold(control.label) == path[-1]:
        return path[:-1]
    return path


def _same_control(a: Control, b: Control) -> bool:
    return (a.path, a.label, _leads(a.link)) == (b.path, b.label, _leads(b.link))


def _same_label(a: Control, b: Control) -> bool:
    return bool(a.label) and _fold(a.label) == _fold(b.label)


def _same_end(a: Control, b: Control) -> bool:
    return bool(a.path and b.path) and _fold(a.path[-1]) == _fold(b.path[-1])


def _same_link(a: Control, b: Control) -> bool:
    return bool(a.link) and _leads(a.link) == _leads(b.link)


def _leads(link: str | None) -> str | None:
    """Where a control's link leads (a tracking parameter changed is the same form)."""
    return destination(link) if link else None


def _same_place(a: Control, b: Control) -> bool:
    """The same menu leading to it (two steps or more): a setting renamed where it stands."""
    return len(_where(a)) >= 2 and _where(a) == _where(b)


SHAPE_WORDS = 4
"""Words a sentence must say besides its menus, label and link for its shape to identify it."""


def _same_words(a: Control, b: Control) -> bool:
    """The same sentence around other menus and another name ("To stop this, go to ... and turn
    it off."): a control moved and renamed at once, where nothing else changed."""
    shape = _shape(a)
    return len(shape.split()) >= SHAPE_WORDS and shape == _shape(b)


def _shape(control: Control) -> str:
    text = _LINK.sub(r"\1", control.sentence)
    names = sorted({*control.path, *([control.label] if control.label else [])}, key=len)
    for name in reversed(names):  # longest first: "Privacy" inside "Privacy Center" stays whole
        text = text.replace(name, " ")
    return " ".join(re.findall(r"\w+", text.casefold()))


_KEYS: tuple[Callable[[Control, Control], bool], ...] = (
    _same_control,
    _same_label,
    _same_end,
    _same_link,
    _same_place,
    _same_words,
)


def differences(old: Control, new: Control) -> list[ControlChange]:
    out: list[ControlChange] = []
    if _where(old) != _where(new):
        out.append(ControlChange("control_moved", old, new))
    if _fold(old.label) != _fold(new.label):
        out.append(ControlChange("control_renamed", old, new))
    if old.link and new.link and _leads(old.link) != _leads(new.link):
        out.append(ControlChange("form_link_changed", old, new))
    return out


@dataclass(frozen=True, slots=True)
class LocatedChange:
    """A control change with the blocks that describe the control, in each document."""

    change: ControlChange
    old_blocks: tuple[int, ...]
    new_blocks: tuple[int, ...]


def located_changes(old: Document, new: Document) -> list[LocatedChange]:
    """`diff_controls` of two documents, each change with the blocks it concerns."""
    before, after = locate_controls(old), locate_controls(new)
    where = {id(c): blocks for c, blocks in (*before, *after)}
    changes = diff_controls([c for c, _ in before], [c for c, _ in after])
    return [
        LocatedChange(
            change,
            where[id(change.before)] if change.before is not None else (),
            where[id(change.after)] if change.after is not None else (),
        )
        for change in changes
    ]


def controls_json(old: Document, new: Document) -> dict[str, object]:
    """The `controls` field of a changeset document."""
    before, after = extract_controls(old), extract_controls(new)
    return {
        "before": [c.to_json() for c in before],
        "after": [c.to_json() for c in after],
        "changes": [c.to_json() for c in diff_controls(before, after)],
    }
