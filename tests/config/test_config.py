"""Bad configuration: each kind of mistake gives one line naming the file, the key and the value,
exit code 2, and nothing written."""

from __future__ import annotations

import os
import sys
import threading
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
HOOK = '[[channels]]\nname = "hook"\nkind = "webhook"\nurl = "https://hooks.example.org/x"\n'

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
    # durations that parse but make no sense: each kind has its bounds (model.py, one place)
    (
        "fetch-timeout-zero",
        '[fetch]\ntimeout = "0s"\n' + GOOD_DOC,
        ["fetch.timeout", "more than 0s", "'0s'"],
    ),
    ("fetch-timeout-huge", '[fetch]\ntimeout = "2h"\n' + GOOD_DOC, ["fetch.timeout", "'2h'"]),
    (
        "interval-huge",
        '[schedule]\nevery = "100000d"\n' + GOOD_DOC,
        ["schedule.every", "at most 365d", "'100000d'"],
    ),
    (
        "doc-interval-subsecond",
        GOOD_DOC + 'every = "500ms"\n',
        ["documents[0].every", "at least 1s", "'500ms'"],
    ),
    (
        "doc-interval-overflow",
        GOOD_DOC + 'every = "9999999999999999999999d"\n',
        ["documents[0].every", "at most 365d", "'9999999999999999999999d'"],
    ),
    (
        "jitter-huge",
        '[schedule]\njitter = "2d"\n' + GOOD_DOC,
        ["schedule.jitter", "at most 1d", "'2d'"],
    ),
    ("fetch-backoff-zero", '[fetch]\nbackoff = "0s"\n' + GOOD_DOC, ["fetch.backoff", "'0s'"]),
    ("min-gap-huge", '[fetch]\nmin_gap = "2h"\n' + GOOD_DOC, ["fetch.min_gap", "'2h'"]),
    (
        "browser-timeout-zero",
        '[browser]\ntimeout = "0ms"\n' + GOOD_DOC,
        ["browser.timeout", "more than 0s", "'0ms'"],
    ),
    (
        "browser-settle-huge",
        '[browser]\nsettle = "5m"\n' + GOOD_DOC,
        ["browser.settle", "at most 1m", "'5m'"],
    ),
    ("alerts-backoff-zero", '[alerts]\nbackoff = "0s"\n' + GOOD_DOC, ["alerts.backoff", "'0s'"]),
    (
        "alerts-max-backoff-huge",
        '[alerts]\nmax_backoff = "30d"\n' + GOOD_DOC,
        ["alerts.max_backoff", "at most 7d", "'30d'"],
    ),
    (
        "channel-timeout-huge",
        GOOD_DOC + HOOK + 'timeout = "1h"\n',
        ["channels[0].timeout", "at most 10m", "'1h'"],
    ),
    # a config that watches nothing would create a database and run doing nothing
    (
        "no-documents",
        '[schedule]\nevery = "6h"\n',
        ["documents", "no [[documents]]", "watches nothing", "policywatch init"],
    ),
    ("empty-file", "", ["documents", "no [[documents]]"]),
    # storage URLs that can only fail when the database is opened: refused before
    (
        "storage-unknown-database",
        '[storage]\nurl = "foo://db.example.org/pw"\n' + GOOD_DOC,
        ["storage.url", "unknown database 'foo'", "'foo://db.example.org/pw'"],
    ),
    (
        "storage-unknown-driver",
        '[storage]\nurl = "mysql+nosuchdriver://pw@db.example.org/pw"\n' + GOOD_DOC,
        [
            "storage.url",
            "unknown driver 'nosuchdriver' for mysql",
            "nosuchdriver://***@db.example.org",
        ],
    ),
    (
        "storage-not-a-url",
        '[storage]\nurl = "policywatch.db"\n' + GOOD_DOC,
        ["storage.url", "not a database URL", "'policywatch.db'"],
    ),
    (
        "storage-bad-port",
        '[storage]\nurl = "postgresql+psycopg://pw:hunter2@db:port/pw"\n' + GOOD_DOC,
        ["storage.url", "not a database URL", "'postgresql+psycopg://pw:***@db:port/pw'"],
    ),
    (
        "storage-sqlite-no-driver",
        '[storage]\nurl = "sqlite+nosuchdriver:///pw.db"\n' + GOOD_DOC,
        ["storage.url", "unknown driver 'nosuchdriver' for sqlite"],
    ),
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
    root = Path(__file__).resolve().parents[2]
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
    path.write_text('[storage]\nurl = "sqlite:///data/pw.db"\n' + GOOD_DOC)
    settings = config.load(path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'sub' / 'data' / 'pw.db'}"
    assert list(path.parent.iterdir()) == [path], "loading creates nothing, not even the folder"


def test_config_error_carries_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[schedule]\njitter = "often"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == "schedule.jitter"


def _secret_free_error(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Run `check` on a bad config: exit 2, one line naming the file; that line."""
    code = main(["--config", str(path), "check"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("url", "needles"),
    [
        pytest.param("postgresql+psycopg://pw:hunter2@db/pw", [], id="psycopg"),
        pytest.param("postgresql://pw:hunter2@db/pw", [], id="default-driver"),
        pytest.param(
            "postgresql+psycopg2://pw:hunter2@db/pw", ["use postgresql+psycopg://"], id="psycopg2"
        ),
    ],
)
def test_storage_driver_not_installed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    needles: list[str],
) -> None:
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules: import fails
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "{url}"\n' + GOOD_DOC)
    line = _secret_free_error(path, capsys)
    assert "storage.url: the PostgreSQL driver is not installed" in line
    assert "pip install 'policywatch[postgres]'" in line
    assert "pw:***@db" in line and "hunter2" not in line
    for needle in needles:
        assert needle in line
    assert list(tmp_path.iterdir()) == [path]


def test_sqlite_folder_behind_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "sub" / "blocker"
    blocker.parent.mkdir()
    blocker.write_text("not a folder")
    path = tmp_path / "config.toml"
    # relative to the config file's folder, so it is the resolved path that is checked
    path.write_text('[storage]\nurl = "sqlite:///sub/blocker/data/pw.db"\n' + GOOD_DOC)
    line = _secret_free_error(path, capsys)
    assert "storage.url: cannot create the database folder" in line
    assert f"{blocker} is not a directory" in line
    assert "'sqlite:///sub/blocker/data/pw.db'" in line
    assert sorted(tmp_path.rglob("*")) == [path, blocker.parent, blocker]


def test_sqlite_file_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pw.db").mkdir()
    path = tmp_path / "config.toml"
    path.write_text('[storage]\nurl = "sqlite:///pw.db"\n' + GOOD_DOC)
    line = _secret_free_error(path, capsys)
    assert f"storage.url: the database file {tmp_path / 'pw.db'} is a directory" in line
    assert list((tmp_path / "pw.db").iterdir()) == []


def test_sqlite_folder_not_writable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root may write anywhere: answer as the kernel would to anyone else
        access = os.access

        def as_a_user(target: str | Path, mode: int) -> bool:
            return not (Path(target) == locked and mode & os.W_OK) and access(target, mode)

        monkeypatch.setattr(os, "access", as_a_user)
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{locked}/new/pw.db"\n' + GOOD_DOC)
    try:
        line = _secret_free_error(path, capsys)
    finally:
        locked.chmod(0o700)
    assert f"storage.url: cannot create the database folder in {locked}" in line
    assert list(locked.iterdir()) == []


def test_good_storage_urls_load_without_creating_anything(tmp_path: Path) -> None:
    for url in ("sqlite:///pw.db", f"sqlite:///{tmp_path}/a/b/pw.db", "sqlite://"):
        path = tmp_path / "config.toml"
        path.write_text(f'[storage]\nurl = "{url}"\n' + GOOD_DOC)
        assert config.load(path).storage.url == url
        assert list(tmp_path.iterdir()) == [path]


def test_config_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.mkdir()
    line = _secret_free_error(path, capsys)
    assert "cannot read the file: not a regular file (it is a directory)" in line


def test_config_device(capsys: pytest.CaptureFixture[str]) -> None:
    line = _secret_free_error(Path(os.devnull), capsys)
    assert "not a regular file (it is a character device)" in line


def test_config_fifo_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            config.load(fifo)
        except BaseException as exc:  # handed over to the test's thread
            outcome.append(exc)
        else:
            outcome.append(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # load() opened the FIFO and waits for a writer: give it one
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
        pytest.fail("load() opened the FIFO instead of refusing it")
    [error] = outcome
    assert isinstance(error, ConfigError)
    assert str(error) == f"{fifo}: cannot read the file: not a regular file (it is a FIFO)"


# (key, TOML table, the largest or smallest good value, the nearest bad value)
BOUNDS = [
    ("schedule.every", "schedule", "1s", "999ms"),
    ("schedule.every", "schedule", "365d", "365d1s"),
    ("schedule.jitter", "schedule", "0s", None),
    ("schedule.jitter", "schedule", "1d", "1d1s"),
    ("fetch.timeout", "fetch", "1ms", "0s"),
    ("fetch.timeout", "fetch", "1h", "1h1s"),
    ("fetch.backoff", "fetch", "1d", "1d1s"),
    ("fetch.min_gap", "fetch", "0s", None),
    ("fetch.min_gap", "fetch", "1h", "1h1s"),
    ("browser.timeout", "browser", "1h", "61m"),
    ("browser.settle", "browser", "0s", None),
    ("browser.settle", "browser", "1m", "61s"),
    ("alerts.backoff", "alerts", "1d", "25h"),
    ("alerts.max_backoff", "alerts", "7d", "7d1s"),
    ("alerts.max_backoff", "alerts", "1ms", "0s"),
]


@pytest.mark.parametrize(("key", "table", "good", "bad"), BOUNDS, ids=str)
def test_duration_bounds(tmp_path: Path, key: str, table: str, good: str, bad: str | None) -> None:
    path = tmp_path / "config.toml"
    option = key.split(".")[1]
    path.write_text(f'[{table}]\n{option} = "{good}"\n' + GOOD_DOC)
    config.load(path)
    if bad is not None:
        path.write_text(f'[{table}]\n{option} = "{bad}"\n' + GOOD_DOC)
        with pytest.raises(ConfigError) as info:
            config.load(path)
        assert info.value.key == key
        assert str(info.value).endswith(f"got {bad!r}")


def test_channel_and_document_interval_bounds(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(GOOD_DOC + 'every = "1s"\n' + HOOK + 'timeout = "10m"\n')
    settings = config.load(path)
    assert settings.interval(settings.documents[0]) == 1.0
    assert settings.channels[0].timeout == 600.0
    path.write_text(GOOD_DOC + HOOK + 'timeout = "0s"\n')
    with pytest.raises(ConfigError, match=r"channels\[0\]\.timeout: must be more than 0s"):
        config.load(path)


def test_format_duration() -> None:
    assert [
        config.format_duration(s) for s in (0, 0.25, 1, 60, 600, 3600, 86400, 365 * 86400, 90)
    ] == ["0s", "250ms", "1s", "1m", "10m", "1h", "1d", "365d", "90s"]


def test_the_shipped_topics_are_the_built_in_ones() -> None:
    """config.toml spells the built-in topics out for editing: the two must not drift apart."""
    from monitor.analysis.topics import DEFAULT_TOPICS

    root = Path(__file__).resolve().parents[2]
    assert config.load(root / "config.toml").topics == DEFAULT_TOPICS


def test_the_shipped_ai_product_pages_declare_their_topic() -> None:
    """A change in an AI product's terms concerns AI even when its words name only the product."""
    root = Path(__file__).resolve().parents[2]
    settings = config.load(root / "config.toml")
    declared = {d.slug: d.topics for d in settings.documents}
    assert "ai-training" in declared["meta-ai-terms"]
    assert "ai-training" in declared["meta-ai-terms-eu"]
    assert declared["facebook-privacy-policy"] == ()  # a policy's topics come from its words


def test_a_document_topic_must_be_a_known_topic(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[documents]]\nslug = "a"\nname = "A"\nurl = "https://example.org/a"\ntopics = ["ai-trianing"]\n'
    )
    with pytest.raises(ConfigError, match=r"documents\[0\]\.topics: unknown topic"):
        config.load(path)


def test_a_document_round_trips_through_the_watch_list_json() -> None:
    """`policywatch sync` stores each document as JSON; workers read it back unchanged."""
    from monitor.config import DocumentSettings

    root = Path(__file__).resolve().parents[2]
    documents = config.load(root / "config.toml").documents
    assert any(d.remove for d in documents)  # ranges among them
    for doc in documents:
        assert DocumentSettings.model_validate_json(doc.to_json()) == doc
    timed = DocumentSettings.model_validate(
        {"slug": "a", "name": "A", "url": "https://e.org/a", "every": "90m"}
    )
    assert DocumentSettings.model_validate_json(timed.to_json()).every == 90 * 60
