"""The WARC export of stored pages, written with warcio.

Each snapshot becomes three records sharing its fetch time (`WARC-Date`):

- `response`: the HTTP status line, the stored response headers and the body as stored, with
  `WARC-Target-URI` the URL the body came from and `WARC-Payload-Digest` the SHA-256 of the body;
- `request`: `GET` of that URL with its `Host` (the request headers are not kept), pointing at
  the response with `WARC-Concurrent-To`;
- `metadata` (`application/json`, schema policywatch.warc-metadata/1), also concurrent to the
  response: the page's slug, the requested URL, the body's SHA-256 in hex, and each version
  extracted from the body with its number, creation time, canonical-text SHA-256 and
  extraction-rules hash.

Bodies are stored with their Content-Encoding undone, so `Content-Encoding`, `Transfer-Encoding`
and `Content-Length` are kept as `X-Archive-Orig-...` and a `Content-Length` of the stored body
is added: a WARC reader then reads the body as it is. Digests are SHA-256 in base32, as
`sha256:...`. The file is written beside the target under a temporary name and renamed at the
end: a failed export leaves nothing half-written.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from storage.evidence import EvidenceStore
from storage.values import Evidence, SnapshotOut

METADATA_SCHEMA = "policywatch.warc-metadata/1"
ORIGINAL = "X-Archive-Orig-"
"""Prefix of the stored headers that describe the body as sent, not as stored."""
_AS_SENT = frozenset({"content-encoding", "transfer-encoding", "content-length"})

Progress = Callable[[int, int], None]


class _Sha256Writer(WARCWriter):  # type: ignore[misc]
    """warcio's writer with SHA-256 block and payload digests (its default is SHA-1)."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


@dataclass(frozen=True)
class Exported:
    path: Path
    snapshots: int
    pages: int
    records: int
    size: int  # bytes of the file
    page_bytes: int  # of the pages it holds, as stored


def warc_date(when: datetime) -> str:
    """WARC 1.1's date: UTC, with microseconds when there are any."""
    return str(datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def sha256_label(data: bytes) -> str:
    """The WARC digest of `data`: `sha256:` and base32."""
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


def label_hex(label: str | None) -> str | None:
    """The hex SHA-256 a `sha256:` digest label holds (base32, base16 or base64), else None."""
    if not label:
        return None
    algorithm, _, value = label.partition(":")
    if algorithm.strip().lower() not in ("sha256", "sha-256"):
        return None
    value = value.strip()
    decoders: list[Callable[[str], bytes]] = [
        lambda v: base64.b32decode(v, casefold=True),
        lambda v: base64.b16decode(v, casefold=True),
        lambda v: base64.b64decode(v, altchars=b"-_" if "-" in v or "_" in v else None),
    ]
    for decode in decoders:
        with suppress(binascii.Error, ValueError):
            raw = decode(value)
            if len(raw) == hashlib.sha256().digest_size:
                return raw.hex()
    return None


def http_headers(snap: SnapshotOut) -> StatusAndHeaders:
    """The response's status line and stored headers, described for the body as stored."""
    try:
        phrase = HTTPStatus(snap.status).phrase
    except ValueError:
        phrase = ""
    items = [
        (ORIGINAL + name if name.lower() in _AS_SENT else name, value)
        for name, value in snap.headers.items()
    ]
    items.append(("Content-Length", str(len(snap.body))))
    return StatusAndHeaders(f"{snap.status} {phrase}".strip(), items, protocol="HTTP/1.1")


def metadata(evidence: Evidence) -> dict[str, Any]:
    """The metadata record's JSON (schema policywatch.warc-metadata/1)."""
    snap = evidence.snapshot
    return {
        "schema": METADATA_SCHEMA,
        "document": snap.slug,
        "url": snap.url,
        "final_url": snap.final_url,
        "fetched_at": snap.fetched_at.isoformat(),
        "sha256": snap.body_sha256,
        "versions": [
            {
                "number": v.number,
                "created_at": v.created_at.isoformat(),
                "text_sha256": v.text_sha256,
                "rules_hash": v.rules_hash,
                "technical": v.technical,
            }
            for v in evidence.versions
        ],
    }


def write_records(writer: WARCWriter, evidence: Evidence) -> None:
    """The response, request and metadata records of one snapshot."""
    snap = evidence.snapshot
    date = warc_date(snap.fetched_at)
    response = writer.create_warc_record(
        snap.final_url,
        "response",
        payload=BytesIO(snap.body),
        length=len(snap.body),
        http_headers=http_headers(snap),
        warc_headers_dict={"WARC-Date": date},
    )
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    parts = urlsplit(snap.final_url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = writer.create_warc_record(
        snap.final_url,
        "request",
        payload=BytesIO(b""),
        length=0,
        http_headers=StatusAndHeaders(
            f"GET {target} HTTP/1.1", [("Host", parts.netloc)], is_http_request=True
        ),
        warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
    )
    data = json.dumps(metadata(evidence), ensure_ascii=False, indent=1).encode("utf-8")
    meta = writer.create_warc_record(
        snap.final_url,
        "metadata",
        payload=BytesIO(data),
        length=len(data),
        warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id},
    )
    for record in (response, request, meta):
        writer.write_record(record)


def export_warc(
    store: EvidenceStore,
    ids: Sequence[int],
    target: Path,
    *,
    info: dict[str, str],
    progress: Progress | None = None,
    every: int = 100,
) -> Exported:
    """Write the snapshots `ids` to `target` (gzip per record when it ends in .gz), with a
    `warcinfo` record of `info` first; `progress(done, total)` every `every` snapshots."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    pages: set[str] = set()
    done = page_bytes = 0
    try:
        with os.fdopen(fd, "wb") as out:
            writer = _writer(out, gzip=target.name.endswith(".gz"))
            writer.write_record(writer.create_warcinfo_record(target.name, info))
            for evidence in store.stream(ids):
                write_records(writer, evidence)
                pages.add(evidence.snapshot.slug)
                page_bytes += len(evidence.snapshot.body)
                done += 1
                if progress is not None and (done % every == 0 or done == len(ids)):
                    progress(done, len(ids))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return Exported(target, done, len(pages), 1 + 3 * done, target.stat().st_size, page_bytes)


def _writer(out: BinaryIO, *, gzip: bool) -> WARCWriter:
    return _Sha256Writer(out, gzip=gzip, warc_version="1.1")
