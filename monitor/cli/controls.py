"""`policywatch controls`: the controls each watched page describes today, and since when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.analysis.controls import Control, extract_controls
from monitor.config import DocumentSettings
from monitor.extract.document import Document
from storage.repo import Repo


def controls_today(repo: Repo, docs: Sequence[DocumentSettings]) -> list[dict[str, Any]]:
    """Each control of each document's latest version, with the version (and date) it has
    stood unchanged since: path, label and link all the same in every version after it."""
    out: list[dict[str, Any]] = []
    for doc in docs:
        count = repo.history.version_count(doc.slug)
        if count == 0:
            continue
        latest = repo.history.version(doc.slug, count)
        assert latest is not None
        current = extract_controls(Document.from_text(latest.text))
        since = {_key(c): (latest.number, latest.created_at) for c in current}
        alive = set(since)
        for number in range(count - 1, 0, -1):  # walk back while each control is still there
            if not alive:
                break
            older = repo.history.version(doc.slug, number)
            if older is None:
                break
            present = {_key(c) for c in extract_controls(Document.from_text(older.text))}
            for key in list(alive):
                if key in present:
                    since[key] = (older.number, older.created_at)
                else:
                    alive.discard(key)
        for control in current:
            number, at = since[_key(control)]
            out.append(
                {
                    "document": doc.slug,
                    **control.to_json(),
                    "since_version": number,
                    "since": at.isoformat(),
                }
            )
    return out


def _key(control: Control) -> tuple[tuple[str, ...], str | None, str | None]:
    return control.path, control.label, control.link


def controls_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per control: document, path, quoted label when it is not the path's end, link,
    and since when."""
    lines = []
    for row in rows:
        path = " > ".join(row["path"])
        label = row["label"]
        what = (
            path
            if label is None or (row["path"] and label == row["path"][-1])
            else (f"{path}  \u201c{label}\u201d" if path else f"\u201c{label}\u201d")
        )
        link = f"  {row['link']}" if row["link"] else ""
        lines.append(
            f"{row['document']}  {what}{link}  since v{row['since_version']} ({row['since'][:10]})"
        )
    return lines or ["no controls found in the latest versions"]
