"""Archived versions of one document, oldest first, read from where they are kept.

- An Open Terms Archive versions repository: a git repository of Markdown files, one per
  document, one commit per version. OTA commits each version with the date it fetched the page
  as the commit's author and committer date; the author date is read (a rebase of the
  repository changes only the committer date). Commits whose subject starts with "Apply
  technical or declaration upgrade" (formerly "Refilter") re-extracted an old snapshot with new
  rules: technical versions, as policywatch's own re-extractions are.
- The shared corpus (`meta-policy-history.tar.xz`): `corpus/<folder>/index.json` lists each
  version's file, date, kind (`start`, `change`, `technical`) and OTA's commit id.

Both give `ArchivedVersion`s whose Markdown is read only when asked for.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import PolicywatchError, UsageError

TECHNICAL_SUBJECTS = ("Apply technical or declaration upgrade", "Refilter")
CORPUS_ARCHIVE = "meta-policy-history.tar.xz"
_SEP = "\x1f"


@dataclass(frozen=True)
class ArchivedVersion:
    commit: str  # the archive's commit id: a version is imported once per page
    date: datetime  # when the archive fetched it (aware UTC)
    technical: bool  # the archive re-extracted an old capture: not the publisher's change
    markdown: Callable[[], str]


@dataclass(frozen=True)
class ArchivedHistory:
    source: str  # what versions imported from here are marked with
    versions: list[ArchivedVersion]  # oldest first


def ota_repository(repo: Path, file: str) -> ArchivedHistory:
    """The versions of `file` in the OTA versions repository at `repo`."""
    if not repo.is_dir():
        raise UsageError(f"--repo {repo} is not a directory")
    log = _git(
        repo,
        "log",
        "--reverse",
        "--no-merges",
        "--diff-filter=AM",
        f"--format=%H{_SEP}%aI{_SEP}%s",
        "--",
        file,
    ).decode("utf-8")
    versions = []
    for line in log.splitlines():
        commit, date, subject = line.split(_SEP, 2)
        versions.append(
            ArchivedVersion(
                commit,
                datetime.fromisoformat(date).astimezone(UTC),
                subject.startswith(TECHNICAL_SUBJECTS),
                _shown(repo, commit, file),
            )
        )
    if not versions:
        raise UsageError(f"--file {file!r} has no history in {repo}")
    versions.sort(key=lambda v: v.date)  # stable: commits of one date keep their order
    return ArchivedHistory(f"ota:{repo.resolve()}#{file}", versions)


def _shown(repo: Path, commit: str, file: str) -> Callable[[], str]:
    return lambda: _git(repo, "show", f"{commit}:{file}").decode("utf-8")


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise PolicywatchError("git is not installed (it reads OTA repositories)") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {args[0]} in {repo}: {message[-1] if message else 'failed'}")
    return done.stdout


def corpus(path: Path, folder: str) -> ArchivedHistory:
    """The versions of `folder` in the corpus archive (`path`: the archive, or its directory)."""
    archive = path / CORPUS_ARCHIVE if path.is_dir() else path
    if not archive.is_file():
        raise UsageError(f"{path}: no corpus archive ({CORPUS_ARCHIVE}) there")
    prefix = f"corpus/{folder}/"
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.startswith(prefix):
                    handle = tar.extractfile(member)
                    assert handle is not None
                    members[member.name[len(prefix) :]] = handle.read()
    except (tarfile.TarError, OSError) as exc:
        raise UsageError(f"{archive}: not a readable corpus archive ({exc})") from None
    if "index.json" not in members:
        raise UsageError(f"{archive}: no folder {folder!r} (try --folder)")
    index = json.loads(members["index.json"])
    versions = [
        ArchivedVersion(
            entry["source_commit"],
            datetime.fromisoformat(entry["date"]).astimezone(UTC),
            entry["kind"] == "technical",
            _member(members, entry["file"]),
        )
        for entry in sorted(index["versions"], key=lambda e: e["n"])
    ]
    versions.sort(key=lambda v: v.date)
    return ArchivedHistory(f"corpus:{archive.name}#{folder}", versions)


def _member(members: dict[str, bytes], name: str) -> Callable[[], str]:
    return lambda: members[name].decode("utf-8")
