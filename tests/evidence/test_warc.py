"""`policywatch export warc` and `policywatch verify`, over pages served by a real HTTP server
and stored by real checks: the file is read back by warcio and passes `warcio check`, every
payload is the page as served (its digest is that page's SHA-256), and verify finds a flipped
byte, a changed hash in the database, and files that are not WARC at all."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from monitor import config
from monitor.cli.main import main
from tests.evidence.support import DAY, Recorded, recorded
from tests.pg import database_url
from tests.support import document, write_config


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    with recorded(tmp_path_factory.mktemp("warc"), help_versions=18) as made:
        yield made


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def export(
    capsys: pytest.CaptureFixture[str], history: Recorded, target: Path, *args: str
) -> tuple[int, str, str]:
    return run(capsys, "--config", str(history.config), "export", "warc", *args, "-o", str(target))


def read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            records.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "http": record.http_headers,
                    "payload": record.content_stream().read(),
                }
            )
    return records


def sha256_of_label(label: str) -> str:
    algorithm, _, value = label.partition(":")
    assert algorithm == "sha256"
    return base64.b32decode(value).hex()


def test_export_is_read_back_by_warcio_with_the_served_bytes(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "all.warc.gz"
    code, out, err = export(capsys, history, target)
    assert code == 0, err
    assert "wrote" in out and "21 pages of 2 documents, 64 records" in out
    assert "exported 21/21 pages" in err  # the progress line of the last snapshot
    assert [p.name for p in tmp_path.iterdir()] == ["all.warc.gz"]  # no temporary file left

    records = read_records(target)
    assert records[0]["type"] == "warcinfo"
    responses = {r["headers"]["WARC-Record-ID"]: r for r in records if r["type"] == "response"}
    assert len(responses) == 21
    for record in records:
        if record["type"] == "request":
            concurrent = record["headers"]["WARC-Concurrent-To"]
            assert record["headers"]["WARC-Date"] == responses[concurrent]["headers"]["WARC-Date"]
    metadata = [r for r in records if r["type"] == "metadata"]
    assert len(metadata) == 21
    seen = set()
    for meta in metadata:
        data = json.loads(meta["payload"])
        response = responses[meta["headers"]["WARC-Concurrent-To"]]
        [version] = data["versions"]
        served = history.served[(data["document"], version["number"])]
        digest = hashlib.sha256(served).hexdigest()
        assert response["payload"] == served
        assert sha256_of_label(response["headers"]["WARC-Payload-Digest"]) == digest
        assert data["sha256"] == digest
        stored = history.harness.repo.history.version(data["document"], version["number"])
        assert version["text_sha256"] == stored.text_sha256
        assert version["rules_hash"] == stored.rules_hash and len(version["rules_hash"]) == 64
        assert response["http"].get_statuscode() == "200"
        assert response["headers"]["WARC-Target-URI"] == history.site.url(f"/{data['document']}")
        if data["document"] == "help":
            # gzip was undone when the page was stored: the header says how it was sent
            assert response["http"].get_header("Content-Encoding") is None
            assert response["http"].get_header("X-Archive-Orig-Content-Encoding") == "gzip"
            assert response["http"].get_header("X-Served-By") == "fixture"
        assert response["http"].get_header("Content-Length") == str(len(served))
        seen.add((data["document"], version["number"]))
    assert seen == set(history.served)

    warcio = Path(sys.executable).with_name("warcio")
    check = subprocess.run(
        [str(warcio), "check", "-v", str(target)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 64


def test_export_filters_by_document_and_date(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "policy.warc.gz"
    # policy's versions were fetched on 2026-03-01, 03-02 and 03-03
    code, out, _ = export(
        capsys, history, target, "policy", "--since", "2026-03-02", "--until", "2026-03-02"
    )
    assert code == 0 and "1 pages of 1 documents" in out
    [meta] = [r for r in read_records(target) if r["type"] == "metadata"]
    assert [v["number"] for v in json.loads(meta["payload"])["versions"]] == [2]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["nope"], "unknown document 'nope'"),
        (["--since", "yesterday"], "--since 'yesterday' is not a date"),
        (["--since", "2026-03-05", "--until", "2026-03-01"], "is not before --until"),
    ],
)
def test_export_bad_usage_is_one_line_and_exit_2(
    history: Recorded,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needle: str,
) -> None:
    code, _, err = export(capsys, history, tmp_path / "x.warc.gz", *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
    code, _, err = export(capsys, history, tmp_path / "missing" / "x.warc.gz")
    assert code == 2 and "is not a directory" in err


def test_verify_matches_an_untouched_export(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "all.warc.gz"
    assert export(capsys, history, target)[0] == 0
    code, out, _ = run(capsys, "--config", str(history.config), "verify", str(target))
    assert code == 0, out
    assert out.count("\nok  ") + out.startswith("ok  ") == 21
    assert out.strip().splitlines()[-1] == "21 pages checked: 21 match, 0 do not"
    assert "ok  policy v2  2026-03-02T10:00:00Z" in out


def _flip_in_payload(source: Path, target: Path, document: str, number: int) -> None:
    """Copy `source` record by record, one byte of one page's payload flipped; the records keep
    their digests (as a tampered file would)."""
    with source.open("rb") as handle:
        records = []
        for record in ArchiveIterator(handle):
            payload = record.content_stream().read()
            records.append((record, payload))
    metadata = {
        record.rec_headers.get_header("WARC-Concurrent-To"): json.loads(payload)
        for record, payload in records
        if record.rec_type == "metadata"
    }
    with target.open("wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        for record, original in records:
            payload = original
            meta = metadata.get(record.rec_headers.get_header("WARC-Record-ID"))
            if meta and meta["document"] == document and meta["versions"][0]["number"] == number:
                middle = len(payload) // 2
                payload = payload[:middle] + bytes([payload[middle] ^ 0x01]) + payload[middle + 1 :]
            rebuilt = writer.create_warc_record(
                "",
                record.rec_type,
                payload=BytesIO(payload),
                length=len(payload),
                warc_headers=record.rec_headers,
                http_headers=record.http_headers,
            )
            writer.write_record(rebuilt)


def test_verify_catches_a_flipped_byte(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported, tampered = tmp_path / "all.warc.gz", tmp_path / "tampered.warc.gz"
    assert export(capsys, history, exported)[0] == 0
    _flip_in_payload(exported, tampered, "policy", 2)
    code, out, _ = run(capsys, "--config", str(history.config), "verify", str(tampered))
    assert code == 1
    [bad] = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert bad.startswith("MISMATCH  policy v2  2026-03-02T10:00:00Z")
    assert "its WARC-Payload-Digest says" in out
    assert "the database has no page of 'policy' with SHA-256" in out
    assert out.strip().splitlines()[-1] == "21 pages checked: 20 match, 1 do not"
    warcio = Path(sys.executable).with_name("warcio")
    check = subprocess.run([str(warcio), "check", str(tampered)], capture_output=True, check=False)
    assert check.returncode == 1  # the standard tool agrees


def test_verify_catches_a_flipped_byte_in_an_uncompressed_file(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "help.warc"
    assert export(capsys, history, exported, "help")[0] == 0
    data = bytearray(exported.read_bytes())
    marker = b"Revision note 5: words"  # in help v5's page only
    assert marker in history.served[("help", 5)] and data.count(marker) == 1
    data[data.index(marker) + len(marker) - 1] ^= 0x20  # words -> wordS
    exported.write_bytes(bytes(data))
    code, out, _ = run(capsys, "--config", str(history.config), "verify", "--quiet", str(exported))
    assert code == 1
    assert out.splitlines()[0].startswith("MISMATCH  help v5  ")
    assert out.strip().splitlines()[-1] == "18 pages checked: 17 match, 1 do not"


def test_verify_catches_a_version_hash_the_database_no_longer_has(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "policy.warc.gz"
    assert export(capsys, history, exported, "policy")[0] == 0
    engine = create_engine(database_url(history.config.parent))
    update = "UPDATE versions SET text_sha256 = :bad WHERE number = 3 AND page_id = (SELECT id FROM pages WHERE slug = 'policy')"
    restore = "UPDATE versions SET text_sha256 = :good WHERE number = 3 AND page_id = (SELECT id FROM pages WHERE slug = 'policy')"
    good = history.harness.repo.history.version("policy", 3).text_sha256
    try:
        with engine.begin() as conn:
            conn.execute(text(update), {"bad": "0" * 64})
        code, out, _ = run(capsys, "--config", str(history.config), "verify", str(exported))
    finally:
        with engine.begin() as conn:
            conn.execute(text(restore), {"good": good})
        engine.dispose()
    assert code == 1
    assert f"version 3's text SHA-256 is {'0' * 64} in the database, {good} in the file" in out
    assert out.strip().splitlines()[-1] == "3 pages checked: 2 match, 1 do not"


def test_verify_of_files_that_are_not_good_warc(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(history.config)
    code, _, err = run(capsys, "--config", config, "verify", str(tmp_path / "none.warc.gz"))
    assert code == 2 and "none.warc.gz is not a file" in err

    text_file = tmp_path / "notes.warc.gz"
    text_file.write_text("these are my notes, not an archive\n")
    code, out, err = run(capsys, "--config", config, "verify", str(text_file))
    assert code == 1 and len(err.strip().splitlines()) == 1, (out, err)
    assert "notes.warc.gz is not a readable WARC file (after 0 records)" in err

    exported = tmp_path / "all.warc.gz"
    assert export(capsys, history, exported)[0] == 0
    truncated = tmp_path / "cut.warc.gz"
    truncated.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    code, out, err = run(capsys, "--config", config, "verify", str(truncated))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "cut.warc.gz is not a readable WARC file (after " in err
    assert "match, 0 do not" in out  # what was read before the break is still reported

    empty = tmp_path / "empty.warc"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "--config", config, "verify", str(empty))
    assert code == 1 and "holds no WARC record" in err


def test_a_page_read_again_for_a_technical_version_names_both_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "db").mkdir()
    with recorded(tmp_path / "db", help_versions=1) as made:
        h = made.harness
        # the user narrows the region: the stored page of v3 is read again, a technical v4
        docs = document("policy", made.site.url("/policy"), remove=["ul"])
        docs += document("help", made.site.url("/help"))
        h.settings = config.load(write_config(tmp_path / "db", docs))
        h.clock.advance(30 * DAY)
        h.check("help")  # opening the checker re-reads the stored pages under the new rules
        assert h.repo.history.latest_version("policy").technical
        day = h.clock.now().date().isoformat()
        target = tmp_path / "technical.warc.gz"
        code, out, _ = export(capsys, made, target, "policy", "--since", day)
        assert code == 0 and "1 pages of 1 documents" in out  # fetched earlier, read again today
        [meta] = [r for r in read_records(target) if r["type"] == "metadata"]
        versions = json.loads(meta["payload"])["versions"]
        assert [(v["number"], v["technical"]) for v in versions] == [(3, False), (4, True)]
        assert versions[0]["rules_hash"] != versions[1]["rules_hash"]
        code, out, _ = run(capsys, "--config", str(made.config), "verify", str(target))
        assert code == 0 and out.startswith("ok  policy v3,v4  2026-03-03T11:00:00Z")


def test_a_failed_export_leaves_nothing_and_keeps_the_old_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "db").mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "pages.warc.gz"
    target.write_bytes(b"yesterday's export")
    with recorded(tmp_path / "db", help_versions=3) as made:
        # the last stored page's blob is damaged: the export fails when it reaches it
        engine = create_engine(database_url(tmp_path / "db"))
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE snapshots SET body = :bad WHERE id = (SELECT MAX(id) FROM snapshots)"),
                {"bad": b"\x02not zstd"},
            )
        engine.dispose()
        code, _, err = export(capsys, made, target)
    [line] = err.strip().splitlines()  # one line: the error
    assert code == 1 and line.startswith("policywatch: ")
    assert "export stopped, " in line and "not written" in line and "fetched 2026-03-" in line
    assert target.read_bytes() == b"yesterday's export"
    assert [p.name for p in out_dir.iterdir()] == ["pages.warc.gz"]  # no temporary file left


def test_verify_catches_an_edited_metadata_record(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "policy.warc"
    assert export(capsys, history, exported, "policy")[0] == 0
    real = history.harness.repo.history.version("policy", 2).text_sha256
    forged = ("f" if real[0] != "f" else "e") + real[1:]
    data = exported.read_bytes()
    assert data.count(real.encode()) == 1
    exported.write_bytes(data.replace(real.encode(), forged.encode()))  # same length
    code, out, _ = run(capsys, "--config", str(history.config), "verify", str(exported))
    assert code == 1
    assert "its metadata record: block digest failed" in out
    assert f"version 2's text SHA-256 is {real} in the database, {forged} in the file" in out
    assert out.strip().splitlines()[-1] == "3 pages checked: 2 match, 1 do not"
