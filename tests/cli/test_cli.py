"""The `policywatch` command as a user runs it: real config file, real server, real database."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.cli.main import main
from tests.pageserver import PageServer, Response
from tests.pg import rows
from tests.sitegen import AI_SENTENCE_CHANGED, LOGIN_WALL, policy_page, sample_policy
from tests.support import document, write_config

HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


@pytest.fixture
def cfg(tmp_path: Path, site: PageServer) -> str:
    docs = document("policy", site.url("/policy")) + document("other", site.url("/other"))
    site.set("/policy", Response(body=policy_page(rng=random.Random(1)), headers=HTML))
    site.set("/other", Response(body=LOGIN_WALL, headers=HTML))
    return str(write_config(tmp_path, docs))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_history_show_diff(
    cfg: str, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--config", cfg, "check")
    assert code == 1  # one document is behind a login wall
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert any(line.startswith("policy ") and " new " in line and "v1" in line for line in lines)
    assert any(
        line.startswith("other ") and "failed" in line and "login_wall" in line for line in lines
    )

    site.set(
        "/policy", Response(body=policy_page(sample_policy(AI_SENTENCE_CHANGED)), headers=HTML)
    )
    code, out, _ = run(capsys, "check", "policy", "--config", cfg)
    assert code == 0
    assert "changed" in out and "v2" in out and "ai-training" in out

    code, out, _ = run(capsys, "history", "policy", "--json", "--config", cfg)
    data = json.loads(out)
    assert data["schema"] == "policywatch.history/1"
    assert [v["number"] for v in data["versions"]] == [2, 1]
    assert data["changes"][0]["to_version"] == 2 and "ai-training" in data["changes"][0]["topics"]

    code, out, _ = run(capsys, "history", "policy", "--config", cfg)
    assert code == 0 and "v2" in out and "substantive" in out

    code, out, _ = run(capsys, "show", "policy", "1", "--config", cfg)
    assert code == 0 and "# How do we use your information?" in out
    assert "We do not use the content" in out

    code, out, _ = run(capsys, "diff", "policy", "--config", cfg)
    assert code == 0
    assert "§ Privacy Policy › How do we use your information?" in out
    assert "{+" in out and "[-" in out

    code, out, _ = run(capsys, "checks", "--json", "--config", cfg)
    rows = json.loads(out)
    assert {r["outcome"] for r in rows} == {"new", "changed", "failed"}
    assert all(
        set(r) >= {"document", "started_at", "outcome", "error_kind", "fetcher", "duration_ms"}
        for r in rows
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["history", "nope"], "unknown document 'nope'"),
        (["show", "policy", "7"], "has no versions yet"),
        (["checks", "nope"], "unknown document"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    cfg: str, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "--config", cfg, *argv)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1


def test_version_out_of_range(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "--config", cfg, "check", "policy")
    code, _, err = run(capsys, "--config", cfg, "show", "policy", "9")
    assert code == 2 and "has no version 9 (versions are 1 to 1)" in err


def test_compare_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.html", tmp_path / "new.html"
    old.write_text(policy_page(rng=random.Random(3)))
    new.write_text(policy_page(sample_policy(AI_SENTENCE_CHANGED), rng=random.Random(4)))
    code, out, _ = run(capsys, "compare", str(old), str(new), "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["schema"], data["outcome"], data["error"]) == (
        "policywatch.changeset/1",
        "changed",
        None,
    )
    assert data["significance"] == "substantive"
    assert {"ai-training", "behavioral-data"} <= set(data["topics"])
    assert {"negation_flip", "modal_change"} <= set(data["flags"])
    [change] = data["changes"]
    assert set(change) == {
        "kind",
        "section",
        "before",
        "after",
        "spans",
        "topics",
        "significance",
        "flags",
        "controls",
    }
    assert change["controls"] == []  # the sentence it changed names no control
    assert change["section"] == ["Privacy Policy", "How do we use your information?"]

    code, out, _ = run(capsys, "compare", str(old), str(old), "--json")
    assert json.loads(out)["outcome"] == "unchanged"


def test_compare_markdown_and_guards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new, wall = tmp_path / "a.md", tmp_path / "b.md", tmp_path / "wall.html"
    old.write_text("# Policy\n\nWe collect your name.\n\n- email\n- phone\n")
    new.write_text("Policy\n======\n\nWe collect your name and how you type.\n\n- email\n- phone\n")
    wall.write_text(LOGIN_WALL)
    code, out, _ = run(capsys, "compare", str(old), str(new), "--json")
    data = json.loads(out)
    assert code == 0 and data["outcome"] == "changed"
    assert [c["kind"] for c in data["changes"]] == ["modified"]

    code, _, _ = run(capsys, "compare", str(old.with_suffix(".html")), str(wall), "--json")
    assert code == 2  # unreadable input

    html_old = tmp_path / "p.html"
    html_old.write_text(policy_page())
    code, out, _ = run(capsys, "compare", str(html_old), str(wall), "--json")
    data = json.loads(out)
    assert code == 0 and data["outcome"] == "error" and data["error"]["kind"] == "login_wall"


def test_compare_urls(site: PageServer, capsys: pytest.CaptureFixture[str]) -> None:
    site.set("/a", Response(body=policy_page(), headers=HTML))
    site.set("/b", Response(body=policy_page(sample_policy(AI_SENTENCE_CHANGED)), headers=HTML))
    code, out, _ = run(capsys, "compare", site.url("/a"), site.url("/b"))
    assert code == 0 and "{+" in out


def test_init_writes_starter_config_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    code, out, _ = run(capsys, "--config", str(path), "init")
    assert "wrote" in out
    assert code == 0 and path.exists() and "facebook-privacy-policy" in path.read_text()
    code, _, err = run(capsys, "--config", str(path), "init")
    assert code == 2 and "already exists" in err


def test_db_upgrade(cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", cfg, "db", "upgrade")
    assert code == 0 and "revision" in out
    [(installation,)] = rows(tmp_path, "SELECT installation_id FROM installation")
    assert len(str(installation)) == 32


def test_validate(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", cfg, "validate", "--json")
    reports = {r["document"]: r for r in json.loads(out)}
    assert code == 1
    assert (
        reports["policy"]["ok"]
        and reports["policy"]["identical"]
        and reports["policy"]["status"] == 200
    )
    assert reports["other"]["error"]["kind"] == "login_wall" and reports["other"]["hint"]


def test_the_command_starts_without_the_heavy_libraries() -> None:
    """`policywatch --help` imports none of the web, browser, database or parsing libraries:
    each command imports what it uses (start-up cost is measured in bench/startup.py)."""
    heavy = {
        "fastapi",
        "uvicorn",
        "playwright",
        "sqlalchemy",
        "alembic",
        "httpx",
        "bs4",
        "pydantic",
    }
    code = (
        "import sys, contextlib, io\n"
        "from monitor.cli.main import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not heavy & set(run.stdout.split()), run.stdout


def _md(path: Path, *blocks: str) -> str:
    path.write_text("\n\n".join(blocks) + "\n")
    return str(path)


POLICY = ("# Data Policy", "## Our assistant")
AI_PARAGRAPH = "We use the posts you make public to improve the models behind our assistant."
CONTACT = ("## Contact", "Write to our privacy office by post or through the help center.")


def test_compare_an_error_block_in_place_of_a_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A section replaced by an error message and back: neither side is a version of the page;
    compare names the side, and still shows what was swapped and what it is about."""
    good = _md(tmp_path / "good.md", *POLICY, AI_PARAGRAPH, *CONTACT)
    broken = _md(tmp_path / "broken.md", *POLICY, "This page isn't available right now.", *CONTACT)
    for old, new, side in ((good, broken, "new"), (broken, good, "old")):
        code, out, _ = run(capsys, "compare", old, new, "--json")
        data = json.loads(out)
        assert code == 0 and data["outcome"] == "error"
        assert (data["error"]["kind"], data["error"]["side"]) == ("error_page", side)
        assert data["changes"] and data["significance"] == "cosmetic"
        assert all("not_the_document" in c["flags"] for c in data["changes"])
        assert "ai-training" in data["topics"]


def test_compare_with_earlier_versions_tells_restored_text_from_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heads = [(f"## Topic {i}", f"Summary {i}: we hold records of kind {i}.") for i in range(60)]
    details = [
        f"Detail {i}: records of kind {i} are erased after {i + 1} months." for i in range(60)
    ]
    collapsed = [line for head in heads for line in head]
    expanded = [line for head, d in zip(heads, details, strict=True) for line in (*head, d)]
    fresh = "We train our AI models on the records above."
    old = _md(tmp_path / "old.md", "# Records", *collapsed)
    new = _md(tmp_path / "new.md", "# Records", *expanded, fresh)
    seen = _md(tmp_path / "seen.md", "# Records", *expanded)  # the page once showed it all

    code, out, _ = run(capsys, "compare", old, new, "--json")
    data = json.loads(out)
    assert (data["significance"], data["topics"]) == ("cosmetic", [])  # a capture change

    code, out, _ = run(capsys, "compare", old, new, "--json", "--earlier", seen)
    data = json.loads(out)
    assert (data["significance"], data["topics"]) == ("substantive", ["ai-training"])
    [edit] = [c for c in data["changes"] if c["significance"] == "substantive"]
    assert fresh in edit["after"]

    code, _, err = run(capsys, "compare", old, new, "--earlier", str(tmp_path / "missing.md"))
    assert code == 2 and "missing.md" in err


def test_compare_topic_declares_what_the_document_is_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _md(tmp_path / "a.md", "# Memory", "Memory is available in the United States.")
    new = _md(tmp_path / "b.md", "# Memory", "Memory is available in the United States and Canada.")
    code, out, _ = run(capsys, "compare", old, new, "--json")
    assert json.loads(out)["topics"] == []
    code, out, _ = run(capsys, "compare", old, new, "--json", "--topic", "ai-training")
    data = json.loads(out)
    assert data["topics"] == ["ai-training"]
    assert data["changes"][0]["topics"][0]["basis"] == "document"
    code, _, err = run(capsys, "compare", old, new, "--topic", "ai")
    assert code == 2 and "'ai' is not a topic" in err


def test_compare_reports_a_control_that_moved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _md(
        tmp_path / "a.md",
        "# Help",
        "To stop this, go to Settings > Privacy > Data use for AI and turn it off.",
    )
    new = _md(
        tmp_path / "b.md",
        "# Help",
        "To stop this, go to Accounts Center > Your information > Data use for AI and turn it off.",
    )
    code, out, _ = run(capsys, "compare", old, new, "--json")
    controls = json.loads(out)["controls"]
    assert code == 0
    assert [c["path"] for c in controls["before"]] == [["Settings", "Privacy", "Data use for AI"]]
    [moved] = controls["changes"]
    assert moved["kind"] == "control_moved"
    assert moved["after"]["path"] == ["Accounts Center", "Your information", "Data use for AI"]


def _help_page(ai_path: str) -> str:
    paragraphs = [
        "We use what you share to run the service and keep it safe for everyone who uses it.",
        f"To stop this, go to {ai_path} and turn it off.",
        "Ads you see can be managed in Settings > Ads > Ad preferences.",
        "Some controls are only in the app, and some only on the web; both are described here.",
    ] * 2
    body = "".join(f"<p>{p.replace('>', '&gt;')}</p>" for p in paragraphs)
    return f"<html><head><title>Help</title></head><body><main><h1>Help</h1>{body}</main></body></html>"


def test_controls_today_and_since_when(
    tmp_path: Path, site: PageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path, document("help", site.url("/help"))))
    site.set(
        "/help", Response(body=_help_page("Settings > Privacy > Data use for AI"), headers=HTML)
    )
    assert run(capsys, "--config", config, "check")[0] == 0
    moved = "Accounts Center > Your information > Data use for AI"
    site.set("/help", Response(body=_help_page(moved), headers=HTML))
    assert run(capsys, "--config", config, "check")[0] == 0

    code, out, _ = run(capsys, "--config", config, "controls", "--json")
    rows = json.loads(out)
    assert code == 0
    since = {" > ".join(r["path"]): r["since_version"] for r in rows}
    assert since == {moved: 2, "Settings > Ads > Ad preferences": 1}
    histories = [r["history"] for r in rows if r["since_version"] == 2]
    assert histories and all(
        [(e["kind"], e["version"]) for e in history] == [("control_moved", 2)]
        for history in histories
    )
    code, out, _ = run(capsys, "--config", config, "controls", "help")
    assert code == 0 and f"help  {moved}  since v2" in out
    assert "moved: was Settings > Privacy > Data use for AI" in out
    code, _, err = run(capsys, "--config", config, "controls", "nope")
    assert code == 2 and "nope" in err
