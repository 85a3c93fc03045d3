"""The check of a WARC file against the database: every response record's payload is read
again and hashed; the hash must be the record's own `WARC-Payload-Digest` (warcio checks the
block digests of it and of its metadata record too), the database must hold a page of the
record's document with exactly those bytes (whose stored body still hashes to them), fetched
at the record's `WARC-Date` from its `WARC-Target-URI`, and each version the metadata record
names must be in the database, read from that page, with the same canonical-text SHA-256.

A file that cannot be read as WARC stops the check where it breaks: what was read before is
still reported, with the error.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from monitor.evidence.warc import METADATA_SCHEMA, label_hex, warc_date
from storage.evidence import EvidenceStore
from storage.values import SnapshotOut

_BLOCK = 1 << 20


@dataclass
class RecordCheck:
    """One response record: where it is, what it claims, and what does not match."""

    offset: int
    record_id: str
    target_uri: str
    date: str
    sha256: str  # of the payload as read now
    document: str | None = None
    versions: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Verified:
    records: list[RecordCheck]
    error: str | None = None  # the file stopped being readable here

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.records)


class WarcFileError(Exception):
    """The file is missing or cannot be opened."""


def verify_warc(path: Path, store: EvidenceStore) -> Verified:
    """Check every response record of `path` against the database behind `store`."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise WarcFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    responses: list[RecordCheck] = []
    metadata: dict[str, dict[str, Any]] = {}
    error = None
    seen = 0
    with handle:
        records = ArchiveIterator(handle, check_digests=True)
        try:
            for record in records:
                check = _read(record, metadata)
                if check is not None:  # the offset is known once the record was read
                    check.offset = records.get_record_offset()
                    responses.append(check)
                seen += 1
        except (ArchiveLoadFailed, zlib.error, EOFError, OSError, ValueError) as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            error = f"{path} is not a readable WARC file (after {seen} records): {detail}"
        if error is None and not seen:
            error = f"{path} holds no WARC record"
    for check in responses:
        _against_database(check, metadata.get(check.record_id), store)
    return Verified(responses, error)


def _read(record: Any, metadata: dict[str, dict[str, Any]]) -> RecordCheck | None:
    """A response record's check of itself; a metadata record is kept for later (with what
    its own digests say)."""
    if record.format != "warc":  # warcio also reads ARC, and takes some text files for it
        raise ValueError(f"an {record.format.upper()} record where a WARC record should be")
    headers = record.rec_headers
    digest = hashlib.sha256()
    data = bytearray()
    for block in _blocks(record):
        digest.update(block)
        if record.rec_type == "metadata":
            data += block
    digest_problems = (
        list(record.digest_checker.problems) if record.digest_checker.passed is False else []
    )
    if record.rec_type == "metadata":
        _keep_metadata(headers.get_header("WARC-Concurrent-To"), data, digest_problems, metadata)
        return None
    if record.rec_type != "response":
        return None
    check = RecordCheck(
        offset=0,
        record_id=headers.get_header("WARC-Record-ID") or "",
        target_uri=headers.get_header("WARC-Target-URI") or "",
        date=headers.get_header("WARC-Date") or "",
        sha256=digest.hexdigest(),
    )
    declared = label_hex(headers.get_header("WARC-Payload-Digest"))
    if declared is None:
        check.problems.append("no SHA-256 WARC-Payload-Digest")
    elif declared != check.sha256:
        check.problems.append(
            f"the payload's SHA-256 is {check.sha256}, its WARC-Payload-Digest says {declared}"
        )
    check.problems.extend(p for p in digest_problems if "block" in p)
    return check


def _blocks(record: Any) -> Iterator[bytes]:
    """The record's payload, read whole; a record shorter than its Content-Length is an error
    of the file (cut short), not a mismatch."""
    size = record.http_headers.total_len if record.http_headers else 0
    while block := record.raw_stream.read(_BLOCK):
        size += len(block)
        yield block
    if record.length is not None and size < int(record.length):
        kind = record.rec_type
        raise ValueError(f"a {kind} record is cut short: {size} of its {record.length} bytes")


def _keep_metadata(
    concurrent: str | None,
    data: bytes | bytearray,
    problems: list[str],
    metadata: dict[str, dict[str, Any]],
) -> None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return  # another tool's metadata
    if concurrent and isinstance(parsed, dict) and parsed.get("schema") == METADATA_SCHEMA:
        parsed["_problems"] = [f"its metadata record: {p}" for p in problems]
        metadata[concurrent] = parsed


def _against_database(
    check: RecordCheck, meta: dict[str, Any] | None, store: EvidenceStore
) -> None:
    if meta is None:
        check.problems.append("no policywatch metadata record names its document")
        return
    check.problems.extend(meta.get("_problems", []))
    check.document = str(meta.get("document"))
    wanted = [v for v in meta.get("versions", []) if isinstance(v, dict)]
    check.versions = [int(v.get("number", 0)) for v in wanted]
    snap = store.snapshot_by_digest(check.document, check.sha256)
    if snap is None:
        check.problems.append(
            f"the database has no page of {check.document!r} with SHA-256 {check.sha256}"
        )
        return
    _same_page(check, snap)
    stored = {v.number: v for v in store.versions_of(snap.id)}
    for version in wanted:
        number = version.get("number")
        found = stored.get(number) if isinstance(number, int) else None
        if found is None:
            check.problems.append(f"version {number} is not in the database as read from it")
        elif found.text_sha256 != version.get("text_sha256"):
            check.problems.append(
                f"version {number}'s text SHA-256 is {found.text_sha256} in the database, "
                f"{version.get('text_sha256')} in the file"
            )


def _same_page(check: RecordCheck, snap: SnapshotOut) -> None:
    if hashlib.sha256(snap.body).hexdigest() != check.sha256:
        check.problems.append("the database's stored body no longer hashes to its SHA-256")
    if warc_date(snap.fetched_at) != check.date:
        check.problems.append(
            f"WARC-Date is {check.date}; the database fetched it at {warc_date(snap.fetched_at)}"
        )
    if snap.final_url != check.target_uri:
        check.problems.append(
            f"WARC-Target-URI is {check.target_uri}; the database has {snap.final_url}"
        )
