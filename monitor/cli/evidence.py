"""The evidence commands: `snapshot` (a version's stored page, byte for byte), `export warc`
(stored pages as a WARC file) and `verify` (a WARC file checked against the database).

Imports here are cheap; each command loads storage and warcio when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from contextlib import suppress
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import PolicywatchError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.config import Settings
    from storage.repo import Repo
    from storage.values import SnapshotMeta, SnapshotOut

PROGRESS_EVERY = 100  # snapshots between two progress lines of an export

_VERSION = re.compile(r"v?([0-9]+)", re.IGNORECASE)


def version_number(text: str) -> int:
    """`3` or `v3`."""
    found = _VERSION.fullmatch(text.strip())
    if found is None or int(found.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number like 3 or v3")
    return int(found.group(1))


def add_commands(
    sub: argparse._SubParsersAction[Any],
    common: argparse.ArgumentParser,
    parser_class: type[argparse.ArgumentParser],
) -> None:
    snapshot = sub.add_parser(
        "snapshot",
        parents=[common],
        help="the page a version was read from, byte for byte, with its headers and SHA-256",
    )
    snapshot.add_argument("slug", metavar="SLUG")
    snapshot.add_argument(
        "number", nargs="?", type=version_number, metavar="N", help="3 or v3 (default: latest)"
    )
    snapshot.add_argument("-o", "--output", metavar="FILE", help="write the bytes here")
    snapshot.add_argument(
        "--info", action="store_true", help="print the metadata as JSON instead of the bytes"
    )

    export = sub.add_parser("export", parents=[common], help="export the stored pages")
    formats = export.add_subparsers(dest="export_format", required=True, parser_class=parser_class)
    warc = formats.add_parser(
        "warc", parents=[common], help="every stored page as WARC records (readable by warcio)"
    )
    warc.add_argument("slugs", nargs="*", metavar="SLUG")
    warc.add_argument("--since", metavar="DATE", help="fetched (or read again) on or after DATE")
    warc.add_argument("--until", metavar="DATE", help="fetched (or read again) up to DATE")
    warc.add_argument("-o", "--output", metavar="FILE.warc.gz", required=True)

    verify = sub.add_parser(
        "verify", parents=[common], help="check a WARC file's pages and hashes against the database"
    )
    verify.add_argument("file", metavar="FILE.warc.gz")
    verify.add_argument("--quiet", action="store_true", help="print only what does not match")


# -- snapshot ---------------------------------------------------------------------------------


def cmd_snapshot(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.daemon.runtime import open_store
    from monitor.evidence.describe import no_page, snapshot_info

    if args.info and args.output:
        raise UsageError("--info prints the metadata and writes no file: drop -o or --info")
    if settings.document(args.slug) is None:
        known = ", ".join(d.slug for d in settings.documents) or "none"
        raise UsageError(f"unknown document {args.slug!r} (known: {known})")
    repo = open_store(settings).repo
    number = _version(repo, args.slug, args.number)
    snap = repo.evidence.version_snapshot(args.slug, number)
    if snap is None:
        raise PolicywatchError(no_page(args.slug, number, repo.history.version(args.slug, number)))
    info = snapshot_info(snap, number)
    if args.info:
        out.print(json.dumps(info, indent=2, ensure_ascii=False), markup=False, soft_wrap=True)
        return 0
    if args.output:
        _write_file(Path(args.output), snap.body)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(snap.body)
        sys.stdout.buffer.flush()
    _err().print(_summary(snap, number), markup=False, highlight=False)
    return 0


def _version(repo: Repo, slug: str, number: int | None) -> int:
    count = repo.history.version_count(slug)
    if count == 0:
        raise UsageError(f"{slug} has no versions yet; run `policywatch check {slug}`")
    chosen = count if number is None else number
    if not 1 <= chosen <= count:
        raise UsageError(f"{slug} has no version {chosen} (versions are 1 to {count})")
    return chosen


def _summary(meta: SnapshotMeta | SnapshotOut, number: int) -> str:
    lines = [
        f"{meta.slug} v{number}: HTTP {meta.status} {meta.content_type}, {meta.size:,} bytes",
        f"url:     {meta.final_url}"
        + (f" (asked {meta.url})" if meta.url != meta.final_url else ""),
        f"fetched: {meta.fetched_at.isoformat()}",
        f"sha256:  {meta.body_sha256}",
    ]
    return "\n".join(lines)


def _write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all."""
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: {path.parent} is not a directory")
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(temporary)
        raise PolicywatchError(f"cannot write {path}: {exc.strerror or exc}") from None


# -- export warc ------------------------------------------------------------------------------


def cmd_export(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.daemon.runtime import open_store
    from monitor.evidence.warc import export_warc
    from storage.blobs import BlobError

    target = Path(args.output)
    if not target.name.endswith((".warc", ".warc.gz")):
        raise UsageError(f"-o {target}: the file name must end in .warc.gz (or .warc)")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: {target.parent} is not a directory")
    since = parse_when(args.since, "--since", end=False)
    until = parse_when(args.until, "--until", end=True)
    if since and until and since >= until:
        raise UsageError(f"--since {args.since} is not before --until {args.until}")
    repo = open_store(settings).repo
    known = {page.slug for page in repo.pages.pages()}
    for slug in args.slugs:
        if slug not in known:
            raise UsageError(f"unknown document {slug!r} (known: {', '.join(sorted(known))})")
    ids = repo.evidence.select(args.slugs, since, until)
    err = _err()

    def progress(done: int, total: int) -> None:
        err.print(f"exported {done}/{total} pages", highlight=False)

    info = {
        "software": "policywatch",
        "format": "WARC File Format 1.1",
        "description": "pages policywatch fetched and stored, with the versions read from them",
        "documents": " ".join(args.slugs) or "all",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    try:
        done = export_warc(
            repo.evidence, ids, target, info=info, progress=progress, every=PROGRESS_EVERY
        )
    except OSError as exc:
        raise PolicywatchError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BlobError as exc:
        raise PolicywatchError(f"export stopped, {target} not written: {exc}") from None
    out.print(
        f"wrote {done.path}: {done.snapshots} pages of {done.pages} documents, "
        f"{done.records} records, {done.size:,} bytes",
        highlight=False,
    )
    return 0


def parse_when(value: str | None, option: str, *, end: bool) -> datetime | None:
    """A day (its start; with `end`, the start of the next day) or an ISO time, as UTC."""
    if value is None:
        return None
    with suppress(ValueError):
        day = date.fromisoformat(value)
        return datetime.combine(day + timedelta(days=1 if end else 0), time.min, UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date like 2026-03-01") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# -- verify -----------------------------------------------------------------------------------


def cmd_verify(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.daemon.runtime import open_store
    from monitor.evidence.verify import WarcFileError, verify_warc

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    repo = open_store(settings).repo
    try:
        result = verify_warc(path, repo.evidence)
    except WarcFileError as exc:
        raise UsageError(str(exc)) from None
    for check in result.records:
        if check.ok and args.quiet:
            continue
        versions = ",".join(f"v{n}" for n in check.versions) or "-"
        head = f"{'ok' if check.ok else 'MISMATCH'}  {check.document or '?'} {versions}  "
        head += f"{check.date}  {check.target_uri}  sha256:{check.sha256}"
        lines = [head, *(f"    {problem}" for problem in check.problems)]
        out.print("\n".join(lines), markup=False, highlight=False)
    bad = sum(1 for check in result.records if not check.ok)
    out.print(
        f"{len(result.records)} pages checked: {len(result.records) - bad} match, {bad} do not",
        highlight=False,
    )
    if result.error:
        raise PolicywatchError(result.error)
    return 0 if result.ok else 1


def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)
