"""Bad configuration: each kind of mistake gives one line naming the file, the key and the value,
exit code 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import config
from monitor.cli.main import main
from monitor.errors import ConfigError

GOOD_DOC = """
[[documents]]
slug = "example-policy"
name = "Example Policy"
url = "https://example.org/privacy"
"""

# (case id, config text, substrings the one-line message must contain)
BAD = [
    ("toml-syntax", '[storage]\nurl = "sqlite:///x.db\n', ["invalid TOML", "line 2"]),
    ("unknown-top-key", 'colour = "blue"\n' + GOOD_DOC, ["colour", "unknown key"]),
    (
        "unknown-doc-key",
        GOOD_DOC + 'selector = ["#root"]\n',
        ["documents[0].selector", "unknown key"],
    ),
    (
        "unknown-section-key",
        '[schedule]\nevery = "6h"\ninterval = "1h"\n',
        ["schedule.interval", "unknown key"],
    ),
    ("wrong-type-int", '[schedule]\nconcurrency = "4"\n', ["schedule.concurrency", "'4'"]),
    ("wrong-type-list", GOOD_DOC + 'select = "#root"\n', ["documents[0].select", "'#root'"]),
    (
        "bad-url-scheme",
        GOOD_DOC.replace("https://example.org/privacy", "ftp://example.org/p"),
        ["documents[0].url", "ftp://example.org/p"],
    ),
    (
        "bad-url-host",
        GOOD_DOC.replace("https://example.org/privacy", "https:///privacy"),
        ["documents[0].url", "https:///privacy"],
    ),
    (
        "duplicate-slug",
        GOOD_DOC + GOOD_DOC,
        ["documents[1].slug", "example-policy", "documents[0]"],
    ),
    (
        "bad-selector",
        GOOD_DOC + 'select = ["div[[id"]\n',
        ["documents[0].select", "div[[id", "invalid CSS selector"],
    ),
    (
        "bad-remove-selector",
        GOOD_DOC + 'remove = ["::bogus("]\n',
        ["documents[0].remove", "::bogus("],
    ),
    ("bad-interval", '[schedule]\nevery = "6 hours"\n', ["schedule.every", "6 hours"]),
    ("bad-interval-type", "[schedule]\nevery = 6\n", ["schedule.every", "6"]),
    ("interval-zero", '[schedule]\nevery = "0s"\n', ["schedule.every", "at least 1s"]),
    ("bad-doc-interval", GOOD_DOC + 'every = "soon"\n', ["documents[0].every", "soon"]),
    ("unknown-fetcher", GOOD_DOC + 'fetcher = "chrome"\n', ["documents[0].fetcher", "chrome"]),
    ("missing-url", '[[documents]]\nslug = "a"\nname = "A"\n', ["documents[0].url", "missing"]),
    (
        "bad-slug",
        GOOD_DOC.replace('"example-policy"', '"Example Policy!"'),
        ["documents[0].slug", "Example Policy!"],
    ),
    (
        "name-newline",
        GOOD_DOC.replace('"Example Policy"', '"Example\\nPolicy"'),
        ["documents[0].name", "one non-empty line"],
    ),
    ("negative-min-chars", GOOD_DOC + "min_chars = -5\n", ["documents[0].min_chars", "-5"]),
    ("shrink-ratio", "[guards]\nshrink_ratio = 1.5\n", ["guards.shrink_ratio", "1.5"]),
    ("too-many-redirects", "[fetch]\nmax_redirects = 99\n", ["fetch.max_redirects", "99"]),
    (
        "bad-regex",
        '[[topics]]\nname = "t"\npatterns = ["(unclosed"]\n',
        ["topics[0].patterns", "(unclosed"],
    ),
    (
        "topic-without-terms",
        '[[topics]]\nname = "empty"\n',
        ["topics[0]", "empty", "terms or patterns"],
    ),
    (
        "duplicate-topic",
        '[[topics]]\nname = "t"\nterms = ["a"]\n[[topics]]\nname = "t"\nterms = ["b"]\n',
        ["topics[1].name", "'t'"],
    ),
    ("documents-not-array", 'documents = "all"\n', ["documents", "'all'"]),
]


@pytest.mark.parametrize(("text", "needles"), [pytest.param(t, n, id=i) for i, t, n in BAD])
def test_bad_config_is_one_clear_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needles: list[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        text if "[storage]" in text else text + '\n[storage]\nurl = "sqlite:///pw.db"\n'
    )
    code = main(["--config", str(path), "check"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == [path], "nothing may be written for a bad config"


def test_missing_file_suggests_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(tmp_path / "nope.toml"), "checks"])
    assert code == 2
    assert "policywatch init" in capsys.readouterr().err


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[storage]\nurl = "\xff\xfe"\n')
    assert main(["--config", str(path), "checks"]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_durations() -> None:
    assert config.parse_duration("6h") == 21600
    assert config.parse_duration("1h30m") == 5400
    assert config.parse_duration("250ms") == 0.25
    assert config.parse_duration(" 2d ") == 172800
    for bad in ("", "h", "6", "6 hours", "1h junk", "-1h"):
        with pytest.raises(ValueError, match="duration"):
            config.parse_duration(bad)


def test_shipped_config_is_valid_and_matches_the_starter() -> None:
    root = Path(__file__).resolve().parents[1]
    settings = config.load(root / "config.toml")
    assert {d.slug for d in settings.documents} >= {
        "facebook-privacy-policy",
        "instagram-privacy-policy",
        "whatsapp-privacy-policy-eea",
        "threads-privacy-policy",
        "meta-genai-privacy",
    }
    assert {t.name for t in settings.topics} >= {
        "ai-training",
        "research",
        "behavioral-data",
        "opt-out-controls",
        "data-sharing",
    }
    starter = (root / "monitor" / "config" / "starter.toml").read_text()
    assert (root / "config.toml").read_text() == starter


def test_relative_sqlite_path_resolves_next_to_the_config(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    path.parent.mkdir()
    path.write_text('[storage]\nurl = "sqlite:///data/pw.db"\n')
    settings = config.load(path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'sub' / 'data' / 'pw.db'}"


def test_config_error_carries_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[schedule]\njitter = "often"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == "schedule.jitter"
