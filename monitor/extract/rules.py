"""Which part of a page is the document, as one value: the rules a document is extracted with.

`ExtractRules` is the one owner of a document's selectors: validated once (monitor.extract.regions
does the parsing), hashed into `digest` (a stored version records the rules it was extracted
with), and the source of what a browser waits for (`wait_for`) and of the attributes the
fingerprint keeps (`read_attributes`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from hashlib import sha256

from monitor.extract.regions import Selector, check_css, css_strings, to_json, wait_selectors

_UNSUPPORTED = re.compile(r"[:\\|]")
_ATTRIBUTE = re.compile(r"\[\s*([^\s~|^$*!=\]]+)")

NORMALIZER_VERSION = "6"
"""Bumped whenever the same page and rules would give a different text (enters the digest)."""


@dataclass(frozen=True, slots=True)
class ExtractRules:
    """Which part of a page is the document (monitor.extract.regions); raises ValueError on a
    selector that cannot parse."""

    select: tuple[Selector, ...] = ()
    remove: tuple[Selector, ...] = ()
    min_chars: int = 200

    def __post_init__(self) -> None:
        for selector in (*self.select, *self.remove):
            if isinstance(selector, str):
                check_css(selector)
        if self.min_chars < 0:
            raise ValueError(f"min_chars must be 0 or more, not {self.min_chars}")

    @property
    def wait_for(self) -> tuple[str, ...]:
        """The CSS selectors a browser waits for before the page counts as rendered."""
        return wait_selectors(self.select)

    @property
    def read_attributes(self) -> frozenset[str] | None:
        """The attributes the selectors may read (`#` reads id, `.` class, `[name]` name), or
        None when that cannot be told (pseudo-classes, namespaces, escapes could read anything)."""
        names: set[str] = set()
        for selector in css_strings((*self.select, *self.remove)):
            if _UNSUPPORTED.search(selector):
                return None
            if "#" in selector:
                names.add("id")
            if "." in selector:
                names.add("class")
            names.update(name.lower() for name in _ATTRIBUTE.findall(selector))
        return frozenset(names)

    @property
    def digest(self) -> str:
        payload = {
            "normalizer": NORMALIZER_VERSION,
            "select": [to_json(s) for s in self.select],
            "remove": [to_json(s) for s in self.remove],
            "min_chars": self.min_chars,
        }
        return sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
