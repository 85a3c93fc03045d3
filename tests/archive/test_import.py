"""Importing history from before policywatch watched a page: a real git repository made here,
shaped like an Open Terms Archive versions repository, imported through the command as a user
runs it, on a real database (SQLite, or PostgreSQL on the suite's PostgreSQL pass)."""

from __future__ import annotations

import json
import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import config
from monitor.archive import sources
from monitor.archive.importer import import_history
from monitor.cli.main import main
from monitor.errors import UsageError
from monitor.web import create_app
from storage.imports import HistoryMoved
from tests.corpus import archive_path
from tests.pageserver import PageServer, Response
from tests.pg import rows
from tests.sitegen import AI_SENTENCE_CHANGED, policy_page, sample_policy
from tests.support import ManualClock, document, harness, write_config
from tests.websupport import get

HTML = {"Content-Type": "text/html; charset=utf-8"}
FILE = "Example Social/Privacy Policy.md"
SIGNALS = "usage signals"

INTRO = """# Example Social Privacy Policy

Effective {date}

This policy explains what information Example Social collects when you use our apps and
website, how we use it, and the choices you have about it.

## What information do we collect?

- Things you post, such as photos, comments and messages you send to friends.
- Information about your device, such as its model, language and battery level.
- Information from partners who use our business tools on their own websites.
"""
USE_ONE = f"""
## How do we use information?

We use the {SIGNALS} we receive from your device to keep your account secure.
We use information to show you ads that are relevant to you. You can change this in
[Ad preferences](https://example.test/settings/ads?ref=policy).
"""
USE_EIGHT = (
    "\n## How do we use information?\n\n"
    "We use the following kinds of information to develop and improve artificial intelligence "
    "models:\n\n"
    + "\n".join(
        f"- {what} {SIGNALS}, such as {example}."
        for what, example in [
            ("Typing", "how fast you type"),
            ("Scrolling", "how far you scroll"),
            ("Clicking", "which buttons you tap"),
            ("Viewing", "how long you look at a post"),
            ("Audio", "when you turn sound on"),
            ("Location", "the city you are in"),
            ("Network", "the connection you use"),
            ("Session", "how often you open the app"),
        ]
    )
    + "\n"
)
USE_NONE = """
## How do we use information?

We use information to keep your account secure and to show you ads that are relevant to you.
We no longer use information about how you interact with the app to train models.
"""
OUTRO = """
## How can you exercise your rights?

You can access, correct, download or delete your information from your account settings, or
write to our privacy team at the address below.
"""
TOO_SHORT = "# Error\n\nSorry, something went wrong.\n"
TECHNICAL = "Apply technical or declaration upgrade on Example Social Privacy Policy"

# (date, subject, Markdown): what the archive recorded, oldest first.
COMMITS = [
    ("2024-01-10T08:00:00+00:00", "First record of Example Social Privacy Policy", "V1"),
    ("2024-05-02T09:30:00+00:00", "Record new changes of Example Social Privacy Policy", "V2"),
    ("2024-07-01T10:00:00+00:00", "Record new changes of Example Social Privacy Policy", "ERR"),
    ("2024-09-15T11:00:00+00:00", TECHNICAL, "V3"),
    ("2025-02-01T12:00:00+00:00", "Record new changes of Example Social Privacy Policy", "V4"),
]


def markdown(name: str) -> str:
    if name == "ERR":
        return TOO_SHORT
    if name == "V1":
        return INTRO.format(date="January 1, 2024") + USE_ONE + OUTRO
    if name == "V2":
        return INTRO.format(date="May 1, 2024") + USE_EIGHT + OUTRO
    if name == "V3":  # the archive's new rules keep a footer line: a technical version
        return INTRO.format(date="May 1, 2024") + USE_EIGHT + OUTRO + "\nLast reviewed by us.\n"
    return INTRO.format(date="February 1, 2025") + USE_NONE + OUTRO


def git(repo: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if date is not None:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def make_repo(root: Path, commits: list[tuple[str, str, str]] = COMMITS) -> Path:
    repo = root / "versions"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Archive Bot")
    git(repo, "config", "user.email", "bot@example.test")
    for date, subject, name in commits:
        path = repo / FILE
        path.parent.mkdir(exist_ok=True)
        path.write_text(markdown(name), encoding="utf-8")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", subject, date=date)
    return repo


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        server.set("/policy", Response(body=policy_page(rng=random.Random(3)), headers=HTML))
        yield server


@dataclass
class Setup:
    cfg: str
    repo: Path
    box: Path


@pytest.fixture
def setup(tmp_path: Path, site: PageServer) -> Setup:
    box = tmp_path / "alerts.mbox"
    channel = f'[[channels]]\nname = "box"\nkind = "mbox"\npath = "{box}"\n'
    cfg = write_config(tmp_path, document("example", site.url("/policy")) + channel)
    return Setup(str(cfg), make_repo(tmp_path), box)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def history(capsys: pytest.CaptureFixture[str], cfg: str) -> dict[str, object]:
    code, out, _ = run(capsys, "history", "example", "--json", "--config", cfg)
    assert code == 0
    data: dict[str, object] = json.loads(out)
    return data


def alert_rows(tmp_path: Path) -> tuple[int, int]:
    alerts = rows(tmp_path, "SELECT count(*) FROM alerts")[0][0]
    deliveries = rows(tmp_path, "SELECT count(*) FROM deliveries")[0][0]
    return int(alerts), int(deliveries)  # type: ignore[call-overload]


def test_import_before_the_first_check_renumbers_alerts_nothing_and_is_idempotent(
    tmp_path: Path, setup: Setup, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = setup.cfg
    code, out, _ = run(capsys, "check", "--config", cfg)
    assert code == 0 and " new " in out and "v1" in out
    before = history(capsys, cfg)
    checked_sha = before["versions"][0]["text_sha256"]  # type: ignore[index]

    # v1 is cited by number already: renumbering it needs consent, refused with nothing written.
    argv = ["import", "ota", "--repo", str(setup.repo), "--file", FILE, "--document", "example"]
    code, out, err = run(capsys, *argv, "--config", cfg)
    assert code == 2 and err.strip().count("\n") == 0, err
    assert "v1 becomes v5" in err and "--renumber" in err and "nothing imported" in err
    assert history(capsys, cfg) == before

    code, out, err = run(capsys, *argv, "--renumber", "--config", cfg)
    assert code == 0, err
    assert "imported 4 versions (v1-v4, 2024-01-10 to 2025-02-01)" in out
    assert "renumbered the 1 version(s)" in out
    assert "skipped 1: too short to be the document" in out

    data = history(capsys, cfg)
    versions = list(reversed(data["versions"]))  # type: ignore[call-overload]
    assert [v["number"] for v in versions] == [1, 2, 3, 4, 5]
    assert [v["created_at"][:10] for v in versions[:4]] == [
        "2024-01-10", "2024-05-02", "2024-09-15", "2025-02-01",
    ]  # fmt: skip
    assert [v["technical"] for v in versions] == [False, False, True, False, False]
    assert all(v["source"] == f"ota:{setup.repo.resolve()}#{FILE}" for v in versions[:4])
    log = git(setup.repo, "log", "--reverse", "--format=%H").split()
    assert [v["source_commit"] for v in versions[:4]] == [log[0], log[1], log[3], log[4]]
    assert versions[4]["source"] is None and versions[4]["text_sha256"] == checked_sha
    changes = {c["to_version"]: c for c in data["changes"]}  # type: ignore[attr-defined]
    assert sorted(changes) == [2, 4, 5]  # none into the first, none into the technical one
    assert changes[2]["from_version"] == 1 and "ai-training" in changes[2]["topics"]
    assert changes[4]["from_version"] == 3 and changes[5]["from_version"] == 4
    assert alert_rows(tmp_path) == (0, 0) and not setup.box.exists()
    code, out, _ = run(capsys, "history", "example", "--config", cfg)
    assert code == 0 and out.count("(imported)") == 4
    # An imported version has its text, not a stored page: the evidence says where it came from.
    code, _, err = run(capsys, "snapshot", "example", "v1", "--config", cfg)
    assert code == 1 and "was imported from ota:" in err and "no page stored here" in err

    code, out, _ = run(
        capsys, "import", "ota", "--repo", str(setup.repo), "--file", FILE, "--document",
        "example", "--config", cfg,
    )  # fmt: skip
    assert code == 0 and "imported nothing" in out and "skipped 4: already imported" in out
    assert history(capsys, cfg) == data
    assert alert_rows(tmp_path) == (0, 0)

    # The text at a date before policywatch's first check, in the terminal and on the web.
    code, at_day, _ = run(capsys, "show", "example", "--at", "2024-06-01", "--config", cfg)
    assert code == 0 and at_day.count(SIGNALS) == 8
    assert run(capsys, "show", "example", "v2", "--config", cfg)[1] == at_day
    assert run(capsys, "show", "example", "2", "--config", cfg)[1] == at_day
    code, _, err = run(capsys, "show", "example", "--at", "2023-12-31", "--config", cfg)
    assert code == 2 and err.strip().count("\n") == 0 and "first is of 2024-01-10" in err
    code, _, err = run(capsys, "show", "example", "v9", "--config", cfg)
    assert code == 2 and "no version 9" in err

    web_at_a_date_and_timeline(cfg)

    # Checks go on from the renumbered version, and alert as before.
    site.set(
        "/policy", Response(body=policy_page(sample_policy(AI_SENTENCE_CHANGED)), headers=HTML)
    )
    code, out, _ = run(capsys, "check", "--config", cfg)
    assert code == 0 and "changed" in out and "v6" in out
    assert alert_rows(tmp_path)[0] == 1


def web_at_a_date_and_timeline(cfg: str) -> None:
    """The web UI and API over the imported history: the text at a date before the first
    check, and the phrase's timeline (1, then 8, then 0 occurrences)."""
    from monitor.daemon.runtime import open_store

    settings = config.load(Path(cfg))
    store = open_store(settings)
    try:
        app = create_app(settings, store.engine, clock=ManualClock())
        page = get(app, "/documents/example/at/2024-06-01")
        assert page.status_code == 200 and page.text.count(SIGNALS) >= 8
        assert "Imported from" in page.text and "the archive had recorded" in page.text
        api = get(app, "/api/documents/example/at/2024-02-01").json()
        assert api["number"] == 1 and api["text"].count(SIGNALS) == 1
        assert api["source"].startswith("ota:") and len(api["source_commit"]) == 40
        missing = get(app, "/api/documents/example/versions/1/snapshot")
        assert missing.status_code == 404 and "was imported from ota:" in missing.text
        own = get(app, "/api/documents/example/versions/5").json()
        assert own["source"] is None
        assert get(app, "/documents/example/at/2023-06-01").status_code == 404
        found = get(app, "/api/search", params={"q": SIGNALS}).json()
        assert [(p["version"], p["count"]) for p in found[0]["timeline"]] == [
            (1, 1), (2, 8), (4, 0),
        ]  # fmt: skip
        html = get(app, "/search", params={"q": SIGNALS}).text
        assert "<svg" in html and html.count("<rect") == 3 and "v2, " in html
    finally:
        store.engine.dispose()


def test_a_check_after_an_import_records_the_change_without_alerting(
    tmp_path: Path, setup: Setup
) -> None:
    with harness(Path(setup.cfg)) as h:
        doc = h.settings.document("example")
        assert doc is not None
        h.repo.pages.ensure_page(_spec(h.settings), datetime(2026, 1, 1, tzinfo=UTC))
        report = import_history(h.repo, h.settings, doc, sources.ota_repository(setup.repo, FILE))
        assert (report.imported, report.renumbered, report.too_short) == (4, 0, 1)
        result = h.check("example")
        assert result.outcome == "changed" and result.version == 5
        change = h.repo.history.changes("example")[0]
        assert (change.from_version, change.to_version) == (4, 5)
        assert len(h.repo.history.changes("example")) == 3  # into v2, v4 and v5
        assert alert_rows(tmp_path) == (0, 0)

        # A later import of the same repository adds only what is new, after what it had.
        git_add = setup.repo / FILE
        git_add.write_text(markdown("V1"), encoding="utf-8")
        git(setup.repo, "commit", "-qam", "Record new changes", date="2025-06-01T00:00:00Z")
        archive = sources.ota_repository(setup.repo, FILE)
        with pytest.raises(UsageError, match="v5 becomes v6"):
            import_history(h.repo, h.settings, doc, archive)
        assert h.repo.history.version_count("example") == 5
        again = import_history(h.repo, h.settings, doc, archive, renumber=True)
        assert (again.imported, again.already, again.inside_imported) == (1, 4, 1)
        assert again.numbers == (5, 5) and again.renumbered == 1
        newest, into_new = h.repo.history.changes("example")[:2]
        assert (newest.id, newest.from_version, newest.to_version) == (change.id, 5, 6)
        assert (into_new.from_version, into_new.to_version) == (4, 5)
        assert h.repo.history.version("example", 6).source is None  # type: ignore[union-attr]
        assert alert_rows(tmp_path) == (0, 0)


def test_a_stale_plan_writes_nothing(tmp_path: Path, setup: Setup) -> None:
    with harness(Path(setup.cfg)) as h:
        doc = h.settings.document("example")
        assert doc is not None
        h.repo.pages.ensure_page(_spec(h.settings), datetime(2026, 1, 1, tzinfo=UTC))
        anchor = h.repo.imports.anchor("example")
        assert h.check("example").outcome == "new"  # the history moves after the plan
        from storage.imports import ImportedVersionIn
        from storage.values import VersionIn

        text = "# A title\nA paragraph long enough to stand for a policy."
        import hashlib

        version = VersionIn(text, hashlib.sha256(text.encode()).hexdigest(), "markdown", 9)
        item = ImportedVersionIn(version, datetime(2024, 1, 1, tzinfo=UTC), "x", "c1", None)
        with pytest.raises(HistoryMoved):
            h.repo.imports.import_versions("example", anchor, [item], None)
        assert h.repo.history.version_count("example") == 1


def _spec(settings: config.Settings):  # type: ignore[no-untyped-def]
    from monitor.check.checker import page_specs

    return page_specs(settings)[0]


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = setup.cfg
    cases = [
        (["ota", "--repo", str(setup.repo), "--file", FILE, "--document", "nope"], "unknown document"),
        (["ota", "--repo", str(tmp_path / "none"), "--file", FILE, "--document", "example"], "not a directory"),
        (["ota", "--repo", str(tmp_path), "--file", FILE, "--document", "example"], "git log"),
        (["ota", "--repo", str(setup.repo), "--file", "Other.md", "--document", "example"], "no history"),
        (["corpus", str(tmp_path), "--document", "example"], "no corpus archive"),
    ]  # fmt: skip
    for argv, message in cases:
        code, _, err = run(capsys, "import", *argv, "--config", cfg)
        assert code == 2 and message in err and err.strip().count("\n") == 0, (argv, err)
    assert history(capsys, cfg)["versions"] == []


@pytest.mark.skipif(archive_path() is None, reason="the shared corpus (../shared) is absent")
def test_import_of_the_shared_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = archive_path()
    assert path is not None
    cfg = str(write_config(tmp_path, document("threads-privacy-policy", "https://example.test/")))
    code, out, err = run(
        capsys, "import", "corpus", str(path.parent), "--document", "threads-privacy-policy",
        "--config", cfg,
    )  # fmt: skip
    assert code == 0, err
    history = sources.corpus(path.parent, "threads-privacy-policy")
    code, listing, _ = run(capsys, "history", "threads-privacy-policy", "--json", "--config", cfg)
    versions = list(reversed(json.loads(listing)["versions"]))
    by_commit = {v.commit: v for v in history.versions}
    assert 0 < len(versions) <= len(history.versions)
    assert f"imported {len(versions)} versions" in out
    for version in versions:
        archived = by_commit[version["source_commit"]]
        assert datetime.fromisoformat(version["created_at"]) == archived.date
        assert version["technical"] == archived.technical
    dates = [v["created_at"] for v in versions]
    assert dates == sorted(dates)
    assert alert_rows(tmp_path) == (0, 0)
    code, out, _ = run(
        capsys, "import", "corpus", str(path), "--document", "threads-privacy-policy",
        "--config", cfg,
    )  # fmt: skip
    assert code == 0 and f"skipped {len(versions)}: already imported" in out
