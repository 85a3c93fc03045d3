"""What the CLI shows: history, checks and diffs as plain data (for --json) and as rich renderables.

Nothing here prints; `cli` does. Insertions and deletions are marked `{+added+}` and `[-removed-]`
as well as coloured, so a diff reads the same in a pipe, a log or a colour-blind terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from monitor.errors import UsageError

if TYPE_CHECKING:  # types only: importing them would cost every command a second of start-up
    from monitor.alerting.outbox import Attempt
    from monitor.analysis.topics import TopicRule
    from monitor.check.checker import CheckResult
    from monitor.cli.validate import ValidationReport
    from monitor.config import DocumentSettings, Settings
    from storage.repo import Repo
    from storage.values import VersionOut

OUTCOME_STYLE = {
    "new": "bold green",
    "changed": "bold yellow",
    "technical": "dim",
    "unchanged": "",
    "not_modified": "",
    "flip": "cyan",
    "pending": "magenta",
    "failed": "bold red",
}


def starter_config() -> str:
    return resources.files("monitor.config").joinpath("starter.toml").read_text("utf-8")


def check_line(result: CheckResult) -> Text:
    line = Text()
    line.append(f"{result.slug:<32} ")
    line.append(f"{result.outcome:<12}", style=OUTCOME_STYLE.get(result.outcome, ""))
    if result.version is not None:
        line.append(f" v{result.version}")
    if result.significance:
        line.append(f" {result.significance}")
    if result.topics:
        line.append(" [" + ", ".join(result.topics) + "]")
    if result.changes:
        line.append(f" {result.changes} change{'s' if result.changes != 1 else ''}")
    if result.error_kind or result.message:
        line.append(f" {result.error_kind or 'note'}: {result.message}", style="dim")
    line.append(f" ({result.duration_ms:.0f} ms, {result.fetcher})", style="dim")
    return line


# -- history ---------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def history(repo: Repo, doc: DocumentSettings) -> dict[str, Any]:
    """Versions and changes of a document, newest first (the `history --json` document)."""
    versions = repo.history.recent_versions(doc.slug, 1_000_000)
    changes = repo.history.changes(doc.slug)
    return {
        "schema": "policywatch.history/1",
        "document": {"slug": doc.slug, "name": doc.name, "url": doc.url},
        "versions": [
            {
                "number": v.number,
                "created_at": _iso(v.created_at),
                "technical": v.technical,
                "words": v.words,
                "text_sha256": v.text_sha256,
                "source": v.source,
                "source_commit": v.source_commit,
            }
            for v in versions
        ],
        "changes": [
            {
                "id": c.id,
                "from_version": c.from_version,
                "to_version": c.to_version,
                "created_at": _iso(c.created_at),
                "significance": c.significance,
                "topics": list(c.topics),
                "flags": list(c.flags),
                "changes": c.n_changes,
            }
            for c in changes
        ],
    }


def history_table(data: dict[str, Any]) -> RenderableType:
    by_target = {c["to_version"]: c for c in data["changes"]}
    table = Table(title=f"{data['document']['name']} ({data['document']['slug']})", expand=False)
    for column in ("version", "recorded", "words", "significance", "topics", "changes"):
        table.add_column(column)
    for v in data["versions"]:
        change = by_target.get(v["number"])
        label = f"v{v['number']}" + (" (technical)" if v["technical"] else "")
        label += " (imported)" if v.get("source") else ""
        table.add_row(
            label,
            (v["created_at"] or "")[:16].replace("T", " "),
            f"{v['words']:,}",
            change["significance"] if change else ("first" if v["number"] == 1 else ""),
            ", ".join(change["topics"]) if change else "",
            f"{change['changes']} from v{change['from_version']}" if change else "",
            style="dim" if v["technical"] else None,
        )
    if not data["versions"]:
        return Text("no versions recorded yet; run `policywatch check`")
    return table


# -- checks ----------------------------------------------------------------------------------


def next_checks(repo: Repo, settings: Settings, slug: str | None) -> dict[str, datetime | None]:
    """The next check of each watched document (or of `slug`): its last check plus its
    interval, from the database's watch list (None: never checked, due now)."""
    found = settings.next_checks(repo.pages.watch_list(), repo.checks.last_check_times())
    return {s: at for s, at in found.items() if slug is None or s == slug}


def checks(
    repo: Repo, slug: str | None, limit: int, next_at: Mapping[str, datetime | None]
) -> list[dict[str, Any]]:
    """Recent checks, newest first (the `checks --json` document); `next_check_at` is when the
    check's document is next due (null: no longer watched)."""
    return [
        {
            "document": c.slug,
            "started_at": _iso(c.started_at),
            "finished_at": _iso(c.finished_at),
            "outcome": c.outcome,
            "error_kind": c.error_kind,
            "message": c.message,
            "http_status": c.http_status,
            "fetcher": c.fetcher,
            "duration_ms": round(c.duration_ms, 1),
            "version": c.version,
            "next_check_at": _iso(next_at.get(c.slug)),
        }
        for c in repo.checks.checks(slug, limit)
    ]


def next_checks_table(next_at: Mapping[str, datetime | None], now: datetime) -> RenderableType:
    """When each watched document is checked next: the time, and how long until then."""
    table = Table(expand=False)
    for column in ("document", "next check", "in"):
        table.add_column(column)
    for slug, at in sorted(next_at.items(), key=lambda item: (item[1] or now, item[0])):
        table.add_row(slug, f"{at:%Y-%m-%d %H:%M:%S}" if at else "now", until(at, now))
    return table


def until(at: datetime | None, now: datetime) -> str:
    """ "in 5h 3m", "in 40s", or "due now" for a time already past (or never checked)."""
    seconds = int((at - now).total_seconds()) if at is not None else 0
    if seconds <= 0:
        return "due now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "in " + " ".join(parts[:2] or [f"{secs}s"])


def checks_table(rows: Sequence[dict[str, Any]]) -> RenderableType:
    if not rows:
        return Text("no checks recorded yet; run `policywatch check`")
    table = Table(expand=False)
    for column in ("time", "document", "outcome", "version", "status", "fetcher", "ms", "error"):
        table.add_column(column)
    for row in rows:
        error = (
            f"{row['error_kind']}: {row['message']}"
            if row["error_kind"]
            else (row["message"] or "")
        )
        table.add_row(
            (row["started_at"] or "")[:19].replace("T", " "),
            row["document"],
            Text(row["outcome"], style=OUTCOME_STYLE.get(row["outcome"], "")),
            f"v{row['version']}" if row["version"] else "",
            str(row["http_status"] or ""),
            row["fetcher"],
            f"{row['duration_ms']:.0f}",
            error,
        )
    return table


# -- versions and diffs ----------------------------------------------------------------------


def resolve_version(repo: Repo, slug: str, number: int | None) -> VersionOut:
    """Version N of a document (the latest when N is None), or a UsageError saying what exists."""
    count = repo.history.version_count(slug)
    if count == 0:
        raise UsageError(f"{slug} has no versions yet; run `policywatch check {slug}`")
    chosen = count if number is None else number
    version = repo.history.version(slug, chosen) if 1 <= chosen <= count else None
    if version is None:
        raise UsageError(f"{slug} has no version {chosen} (versions are 1 to {count})")
    return version


def parse_version(value: str) -> int:
    """A version as the user writes it: `2` or `v2` (as `history` prints it)."""
    digits = value[1:] if value[:1] in ("v", "V") else value
    if not digits.isdigit():
        raise UsageError(f"{value!r} is not a version number (like 2 or v2)")
    return int(digits)


def version_at(repo: Repo, slug: str, value: str) -> VersionOut:
    """The version in force at `value`: a day (its end, UTC) or a time (UTC unless it says)."""
    from datetime import UTC, date, datetime, time

    try:
        if len(value) == 10:
            when = datetime.combine(date.fromisoformat(value), time.max, UTC)
        else:
            when = datetime.fromisoformat(value)
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except ValueError:
        raise UsageError(f"--at {value!r} is not a date like 2025-06-01") from None
    found = repo.history.version_at(slug, when)
    if found is None:
        first = repo.history.version(slug, 1)
        since = f" (the first is of {first.created_at:%Y-%m-%d})" if first else ""
        raise UsageError(f"{slug} had no version recorded by {value}{since}")
    return found


def diff_versions(
    repo: Repo, slug: str, old: int | None, new: int | None, topics: Sequence[TopicRule]
) -> dict[str, Any]:
    """The changeset document between two versions (default: the latest and the one before)."""
    after = resolve_version(repo, slug, new)
    before = resolve_version(repo, slug, old if old is not None else max(after.number - 1, 1))
    from monitor.cli.compare import changeset_document
    from monitor.extract.document import Document

    data = changeset_document(
        Document.from_text(before.text), Document.from_text(after.text), topics
    )
    data["from_version"], data["to_version"] = before.number, after.number
    return data


def diff_view(data: dict[str, Any]) -> RenderableType:
    """A changeset document as coloured text grouped by section."""
    if data.get("error"):
        error = data["error"]
        side = f", {error['side']} text" if error.get("side") else ""
        return Text(f"error ({error['kind']}{side}): {error['message']}", style="bold red")
    parts: list[RenderableType] = [_diff_header(data)]
    section: list[str] | None = None
    for change in data["changes"]:
        if change["section"] != section:
            section = change["section"]
            title = " › ".join(section) if section else "(top of the document)"
            parts.append(Text("\n§ " + title, style="bold"))
        parts.append(_change_text(change))
    return Group(*parts)


def _diff_header(data: dict[str, Any]) -> Text:
    header = Text()
    if "from_version" in data:
        header.append(f"v{data['from_version']} → v{data['to_version']}: ", style="bold")
    if not data["changes"]:
        header.append("no changes")
        return header
    n = len(data["changes"])
    header.append(f"{n} change{'s' if n != 1 else ''}, {data['significance']}")
    if data["topics"]:
        header.append(" · topics: " + ", ".join(data["topics"]))
    if data["flags"]:
        header.append(" · flags: " + ", ".join(data["flags"]))
    return header


_MARKS = {"=": ("", "", ""), "-": ("[-", "-]", "red strike"), "+": ("{+", "+}", "green bold")}


def _change_text(change: dict[str, Any]) -> Text:
    text = Text(f"  {change['kind']:<8} ", style="dim")
    for op, words in change["spans"]:
        opening, closing, style = _MARKS[op]
        text.append(opening + words + closing, style=style)
    terms = sorted({f"{t['topic']}: {t['term']}" for t in change.get("topics", [])})
    if terms or change.get("significance"):
        note = change.get("significance", "")
        if terms:
            note += " · " + "; ".join(terms)
        text.append(f"\n           ({note})", style="dim")
    return text


def validation_text(report: ValidationReport) -> Text:
    """One validation report: a verdict line and, when something is wrong, what to try."""
    text = Text()
    text.append("ok   " if report.ok else "FAIL ", style="bold green" if report.ok else "bold red")
    text.append(f"{report.slug}  ({report.fetcher}, HTTP {report.status or '-'})")
    if report.chars is not None:
        text.append(f"  {report.chars:,} chars, {report.words:,} words")
    if report.selector_matched is not None:
        text.append("  selector matched" if report.selector_matched else "  selector missed")
    if report.identical is not None:
        text.append(
            "  identical on two fetches" if report.identical else "  DIFFERENT on two fetches"
        )
    if report.error_kind:
        text.append(f"\n     {report.error_kind}: {report.message}", style="red")
    if report.hint:
        text.append(f"\n     hint: {report.hint}", style="dim")
    return text


# -- alerts ----------------------------------------------------------------------------------


def deliveries(repo: Repo, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Recent deliveries, newest first (the `alerts list --json` document)."""
    return [
        {
            "id": d.id,
            "alert_id": d.alert_id,
            "kind": d.kind,
            "document": d.slug,
            "channel": d.channel,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": _iso(d.next_attempt_at)
            if d.status in ("pending", "failed")
            else None,
            "last_error": d.last_error,
            "created_at": _iso(d.created_at),
            "idempotency_key": d.idempotency_key,
        }
        for d in repo.outbox.deliveries(status, limit)
    ]


DELIVERY_STYLE = {"sent": "green", "pending": "", "failed": "yellow", "dead": "bold red"}


def deliveries_table(rows: Sequence[dict[str, Any]]) -> RenderableType:
    if not rows:
        return Text("no alerts yet")
    table = Table(expand=False)
    for column in (
        "id",
        "created",
        "alert",
        "document",
        "channel",
        "status",
        "tries",
        "next / error",
    ):
        table.add_column(column)
    for row in rows:
        detail = row["last_error"] or ""
        if row["next_attempt_at"]:
            detail = f"next {row['next_attempt_at'][:19].replace('T', ' ')} {detail}".strip()
        table.add_row(
            str(row["id"]),
            (row["created_at"] or "")[:16].replace("T", " "),
            row["kind"],
            row["document"] or "",
            row["channel"],
            Text(row["status"], style=DELIVERY_STYLE.get(row["status"], "")),
            str(row["attempts"]),
            detail,
        )
    return table


def delivery_summary(attempts: Sequence[Attempt]) -> Text:
    """One line per delivery attempt: where it went and how it ended."""
    text = Text()
    for index, attempt in enumerate(attempts):
        if index:
            text.append("\n")
        text.append(f"alert → {attempt.channel}: ")
        text.append(attempt.status, style=DELIVERY_STYLE.get(attempt.status, ""))
        if attempt.error:
            text.append(f" ({attempt.error})", style="dim")
        if attempt.retry_at:
            text.append(f"; next try {attempt.retry_at:%Y-%m-%d %H:%M:%S} UTC", style="dim")
    return text
