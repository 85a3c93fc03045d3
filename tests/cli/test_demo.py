"""The newcomers' demo: its site goes through its stages and policywatch reports each rightly."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from monitor.cli import demo
from monitor.cli.main import main
from monitor.daemon.runtime import make_outbox
from tests.support import harness


def test_each_stage_of_the_demo_is_reported_as_it_should(tmp_path: Path) -> None:
    site = demo.DemoSite()
    try:
        path = demo.write_config(tmp_path / "demo", site.url, every="10s", port=8080)
        with harness(path) as h:
            outbox = make_outbox(h.settings, h.store)
            seen: list[tuple[str, str, str | None]] = []
            for stage in range(len(demo.STAGES)):
                site.stage = stage
                for slug in ("demo-privacy-policy", "demo-help-activity"):
                    for _ in range(2):  # two checks a stage: the login wall needs two to alert
                        r = h.check(slug)
                        seen.append((slug, r.outcome, r.significance))
                outbox.deliver_due(h.clock.now())
    finally:
        site.close()
    changes = [(slug, significance) for slug, outcome, significance in seen if outcome == "changed"]
    assert changes == [
        ("demo-privacy-policy", "substantive"),  # the AI-training sentence
        ("demo-help-activity", "substantive"),  # the settings moved: where a control is matters
        ("demo-privacy-policy", "cosmetic"),  # curly quotes
    ]
    assert ("demo-help-activity", "failed", None) in seen  # the login wall: an error, no version
    box = mailbox.mbox(tmp_path / "demo" / "alerts.mbox")
    subjects = [m["Subject"] for m in box]
    box.close()
    assert len(subjects) == 5
    assert "ai-training" in subjects[0] and "behavioral-data" in subjects[0]
    assert "checks failing" in subjects[3] and "working again" in subjects[4]


def test_demo_command_runs_and_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--dir", str(tmp_path), "--step", "4s", "--for", "2s", "--port", "0"])
    assert code == 0
    assert "demo site: http://127.0.0.1:" in capsys.readouterr().out
    assert (tmp_path / "demo.db").exists()


def test_demo_step_too_short(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--step", "1s"]) == 2
    assert "--step must be at least 4s" in capsys.readouterr().err
