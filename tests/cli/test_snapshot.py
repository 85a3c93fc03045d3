"""`policywatch snapshot SLUG N`: a version's stored page byte for byte (to stdout or a file),
its URL, fetch time and SHA-256 on stderr, or all of its metadata as JSON with --info."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli.main import main
from tests.evidence.support import Recorded, recorded
from tests.support import ROOT


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    with recorded(tmp_path_factory.mktemp("snapshot")) as made:
        yield made


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bytes_to_stdout_metadata_to_stderr(history: Recorded) -> None:
    argv = ["--config", str(history.config), "snapshot", "help", "v2"]
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", *argv],
        capture_output=True,
        cwd=ROOT,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    served = history.served[("help", 2)]
    assert done.returncode == 0, done.stderr
    assert done.stdout == served  # the page as served, gzip undone, byte for byte
    err = done.stderr.decode()
    assert f"sha256:  {hashlib.sha256(served).hexdigest()}" in err
    assert f"url:     {history.site.url('/help')}" in err
    assert "help v2: HTTP 200 text/html" in err


def test_to_a_file_and_info(
    history: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(history.config)
    target = tmp_path / "page.html"
    code, out, err = run(capsys, "--config", config, "snapshot", "policy", "1", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_bytes() == history.served[("policy", 1)]
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
    assert "fetched: 2026-03-01T09:00:00+00:00" in err

    code, out, _ = run(capsys, "--config", config, "snapshot", "policy", "--info")
    info = json.loads(out)
    assert code == 0 and info["schema"] == "policywatch.snapshot/1"
    assert info["version"] == 3  # the latest by default
    assert info["sha256"] == hashlib.sha256(history.served[("policy", 3)]).hexdigest()
    assert info["headers"]["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["snapshot", "nope", "1"], "unknown document 'nope'"),
        (["snapshot", "policy", "9"], "policy has no version 9 (versions are 1 to 3)"),
        (["snapshot", "policy", "second"], "'second' is not a version number like 3 or v3"),
        (["snapshot", "policy", "1", "-o", "/nonexistent/dir/p.html"], "is not a directory"),
        (["snapshot", "policy", "1", "-o", "p.html", "--info"], "drop -o or --info"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    history: Recorded, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "--config", str(history.config), *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
