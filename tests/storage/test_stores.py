"""storage.repo on real, migrated SQLite files: what record_check writes, what reads give back."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage import blobs, models
from storage.db import make_engine, upgrade
from storage.repo import Repo
from storage.values import (
    FULL_EVERY,
    AlertIn,
    ChangeIn,
    CheckIn,
    NotFound,
    PageSpec,
    SnapshotIn,
    VersionIn,
)
from tests.pg import database_url, on_postgres

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PAGES = [
    PageSpec("privacy", "Privacy Policy", "http://127.0.0.1/privacy", "http", "rules-1"),
    PageSpec("ai-help", "How we build assistants", "http://127.0.0.1/ai", "browser", "rules-1"),
]


def body(text: str) -> bytes:
    return f"<html><body><main>{text}</main></body></html>".encode()


def policy_text(n: int) -> str:
    """Version n of a made-up policy: 60 lines, one of which changes with n, plus n extra lines."""
    lines = [
        f"# Part {i // 12 + 1}" if i % 12 == 0 else f"Clause {i} says we keep data."
        for i in range(60)
    ]
    lines[n % 60] = f"Clause {n % 60} now says revision {n} applies to research uses."
    lines += [f"- Item added in revision {k}." for k in range(n)]
    return "\n".join(lines)


def version_in(text: str, technical: bool = False) -> VersionIn:
    sha = hashlib.sha256(text.encode()).hexdigest()
    return VersionIn(text, sha, "rules-1", len(text.split()), technical)


def check_in(at: datetime, outcome: str, **extra: Any) -> CheckIn:
    return CheckIn(at, at + timedelta(seconds=2), outcome, "http", 2000.0, **extra)


def snapshot_in(at: datetime, text: str) -> SnapshotIn:
    headers = {"content-type": "text/html; charset=utf-8", "etag": '"abc"'}
    url = "http://127.0.0.1/privacy"
    return SnapshotIn(at, url, url + "?locale=en", 200, headers, "text/html", body(text))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file migrated with `upgrade`, copied for each test (migrating each time is slower)."""
    path = tmp_path_factory.mktemp("template") / "policywatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def engine(tmp_path: Path, migrated: Path) -> Iterator[Engine]:
    if on_postgres():  # a fresh database on the server, migrated
        engine = make_engine(database_url(tmp_path))
        upgrade(engine)
    else:
        (tmp_path / "data").mkdir()
        shutil.copyfile(migrated, tmp_path / "data" / "policywatch.db")
        engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'policywatch.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def repo(engine: Engine) -> Repo:
    repo = Repo(engine)
    repo.pages.sync_pages(PAGES, T0)
    return repo


def count(engine: Engine, model: type[models.Base]) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def record_new(repo: Repo, at: datetime, text: str, *, slug: str = "privacy") -> int | None:
    """Record a check that found `text` as a new version (with its snapshot); the version number."""
    latest = next(iter(repo.history.recent_versions(slug, 1)), None)
    change = ChangeIn("minor", [], [], [{"kind": "modified"}], latest.number) if latest else None
    outcome = "changed" if latest else "new"
    return repo.checks.record_check(
        slug,
        check_in(at, outcome),
        snapshot=snapshot_in(at, text),
        version=version_in(text),
        change=change,
    ).version


# ---- db --------------------------------------------------------------------------------------


@pytest.mark.sqlite_only("the SQLite file, its directory and pragmas")
def test_sqlite_pragmas_and_directory(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'policywatch.db'}")
    with engine.connect() as c:
        pragmas = {
            name: c.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    engine.dispose()
    assert (tmp_path / "a" / "b" / "policywatch.db").exists()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "synchronous": 1,
    }


# ---- pages ------------------------------------------------------------------------------------


def test_sync_pages_upserts_and_deactivates(repo: Repo) -> None:
    renamed = PageSpec("privacy", "Privacy Policy (EU)", "http://127.0.0.1/p2", "auto", "rules-2")
    repo.pages.sync_pages([renamed], T0 + timedelta(days=1))
    pages = {p.slug: p for p in repo.pages.pages()}
    assert pages["privacy"].name == "Privacy Policy (EU)"
    assert (pages["privacy"].url, pages["privacy"].fetcher) == ("http://127.0.0.1/p2", "auto")
    assert pages["privacy"].rules_hash == "rules-2"
    assert pages["privacy"].active
    assert not pages["ai-help"].active
    repo.pages.sync_pages(PAGES, T0 + timedelta(days=2))
    assert all(p.active for p in repo.pages.pages())


def test_sync_pages_rejects_unknown_fetcher_and_duplicates(repo: Repo) -> None:
    with pytest.raises(ValueError, match="fetcher 'curl'"):
        repo.pages.sync_pages([PageSpec("x", "X", "http://127.0.0.1/x", "curl", "r")], T0)
    with pytest.raises(ValueError, match="duplicate"):
        repo.pages.sync_pages([PAGES[0], PAGES[0]], T0)


def test_pages_report_version_count_and_last_check(repo: Repo) -> None:
    record_new(repo, T0, policy_text(1))
    repo.checks.record_check(
        "privacy", check_in(T0 + timedelta(hours=1), "unchanged", seen_version=1)
    )
    page = repo.pages.page("privacy")
    assert page is not None
    assert page.versions == 1
    assert page.last_check is not None
    assert (page.last_check.outcome, page.last_check.version) == ("unchanged", 1)
    other = repo.pages.page("ai-help")
    assert other is not None
    assert (other.versions, other.last_check) == (0, None)
    assert repo.pages.page("nope") is None


# ---- record_check -------------------------------------------------------------------------------


def test_first_version_with_snapshot(repo: Repo) -> None:
    text = policy_text(1)
    recorded = repo.checks.record_check(
        "privacy",
        check_in(T0, "new", http_status=200, etag='"abc"'),
        snapshot=snapshot_in(T0, text),
        version=version_in(text),
    )
    assert (recorded.version, recorded.change_id, recorded.alert_ids) == (1, None, [])
    version = repo.history.latest_version("privacy")
    assert version is not None
    assert (version.number, version.text, version.created_at) == (1, text, T0)
    assert version.snapshot_id is not None
    snapshot = repo.history.snapshot(version.snapshot_id)
    assert snapshot is not None
    assert snapshot.body == body(text)
    assert snapshot.body_sha256 == hashlib.sha256(body(text)).hexdigest()
    assert snapshot.headers["etag"] == '"abc"'
    assert (snapshot.final_url, snapshot.size) == (
        "http://127.0.0.1/privacy?locale=en",
        len(body(text)),
    )
    check = repo.checks.last_check("privacy")
    assert check is not None
    assert (check.id, check.version, check.snapshot_id) == (
        recorded.check_id,
        1,
        version.snapshot_id,
    )
    assert (check.http_status, check.etag, check.finished_at) == (
        200,
        '"abc"',
        T0 + timedelta(seconds=2),
    )


def test_unchanged_check_sees_version_one(repo: Repo) -> None:
    record_new(repo, T0, policy_text(1))
    later = T0 + timedelta(hours=6)
    recorded = repo.checks.record_check("privacy", check_in(later, "unchanged", seen_version=1))
    assert recorded.version is None
    assert repo.history.version_count("privacy") == 1
    check = repo.checks.last_check("privacy")
    assert check is not None
    assert (check.outcome, check.version, check.started_at) == ("unchanged", 1, later)


def test_failed_check_writes_only_a_check_row(repo: Repo, engine: Engine) -> None:
    record_new(repo, T0, policy_text(1))
    failed = check_in(T0 + timedelta(hours=1), "failed", error_kind="login_wall", message="a wall")
    recorded = repo.checks.record_check("privacy", failed)
    assert (recorded.version, recorded.change_id) == (None, None)
    last = repo.checks.last_check("privacy")
    assert last is not None
    assert (last.outcome, last.error_kind, last.message, last.version) == (
        "failed",
        "login_wall",
        "a wall",
        None,
    )
    good = repo.checks.last_good_check("privacy")
    assert good is not None
    assert (good.outcome, good.started_at) == ("new", T0)
    assert count(engine, models.Check) == 2
    assert count(engine, models.Version) == 1


def test_change_with_topics(repo: Repo, engine: Engine) -> None:
    record_new(repo, T0, policy_text(1))
    changeset = [{"kind": "modified", "path": ["Part 1"], "old": "keeps", "new": "may use"}]
    recorded = repo.checks.record_check(
        "privacy",
        check_in(T0 + timedelta(days=1), "changed"),
        version=version_in(policy_text(2)),
        change=ChangeIn("substantive", ["ai-training", "research"], ["modal-flip"], changeset, 1),
    )
    assert recorded.version == 2
    assert recorded.change_id is not None
    change = repo.history.change(recorded.change_id)
    assert change is not None
    assert (change.from_version, change.to_version, change.significance) == (1, 2, "substantive")
    assert (change.topics, change.flags, change.changeset) == (
        ["ai-training", "research"],
        ["modal-flip"],
        changeset,
    )
    assert (change.n_changes, change.slug, change.created_at) == (
        1,
        "privacy",
        T0 + timedelta(days=1),
    )
    assert repo.history.changes("privacy") == [change]
    assert repo.history.changes("ai-help") == []
    with Session(engine) as s:
        rows = s.execute(select(models.ChangeTopic.change_id, models.ChangeTopic.topic)).all()
    assert sorted(rows) == [(change.id, "ai-training"), (change.id, "research")]


def test_changes_newest_first_with_limit(repo: Repo) -> None:
    for day in range(4):
        record_new(repo, T0 + timedelta(days=day), policy_text(day))
    assert [c.to_version for c in repo.history.changes("privacy")] == [4, 3, 2]
    assert [c.to_version for c in repo.history.changes("privacy", limit=2)] == [4, 3]
    assert repo.history.change(10_000) is None


def test_alerts_with_deliveries(repo: Repo, engine: Engine) -> None:
    record_new(repo, T0, policy_text(1))
    at = T0 + timedelta(days=1)
    recorded = repo.checks.record_check(
        "privacy",
        check_in(at, "changed"),
        version=version_in(policy_text(2)),
        change=ChangeIn("minor", ["data-sharing"], [], [{"kind": "added"}], 1),
        alerts=[AlertIn("change", {"title": "Privacy Policy changed"}, ["mail", "hook"])],
    )
    assert len(recorded.alert_ids) == 1
    with Session(engine) as s:
        alert = s.get_one(models.Alert, recorded.alert_ids[0])
        deliveries = s.scalars(select(models.Delivery).order_by(models.Delivery.channel)).all()
    assert alert.kind == "change"
    assert alert.change_id == recorded.change_id
    assert '"title": "Privacy Policy changed"' in alert.payload
    assert (
        f'"ids": {{"change": {recorded.change_id}, "check": {recorded.check_id}, "incident": null, "version": 2}}'
        in alert.payload
    )
    assert [(d.channel, d.status, d.attempts) for d in deliveries] == [
        ("hook", "pending", 0),
        ("mail", "pending", 0),
    ]
    finished = at + timedelta(seconds=2)
    assert all(d.next_attempt_at == finished and d.created_at == finished for d in deliveries)
    assert len({d.idempotency_key for d in deliveries}) == 2


@pytest.mark.parametrize(
    "bad_alert",
    [
        AlertIn("change", {"title": "x"}, ["mail", "mail"]),  # duplicate idempotency key in the DB
        AlertIn("change", {"when": object()}, ["mail"]),  # a payload that is not JSON
    ],
    ids=["duplicate-delivery", "unserialisable-payload"],
)
def test_a_failing_alert_writes_nothing_of_the_check(
    repo: Repo, engine: Engine, bad_alert: AlertIn
) -> None:
    record_new(repo, T0, policy_text(1))
    tables = (
        models.Snapshot,
        models.Version,
        models.Change,
        models.ChangeTopic,
        models.Check,
        models.Alert,
        models.Delivery,
    )
    before = [count(engine, table) for table in tables]
    text = policy_text(2)
    with pytest.raises((IntegrityError, TypeError)):
        repo.checks.record_check(
            "privacy",
            check_in(T0 + timedelta(days=1), "changed"),
            snapshot=snapshot_in(T0 + timedelta(days=1), text),
            version=version_in(text),
            change=ChangeIn("minor", ["research"], [], [{"kind": "added"}], 1),
            alerts=[AlertIn("change", {"title": "fine"}, ["hook"]), bad_alert],
        )
    assert [count(engine, table) for table in tables] == before
    assert record_new(repo, T0 + timedelta(days=2), text) == 2  # the next number, no gap


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"change": ChangeIn("minor", [], [], [], 1)}, ValueError, "needs the new version"),
        (
            {"version": version_in("a"), "change": ChangeIn("huge", [], [], [], 1)},
            ValueError,
            "significance",
        ),
        ({"version": VersionIn("a", "0" * 64, "r", 1)}, ValueError, "is not the text's"),
        (
            {"version": version_in("a"), "change": ChangeIn("minor", [], [], [], 9)},
            NotFound,
            "no version 9",
        ),
        ({"alerts": [AlertIn("shout", {}, [])]}, ValueError, "alert kind"),
    ],
)
def test_record_check_rejects_inconsistent_input(
    repo: Repo, engine: Engine, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        repo.checks.record_check("privacy", check_in(T0, "new"), **kwargs)
    assert count(engine, models.Check) == 0
    assert count(engine, models.Version) == 0


def test_record_check_rejects_unknown_page_outcome_and_naive_times(repo: Repo) -> None:
    with pytest.raises(NotFound, match="'nope'"):
        repo.checks.record_check("nope", check_in(T0, "failed"))
    with pytest.raises(NotFound, match="no version 3"):
        repo.checks.record_check("privacy", check_in(T0, "unchanged", seen_version=3))
    with pytest.raises(ValueError, match="check outcome 'weird'"):
        repo.checks.record_check("privacy", check_in(T0, "weird"))
    with pytest.raises(ValueError, match="naive"):
        repo.checks.record_check("privacy", check_in(datetime(2025, 1, 1), "failed"))
    assert repo.checks.checks() == []


def test_times_come_back_as_aware_utc(repo: Repo) -> None:
    paris = datetime(2025, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    repo.checks.record_check("privacy", check_in(paris, "failed"))
    check = repo.checks.last_check("privacy")
    assert check is not None
    assert check.started_at == paris
    assert check.started_at.tzinfo == UTC
    assert check.started_at.hour == 12


# ---- versions, snapshots, chains -----------------------------------------------------------------


def test_version_numbers_have_no_gaps(repo: Repo) -> None:
    numbers = []
    for i in range(6):
        at = T0 + timedelta(hours=i)
        if i % 2:
            repo.checks.record_check("privacy", check_in(at, "failed", error_kind="fetch"))
        numbers.append(record_new(repo, at + timedelta(minutes=1), policy_text(i)))
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert [v.number for v in repo.history.recent_versions("privacy", 100)] == [6, 5, 4, 3, 2, 1]
    assert repo.history.version_count("privacy") == 6
    assert repo.history.version_count("ai-help") == 0


def test_two_writers_never_collide(engine: Engine, tmp_path: Path) -> None:
    """Two engines record versions of one page at once; BEGIN IMMEDIATE (SQLite) or the page's
    row lock (PostgreSQL) serialises them."""
    Repo(engine).pages.sync_pages(PAGES, T0)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    start = threading.Barrier(2)
    errors: list[Exception] = []

    def write(repo: Repo, offset: int) -> None:
        start.wait()
        try:
            for i in range(8):
                text = policy_text(100 * offset + i)
                repo.checks.record_check(
                    "privacy", check_in(T0, "changed"), version=version_in(text)
                )
        except Exception as exc:  # collected so the main thread can report it
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(Repo(e), n)) for n, e in enumerate((engine, other))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert errors == []
    assert sorted(v.number for v in Repo(engine).history.recent_versions("privacy", 100)) == list(
        range(1, 17)
    )


def test_snapshot_dedup_reuses_the_row(repo: Repo, engine: Engine) -> None:
    first, second = policy_text(1), policy_text(2)
    record_new(repo, T0, first)
    record_new(repo, T0 + timedelta(hours=1), second)
    flip = repo.checks.record_check(
        "privacy",
        check_in(T0 + timedelta(hours=2), "flip", seen_version=1),
        snapshot=snapshot_in(T0 + timedelta(hours=2), first),
    )
    assert count(engine, models.Snapshot) == 2
    v1 = repo.history.version("privacy", 1)
    last = repo.checks.last_check("privacy")
    assert v1 is not None
    assert last is not None
    assert (last.id, last.snapshot_id, last.version) == (flip.check_id, v1.snapshot_id, 1)
    latest = repo.history.latest_snapshot("privacy")
    assert latest is not None
    assert (latest.id, latest.body, latest.fetched_at) == (v1.snapshot_id, body(first), T0)
    assert repo.history.latest_snapshot("ai-help") is None
    assert repo.history.snapshot(10_000) is None


def test_delta_chains_read_back_exactly_across_full_copies(repo: Repo, engine: Engine) -> None:
    texts = [policy_text(n) for n in range(40)]
    for n, text in enumerate(texts):
        record_new(repo, T0 + timedelta(hours=n), text)
    for number, text in enumerate(texts, start=1):
        version = repo.history.version("privacy", number)
        assert version is not None
        assert version.text == text
    with Session(engine) as s:
        versions = s.execute(
            select(models.Version.depth, models.Version.base_id, models.Version.text).order_by(
                models.Version.number
            )
        ).all()
        snapshots = s.execute(select(models.Snapshot.id, models.Snapshot.depth)).all()
        checks = s.scalars(select(models.Check.snapshot_id).order_by(models.Check.id)).all()
    assert [depth for depth, _, _ in versions] == [n % FULL_EVERY for n in range(40)]
    assert all((base is None) == (depth == 0) for depth, base, _ in versions)
    full, delta = len(versions[FULL_EVERY][2]), len(versions[FULL_EVERY + 1][2])
    assert delta * 5 < full
    assert [depth for _, depth in snapshots] == [n % FULL_EVERY for n in range(40)]
    for snapshot_id, text in zip(checks, texts, strict=True):
        assert snapshot_id is not None
        snapshot = repo.history.snapshot(snapshot_id)
        assert snapshot is not None
        assert snapshot.body == body(text)


def test_recent_versions_are_metadata_newest_first(repo: Repo) -> None:
    for n in range(3):
        record_new(repo, T0 + timedelta(days=n), policy_text(n))
    recent = repo.history.recent_versions("privacy", 2)
    assert [(v.number, v.created_at) for v in recent] == [
        (3, T0 + timedelta(days=2)),
        (2, T0 + timedelta(days=1)),
    ]
    assert recent[0].size == len(policy_text(2))
    assert recent[0].words == len(policy_text(2).split())
    assert recent[0].text_sha256 == hashlib.sha256(policy_text(2).encode()).hexdigest()
    assert repo.history.version("privacy", 4) is None
    assert repo.history.latest_version("ai-help") is None


def test_version_at(repo: Repo) -> None:
    hour = timedelta(hours=1)
    record_new(repo, T0, policy_text(1))  # v1 at T0
    repo.checks.record_check("privacy", check_in(T0 + hour, "unchanged", seen_version=1))
    record_new(repo, T0 + 3 * hour, policy_text(2))  # v2 at T0+3h
    repo.checks.record_check("privacy", check_in(T0 + 5 * hour, "flip", seen_version=1))
    repo.checks.record_check("privacy", check_in(T0 + 6 * hour, "failed", error_kind="fetch"))

    def number_at(when: datetime) -> int | None:
        found = repo.history.version_at("privacy", when)
        return found.number if found else None

    assert number_at(T0 - hour) is None
    assert [number_at(T0 + k * hour) for k in (0, 2, 3, 4, 5, 7)] == [1, 1, 2, 2, 1, 1]
    assert repo.history.version_at("ai-help", T0 + hour) is None


def test_version_at_without_checks_uses_creation_times(repo: Repo, engine: Engine) -> None:
    record_new(repo, T0, policy_text(1))
    record_new(repo, T0 + timedelta(days=1), policy_text(2))
    with Session(engine) as s, s.begin():
        s.execute(delete(models.Check))
    found = repo.history.version_at("privacy", T0 + timedelta(hours=12))
    assert found is not None
    assert (found.number, found.text) == (1, policy_text(1))


def test_checks_listing_and_last_check_times(repo: Repo) -> None:
    repo.checks.record_check("privacy", check_in(T0, "failed"))
    repo.checks.record_check("ai-help", check_in(T0 + timedelta(minutes=5), "failed"))
    repo.checks.record_check("privacy", check_in(T0 + timedelta(minutes=10), "failed"))
    assert [(c.slug, c.started_at - T0) for c in repo.checks.checks()] == [
        ("privacy", timedelta(minutes=10)),
        ("ai-help", timedelta(minutes=5)),
        ("privacy", timedelta(0)),
    ]
    assert len(repo.checks.checks(limit=1)) == 1
    assert [c.slug for c in repo.checks.checks("ai-help")] == ["ai-help"]
    assert repo.checks.last_check_times() == {
        "privacy": T0 + timedelta(minutes=10),
        "ai-help": T0 + timedelta(minutes=5),
    }
    repo.pages.sync_pages(PAGES[:1], T0)
    assert repo.checks.last_check_times() == {"privacy": T0 + timedelta(minutes=10)}
    assert repo.checks.last_good_check("privacy") is None


# ---- deliveries -----------------------------------------------------------------------------


def test_deliveries_come_due_are_retried_and_die(repo: Repo) -> None:
    record_new(repo, T0, policy_text(1))
    alert = AlertIn("change", {"title": "changed"}, ["mail", "hook"])
    recorded = repo.checks.record_check(
        "privacy",
        check_in(T0 + timedelta(hours=1), "changed"),
        version=version_in(policy_text(2)),
        change=ChangeIn("minor", [], [], [], 1),
        alerts=[alert],
    )
    due_at = T0 + timedelta(hours=1, seconds=2)
    assert repo.outbox.due_deliveries(due_at - timedelta(seconds=1)) == []
    mail, hook = sorted(repo.outbox.due_deliveries(due_at), key=lambda d: d.channel, reverse=True)
    assert (mail.channel, mail.kind, mail.slug, mail.alert_id) == (
        "mail",
        "change",
        "privacy",
        recorded.alert_ids[0],
    )
    assert mail.payload["ids"]["version"] == 2
    repo.outbox.delivery_sent(mail.id, due_at)
    retry = due_at + timedelta(minutes=5)
    repo.outbox.delivery_failed(hook.id, "connection refused", retry)
    assert repo.outbox.due_deliveries(due_at + timedelta(minutes=4)) == []
    [again] = repo.outbox.due_deliveries(retry)
    assert (again.id, again.status, again.attempts, again.last_error) == (
        hook.id,
        "failed",
        1,
        "connection refused",
    )
    repo.outbox.delivery_failed(hook.id, "still refused", None)
    assert repo.outbox.due_deliveries(retry + timedelta(days=365)) == []
    with pytest.raises(NotFound, match="no delivery 999"):
        repo.outbox.delivery_sent(999, due_at)


def test_alerts_outside_a_check(repo: Repo) -> None:
    alert_id = repo.outbox.add_alert(AlertIn("test", {"title": "hello"}, ["mail"]), T0)
    [due] = repo.outbox.due_deliveries(T0)
    assert (due.alert_id, due.kind, due.slug, due.payload) == (
        alert_id,
        "test",
        None,
        {"title": "hello"},
    )
    repo.outbox.add_alert(AlertIn("incident_opened", {}, ["mail"]), T0, slug="ai-help")
    assert [d.slug for d in repo.outbox.due_deliveries(T0)] == [None, "ai-help"]
    with pytest.raises(NotFound, match="'gone'"):
        repo.outbox.add_alert(AlertIn("test", {}, ["mail"]), T0, slug="gone")


def test_change_sets_survive_the_compression_migration_both_ways(
    repo: Repo, engine: Engine
) -> None:
    from storage.db import migrate, upgrade

    record_new(repo, T0, policy_text(1))
    changeset = [{"kind": "added", "section": ["Part 1"], "after": "We may train models. ✓"}]
    recorded = repo.checks.record_check(
        "privacy",
        check_in(T0 + timedelta(days=1), "changed"),
        version=version_in(policy_text(2)),
        change=ChangeIn("substantive", ["ai-training"], [], changeset, 1),
    )
    migrate(engine, "0002", down=True)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT changeset FROM changes").scalar_one()
    assert json.loads(stored) == changeset  # plain JSON text before the migration
    upgrade(engine)
    with engine.connect() as connection:
        blob = connection.exec_driver_sql("SELECT changeset FROM changes").scalar_one()
    assert json.loads(blobs.decode(blob)) == changeset  # a compressed blob after it
    assert recorded.change_id is not None
    change = repo.history.change(recorded.change_id)
    assert change is not None and change.changeset == changeset


def test_host_slots_keep_the_gap_across_processes(engine: Engine) -> None:
    """Two engines (two processes' worth of connections) reserve slots of one host at once:
    every slot is distinct and they are `gap` apart, whoever asked."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    start = threading.Barrier(2)
    slots: list[datetime] = []
    lock = threading.Lock()

    def reserve(repo: Repo) -> None:
        start.wait()
        for _ in range(10):
            slot = repo.hosts.reserve("www.example.org", 2.0, T0)
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=reserve, args=(Repo(e),)) for e in (engine, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert sorted(slots) == [T0 + timedelta(seconds=2 * i) for i in range(20)]
    # another host has its own turn; a later request to an idle host goes at once
    assert Repo(engine).hosts.reserve("help.example.org", 2.0, T0) == T0
    later = T0 + timedelta(hours=1)
    assert Repo(engine).hosts.reserve("www.example.org", 2.0, later) == later


def test_idempotency_keys_differ_between_databases(tmp_path: Path) -> None:
    """Alert 1 to channel "hook" in two fresh databases (a reinstall, a second installation):
    two keys, so a receiver that drops repeats never drops the second one's alert."""
    keys = []
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        engine = make_engine(database_url(tmp_path / name))
        try:
            upgrade(engine)
            repo = Repo(engine)
            alert_id = repo.outbox.add_alert(AlertIn("test", {"kind": "test"}, ["hook"]), T0)
            [delivery] = repo.outbox.due_deliveries(T0)
            keys.append((alert_id, delivery.idempotency_key))
        finally:
            engine.dispose()
    assert keys[0][0] == keys[1][0] == 1
    assert keys[0][1] != keys[1][1] and all(len(k) == 64 for _, k in keys)
