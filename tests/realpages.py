"""Access to the real Meta page captures in ../shared/realpages (never copied into this repository).

Reads the archive without unpacking it: one pass over the tar loads the documents asked for,
each capture kept zlib-compressed in memory (the archive unpacks to 1.9 GB). Also translates
Open Terms Archive's declaration of a page into policywatch selectors, and tells which steps
of a capture history changed the visible text, by OTA's own text versions.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.extract.regions import Range, Selector

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE_NAME = "meta-real-pages.tar.xz"
DOCUMENTS = (
    "facebook-privacy-policy-printable-hi",
    "instagram-privacy-policy-hi",
    "whatsapp-privacy-policy-hi",
    "facebook-terms-hi",
    "instagram-terms-help-center-hi",
    "facebook-privacy-explanation-fr",
    "facebook-terms-fr",
    "instagram-privacy-policy-fr",
    "instagram-terms-help-center-fr",
)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*\)")
_WORD = re.compile(r"\w+")


def archive_path() -> Path | None:
    """Where the archive is: $POLICYWATCH_REALPAGES, else ../shared/realpages beside the repo."""
    explicit = os.environ.get("POLICYWATCH_REALPAGES")
    candidates = [Path(explicit)] if explicit else []
    candidates.append(ROOT.parent / "shared" / "realpages" / ARCHIVE_NAME)
    return next((p for p in candidates if p.is_file()), None)


@dataclass(frozen=True, slots=True)
class OtaVersion:
    n: int
    date: str
    snapshot_n: int
    text: str  # OTA's Markdown


@dataclass
class RealDocument:
    """One page's capture history: raw HTML of every capture, OTA's versions and selectors."""

    name: str
    url: str
    language: str
    declaration: dict[str, Any]
    dates: list[str]  # dates[n - 1] is capture n's
    versions: list[OtaVersion]
    _pages: dict[int, bytes] = field(default_factory=dict, repr=False)

    @property
    def captures(self) -> int:
        return len(self.dates)

    def html(self, n: int) -> bytes:
        """The raw bytes of capture n (1-based)."""
        return zlib.decompress(self._pages[n])

    def ota_select(self) -> tuple[Selector, ...]:
        return translate(self.declaration.get("select"))

    def ota_remove(self) -> tuple[Selector, ...]:
        return translate(self.declaration.get("remove"))

    def version_at(self, n: int) -> OtaVersion:
        """OTA's text version in force at capture n."""
        current = self.versions[0]
        for version in self.versions:
            if version.snapshot_n > n:
                break
            current = version
        return current

    def text_changed(self, n: int) -> bool:
        """Whether the visible words of OTA's region changed from capture n - 1 to capture n."""
        return visible_words(self.version_at(n).text) != visible_words(self.version_at(n - 1).text)


def translate(value: object) -> tuple[Selector, ...]:
    """OTA's `select` or `remove` (a CSS string, a range object, or a list of them)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[Selector] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        else:
            start = item.get("startBefore") or item.get("startAfter")
            end = item.get("endBefore") or item.get("endAfter")
            out.append(Range(start, end, "startAfter" in item, "endBefore" in item))
    return tuple(out)


def visible_words(markdown: str) -> list[str]:
    """The words a reader sees in an OTA version: no link targets, no images, and one copy of a
    text that OTA's selector captured twice (its `hr+div` matched two elements on some days)."""
    words = _WORD.findall(_TARGET.sub("]", _IMAGE.sub(" ", markdown)))
    half = len(words) // 2
    if half and len(words) % 2 == 0 and words[:half] == words[half:]:
        return words[:half]
    return words


_CACHE: dict[str, RealDocument] = {}


def load(names: Iterable[str] = DOCUMENTS) -> list[RealDocument]:
    """The documents asked for, read in one pass over the archive (cached)."""
    wanted = [name for name in names if name not in _CACHE]
    if wanted:
        _read(set(wanted))
    return [_CACHE[name] for name in names]


def _read(wanted: set[str]) -> None:
    path = archive_path()
    if path is None:
        raise FileNotFoundError("the real pages archive is not present (../shared/realpages)")
    members: dict[str, dict[str, bytes]] = {name: {} for name in wanted}
    with tarfile.open(path, "r:xz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if len(parts) < 3 or parts[1] not in wanted or not member.isfile():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            data = handle.read()
            local = "/".join(parts[2:])
            members[parts[1]][local] = zlib.compress(data, 1) if local.endswith(".html") else data
    for name, files in members.items():
        index = json.loads(files["index.json"])
        declaration = index["ota_declaration"]
        document = RealDocument(
            name=name,
            url=index.get("source_url") or declaration["fetch"],
            language=index.get("language", ""),
            declaration=declaration,
            dates=[s["date"] for s in index["snapshots"]],
            versions=[
                OtaVersion(v["n"], v["date"], v["snapshot_n"], files[v["file"]].decode("utf-8"))
                for v in index["versions"]
            ],
        )
        document._pages = {s["n"]: files[s["file"]] for s in index["snapshots"]}
        _CACHE[name] = document
