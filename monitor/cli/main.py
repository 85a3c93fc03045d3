"""The `policywatch` command: parses arguments, wires the parts, prints, and sets the exit code.

The only module that prints or exits. Exit codes: 0 success, 1 runtime failure, 2 bad usage or
bad configuration. Users never see a traceback: errors are one line naming the thing and value.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli import evidence
from monitor.errors import ConfigError, PolicywatchError, UsageError
from storage.vocab import DELIVERY_STATUSES

# Each command imports what it uses inside its functions: FastAPI, Playwright, SQLAlchemy,
# Alembic, httpx and pydantic cost seconds of CPU at start, and `--help` or `compare` need none
# of them (even asyncio is half the CPU of `--help`). Here: cheap standard modules, the errors.
if TYPE_CHECKING:
    import asyncio

    from rich.console import Console

    from monitor.check.checker import CheckResult
    from monitor.cli.demo import DemoSite
    from monitor.config import DocumentSettings, Settings
    from monitor.daemon.runtime import Store

    Command = Callable[[Settings, argparse.Namespace, Console], int]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("policywatch")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` owns every exit code."""

    def error(self, message: str) -> Any:
        raise UsageError(message)


def _config_option(default: object) -> _Parser:
    parent = _Parser(add_help=False)
    parent.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="config file (default ./config.toml, or $POLICYWATCH_CONFIG)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    # `--config` is accepted before and after the command; the subcommands' copy must not
    # overwrite a value given before the command with its default.
    common = _config_option(argparse.SUPPRESS)
    parser = _Parser(
        prog="policywatch",
        description="Watch privacy policies; keep every version; say what changed.",
        parents=[_config_option(None)],
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_daemon_commands(sub, common)
    _add_history_commands(sub, common)
    _add_tool_commands(sub, common)
    evidence.add_commands(sub, common, _Parser)
    return parser


def _add_daemon_commands(sub: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    run = sub.add_parser(
        "run", parents=[common], help="run the daemon: check every document on its schedule"
    )
    run.add_argument("--once", action="store_true", help="check every document once, then exit")
    run.add_argument("--no-web", action="store_true", help="do not serve the web UI")

    serve = sub.add_parser(
        "serve", parents=[common], help="serve the history in a browser, without checking"
    )
    serve.add_argument("--host", help="address to listen on (default: [web] host)")
    serve.add_argument("--port", type=int, help="port to listen on (default: [web] port)")

    check = sub.add_parser("check", parents=[common], help="check documents now, once")
    check.add_argument("slugs", nargs="*", metavar="SLUG")

    controls = sub.add_parser(
        "controls",
        parents=[common],
        help="the opt-out map: the settings paths, labels and forms each page describes today, "
        "since when, and how they moved",
    )
    controls.add_argument("slug", nargs="?", metavar="SLUG")
    controls.add_argument("--json", action="store_true")

    sub.add_parser(
        "sync",
        parents=[common],
        help="write the config's documents to the database: the watch list workers share",
    )
    worker = sub.add_parser(
        "worker",
        parents=[common],
        help="take checks and deliveries from the shared queue (PostgreSQL; one or many)",
    )
    worker.add_argument(
        "--browser", action="store_true", help="also take the checks that may need Chromium"
    )
    worker.add_argument("--concurrency", type=int, default=4, help="checks at once (default 4)")
    worker.add_argument(
        "--stalled-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a worker silent this long is gone: its checks go to others (default 30)",
    )

    demo = sub.add_parser(
        "demo", help="watch a local demo site change: daemon, alerts to an mbox, the web UI"
    )
    demo.add_argument("--dir", default="policywatch-demo", help="where the demo keeps its files")
    demo.add_argument("--step", default="40s", help="time between two changes of the site")
    demo.add_argument("--port", type=int, default=8080, help="port of the web UI")
    demo.add_argument("--for", dest="duration", help="stop after this long (default: Ctrl-C)")


def _add_history_commands(sub: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    history = sub.add_parser("history", parents=[common], help="versions and changes, newest first")
    history.add_argument("slug", metavar="SLUG")
    history.add_argument("--json", action="store_true")

    checks = sub.add_parser("checks", parents=[common], help="recent checks and their outcomes")
    checks.add_argument("slug", nargs="?", metavar="SLUG")
    checks.add_argument("--limit", type=int, default=30)
    checks.add_argument("--json", action="store_true")

    show = sub.add_parser("show", parents=[common], help="the canonical text of a version")
    show.add_argument("slug", metavar="SLUG")
    show.add_argument("number", nargs="?", metavar="N", help="a version: 2 or v2 (default latest)")
    show.add_argument(
        "--at",
        metavar="DATE",
        help="the version in force at DATE (2025-06-01: the end of that day, UTC; or a time)",
    )

    diff = sub.add_parser("diff", parents=[common], help="a word-level diff of two versions")
    diff.add_argument("slug", metavar="SLUG")
    diff.add_argument("from_", nargs="?", type=int, metavar="FROM")
    diff.add_argument("to", nargs="?", type=int, metavar="TO")

    compare = sub.add_parser(
        "compare", parents=[common], help="diff two local files or URLs (no database)"
    )
    compare.add_argument("old", metavar="OLD")
    compare.add_argument("new", metavar="NEW")
    compare.add_argument("--json", action="store_true")
    compare.add_argument(
        "--input-format", choices=["auto", "html", "markdown", "text"], default="auto"
    )
    compare.add_argument("--select", action="append", default=[], metavar="CSS")
    compare.add_argument("--remove", action="append", default=[], metavar="CSS")
    compare.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="a topic the whole document is about (an AI product's terms: --topic ai-training)",
    )
    compare.add_argument(
        "--earlier",
        action="append",
        default=[],
        metavar="FILE_OR_URL",
        help="an earlier version of the page than OLD (repeatable), as check has its history: "
        "text a capture restores is told from new text",
    )


def _add_tool_commands(sub: argparse._SubParsersAction[_Parser], common: _Parser) -> None:
    validate = sub.add_parser(
        "validate", parents=[common], help="fetch twice and check the extraction is sound"
    )
    validate.add_argument("slugs", nargs="*", metavar="SLUG")
    validate.add_argument("--json", action="store_true")

    init = sub.add_parser("init", parents=[common], help="write a starter config.toml")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    alerts = sub.add_parser("alerts", parents=[common], help="alerts and their deliveries")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True, parser_class=_Parser)
    listing = alerts_sub.add_parser("list", parents=[common], help="recent deliveries")
    listing.add_argument("--status", choices=sorted(DELIVERY_STATUSES))
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    retry = alerts_sub.add_parser(
        "retry", parents=[common], help="send a failed or dead delivery again"
    )
    retry.add_argument("delivery", type=int, metavar="ID")

    test_alert = sub.add_parser(
        "test-alert", parents=[common], help="send a realistic sample alert through a channel"
    )
    test_alert.add_argument("channel", metavar="CHANNEL")

    imports = sub.add_parser(
        "import", parents=[common], help="import history from before you started watching"
    )
    imports_sub = imports.add_subparsers(dest="import_command", required=True, parser_class=_Parser)
    ota = imports_sub.add_parser(
        "ota", parents=[common], help="the versions of one file of an Open Terms Archive repository"
    )
    ota.add_argument("--repo", required=True, metavar="PATH", help="a versions repository (git)")
    ota.add_argument(
        "--file", required=True, metavar="FILE", help='e.g. "Facebook/Privacy Policy.md"'
    )
    ota.add_argument("--document", required=True, metavar="SLUG", help="a watched document")
    corpus = imports_sub.add_parser(
        "corpus", parents=[common], help="one document of the Meta policy history corpus"
    )
    corpus.add_argument("path", metavar="PATH", help="the corpus archive, or its directory")
    corpus.add_argument("--document", required=True, metavar="SLUG", help="a watched document")
    corpus.add_argument(
        "--folder", metavar="NAME", help="the document's folder in the corpus (default: SLUG)"
    )
    for source in (ota, corpus):
        source.add_argument(
            "--renumber",
            action="store_true",
            help="import ahead of versions policywatch already recorded, renumbering them",
        )

    db = sub.add_parser("db", parents=[common], help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_sub.add_parser("upgrade", parents=[common], help="apply migrations (Alembic)")


# -- commands --------------------------------------------------------------------------------


def cmd_run(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    import asyncio

    from monitor.config import check_web_ready
    from monitor.daemon.runtime import open_store

    _channels_ready(settings)
    if not args.once and not args.no_web:
        check_web_ready(settings)  # before the database is written
    if not settings.channels:
        log.warning(
            "no [[channels]] in %s: changes are recorded but alerts go nowhere; add a "
            "[[channels]] table (email, webhook, slack, discord, mbox or apprise) to be told",
            settings.path,
        )
    store = open_store(settings)
    if args.once:
        return _check_now(settings, store, [], out)
    return asyncio.run(_run_daemon(settings, store, web=not args.no_web, stop=_stop_on_signals))


def _stop_on_signals() -> asyncio.Event:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Ctrl-C reaches the browser driver's process too; what it leaves behind while we
        # shut down is expected, not news.
        if stop.is_set():
            log.debug("while stopping: %s", context.get("exception") or context.get("message"))
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(on_error)
    return stop


async def _run_daemon(
    settings: Settings, store: Store, *, web: bool, stop: Callable[[], asyncio.Event]
) -> int:
    import asyncio

    from monitor.daemon.runtime import make_outbox, open_checker
    from monitor.daemon.scheduler import Daemon
    from monitor.web.server import serve_web

    stopped = stop()
    server = None
    if web:
        server = asyncio.create_task(
            serve_web(
                settings,
                store.engine,
                host=settings.web.host,
                port=settings.web.port,
                stop=stopped,
                ready=None,  # monitor.web.server logs the address
            )
        )
        server.add_done_callback(lambda _task: stopped.set())  # a bind error stops the daemon
    async with open_checker(settings, store) as checker:
        outbox = make_outbox(settings, store) if settings.channels else None
        daemon = Daemon(
            settings,
            checker,
            store.repo.checks.last_check_times,
            outbox=outbox,
            config_file=settings.path,
        )
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, daemon.request_reload)  # reload the watch list
        try:
            await daemon.run(stopped)
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
    if server is not None:
        await server  # re-raises a bind or token error
    log.info("stopped")
    return EXIT_OK


def cmd_serve(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    if args.port is not None and not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    import asyncio

    from monitor.config import check_web_ready
    from monitor.daemon.runtime import open_store
    from monitor.web.server import serve_web

    check_web_ready(settings, host=args.host or settings.web.host)
    store = open_store(settings)

    async def serve() -> int:
        await serve_web(
            settings,
            store.engine,
            host=args.host or settings.web.host,
            port=settings.web.port if args.port is None else args.port,
            stop=_stop_on_signals(),
            ready=None,  # monitor.web.server logs the address
        )
        return EXIT_OK

    return asyncio.run(serve())


def cmd_check(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.daemon.runtime import open_store

    docs = _select(settings, args.slugs)
    _channels_ready(settings)
    return _check_now(settings, open_store(settings), docs, out)


def cmd_controls(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.cli.controls import controls_lines, controls_today
    from monitor.daemon.runtime import open_store

    docs = [_document(settings, args.slug)] if args.slug else list(settings.documents)
    rows = controls_today(open_store(settings).repo, docs)
    if args.json:
        _print_json(out, rows)
    else:
        for line in controls_lines(rows):
            out.print(line, markup=False)
    return EXIT_OK


def cmd_sync(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    import asyncio

    from monitor.daemon.runtime import open_checker, open_store

    store = open_store(settings)

    async def sync() -> int:
        async with open_checker(settings, store) as checker:
            technical = await checker.prepare()  # pages, their settings, re-extractions
        watched = store.repo.pages.watch_list()
        retired = sum(1 for page in store.repo.pages.pages() if not page.active)
        out.print(
            f"watch list: {len(watched)} documents"
            + (f", {retired} no longer watched" if retired else "")
            + (f", {len(technical)} re-extracted (technical versions)" if technical else "")
        )
        return EXIT_OK

    return asyncio.run(sync())


def cmd_worker(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.stalled_after <= 0:
        raise UsageError(f"--stalled-after must be more than 0, got {args.stalled_after:g}")
    import asyncio

    from monitor.queue.worker import conninfo, run

    conninfo(settings)  # refuses SQLite before anything is opened
    _channels_ready(settings)
    asyncio.run(
        run(
            settings,
            browser=args.browser,
            concurrency=args.concurrency,
            stalled_after=args.stalled_after,
        )
    )
    return EXIT_OK


def _channels_ready(settings: Settings) -> None:
    """A missing secret is a configuration error before anything runs (the channels' code is
    loaded only when there are channels)."""
    if settings.channels:
        from monitor.alerting.outbox import build_channels

        build_channels(settings)


def _check_now(settings: Settings, store: Store, docs: list[DocumentSettings], out: Console) -> int:
    docs = docs or list(settings.documents)  # load() refuses a config with no documents
    import asyncio

    from monitor.cli import terminal
    from monitor.daemon.runtime import make_outbox

    results = asyncio.run(_check_all(settings, store, docs, out))
    for result in results:
        out.print(terminal.check_line(result), highlight=False)
    if settings.channels:
        attempts = make_outbox(settings, store).deliver_due(datetime.now(UTC))
        if attempts:
            out.print(terminal.delivery_summary(attempts), highlight=False)
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURE


async def _check_all(
    settings: Settings, store: Store, docs: list[DocumentSettings], out: Console
) -> list[CheckResult]:
    import asyncio

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from monitor.cli import terminal
    from monitor.daemon.runtime import open_checker

    err = Console(stderr=True)
    progress = Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    limit = asyncio.Semaphore(settings.schedule.concurrency)
    async with open_checker(settings, store) as checker:
        for result in await checker.prepare():
            out.print(terminal.check_line(result), highlight=False)
        with progress:
            task = progress.add_task("", total=len(docs))

            async def one(doc: DocumentSettings) -> CheckResult:
                async with limit:
                    progress.update(task, description=doc.slug)
                    result = await checker.check(doc)
                progress.advance(task)
                return result

            return list(await asyncio.gather(*(one(doc) for doc in docs)))


def cmd_history(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.cli import terminal
    from monitor.daemon.runtime import open_store

    store = open_store(settings)
    doc = _document(settings, args.slug)
    data = terminal.history(store.repo, doc)
    if args.json:
        _print_json(out, data)
    else:
        out.print(terminal.history_table(data))
    return EXIT_OK


def cmd_checks(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    if args.slug:
        _document(settings, args.slug)
    if args.limit <= 0:
        raise UsageError(f"--limit must be a positive number, got {args.limit}")
    from monitor.cli import terminal
    from monitor.daemon.runtime import open_store

    repo = open_store(settings).repo
    next_at = terminal.next_checks(repo, settings, args.slug)
    data = terminal.checks(repo, args.slug, args.limit, next_at)
    if args.json:
        _print_json(out, data)
    else:
        out.print(terminal.checks_table(data))
        if next_at:
            out.print(terminal.next_checks_table(next_at, datetime.now(UTC)))
    return EXIT_OK


def cmd_show(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.cli import terminal
    from monitor.daemon.runtime import open_store

    doc = _document(settings, args.slug)
    repo = open_store(settings).repo
    if args.at is not None:
        if args.number is not None:
            raise UsageError("give a version N or --at DATE, not both")
        version = terminal.version_at(repo, doc.slug, args.at)
    else:
        number = terminal.parse_version(args.number) if args.number is not None else None
        version = terminal.resolve_version(repo, doc.slug, number)
    out.print(version.text, markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK


def cmd_import(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.archive import sources
    from monitor.archive.importer import import_history
    from monitor.daemon.runtime import open_store
    from storage.imports import HistoryMoved

    doc = _document(settings, args.document)
    if args.import_command == "ota":
        history = sources.ota_repository(Path(args.repo), args.file)
    else:
        history = sources.corpus(Path(args.path), args.folder or doc.slug)
    store = open_store(settings)
    spec = next(spec for spec in _page_specs(settings) if spec.slug == doc.slug)
    store.repo.pages.ensure_page(spec, datetime.now(UTC))
    err = _stderr()
    try:
        report = import_history(
            store.repo,
            settings,
            doc,
            history,
            progress=lambda line: err.print(line, markup=False, highlight=False),
            renumber=args.renumber,
        )
    except HistoryMoved as exc:
        raise PolicywatchError(str(exc)) from None
    for line in report.lines():
        out.print(line, markup=False, highlight=False)
    return EXIT_OK


def _page_specs(settings: Settings) -> list[Any]:
    from monitor.check.checker import page_specs

    return page_specs(settings)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def cmd_diff(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.cli import terminal
    from monitor.daemon.runtime import open_store

    doc = _document(settings, args.slug)
    repo = open_store(settings).repo
    data = terminal.diff_versions(repo, doc.slug, args.from_, args.to, settings.topics)
    out.print(terminal.diff_view(data))
    return EXIT_OK


def cmd_compare(settings: Settings | None, args: argparse.Namespace, out: Console) -> int:
    from monitor.analysis.topics import DEFAULT_TOPICS
    from monitor.cli.compare import SHRINK_RATIO
    from monitor.cli.compare import compare as compare_sources
    from monitor.extract.rules import ExtractRules

    topics = settings.topics if settings else DEFAULT_TOPICS
    known = [t.name for t in topics]
    for topic in args.topic:
        if topic not in known:
            raise UsageError(f"--topic {topic!r} is not a topic (known: {', '.join(known)})")
    try:
        rules = ExtractRules(select=tuple(args.select), remove=tuple(args.remove), min_chars=0)
    except ValueError as exc:  # a selector that does not parse is bad usage
        raise UsageError(str(exc)) from None
    data = compare_sources(
        args.old,
        args.new,
        fmt=args.input_format,
        rules=rules,
        topics=topics,
        document_topics=tuple(args.topic),
        shrink_ratio=settings.guards.shrink_ratio if settings else SHRINK_RATIO,
        earlier_sources=tuple(args.earlier),
    )
    if args.json:
        _print_json(out, data)
    else:
        from monitor.cli import terminal

        out.print(terminal.diff_view(data))
    return EXIT_OK


def cmd_validate(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    import asyncio

    from monitor.cli import terminal
    from monitor.cli.validate import validate_documents

    docs = _select(settings, args.slugs) or list(settings.documents)
    reports = asyncio.run(validate_documents(settings, docs))
    if args.json:
        _print_json(out, [r.to_json() for r in reports])
    else:
        for report in reports:
            out.print(terminal.validation_text(report))
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILURE


def cmd_alerts(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.cli import terminal
    from monitor.daemon.runtime import make_outbox, open_store
    from storage.values import NotFound

    store = open_store(settings)
    repo = store.repo
    if args.alerts_command == "retry":
        try:
            delivery = repo.outbox.retry_delivery(args.delivery, datetime.now(UTC))
        except NotFound:
            raise UsageError(f"there is no delivery {args.delivery}") from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        attempts = [
            a
            for a in make_outbox(settings, store).deliver_due(datetime.now(UTC))
            if a.delivery_id == delivery.id
        ]
        out.print(terminal.delivery_summary(attempts), highlight=False)
        return EXIT_OK if all(a.status == "sent" for a in attempts) else EXIT_FAILURE
    if args.limit <= 0:
        raise UsageError(f"--limit must be a positive number, got {args.limit}")
    rows = terminal.deliveries(repo, args.status, args.limit)
    if args.json:
        _print_json(out, rows)
    else:
        out.print(terminal.deliveries_table(rows))
    return EXIT_OK


def cmd_test_alert(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from alerts import DeliveryError
    from monitor.alerting.outbox import build_channels
    from monitor.alerting.sample import sample_change_payload

    channels = build_channels(settings)
    if args.channel not in channels:
        known = ", ".join(channels) or "none configured"
        raise UsageError(f"unknown channel {args.channel!r} (known: {known})")
    now = datetime.now(UTC)
    payload = sample_change_payload(settings, now)  # assessed by the real code
    key = f"test-{uuid.uuid4().hex}"
    try:
        channels[args.channel].send(payload, idempotency_key=key, now=now)
    except DeliveryError as exc:
        raise PolicywatchError(f"test alert to {args.channel!r} failed: {exc.message}") from None
    out.print(f"sent a test alert to {args.channel!r} (delivery {key})", highlight=False)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: Console) -> int:
    import asyncio

    from monitor import config as config_mod
    from monitor.cli import demo as demo_mod
    from monitor.daemon.runtime import open_store

    step = config_mod.parse_duration(args.step)
    duration = config_mod.parse_duration(args.duration) if args.duration else None
    if step < 4:
        raise UsageError(
            f"--step must be at least 4s (the demo checks 4 times a step), got {args.step}"
        )
    site = demo_mod.DemoSite()
    try:
        path = demo_mod.write_config(
            Path(args.dir), site.url, every=f"{step / 4:g}s", port=args.port
        )
        settings = config_mod.load(path)
        store = open_store(settings)
        out.print(
            f"demo site: {site.url}  ·  history: {settings.web.base_url}  ·  alerts: "
            f"{path.parent / 'alerts.mbox'}\nthe site changes every {args.step}; Ctrl-C stops.",
            highlight=False,
        )

        def stop_event() -> asyncio.Event:
            stop = _stop_on_signals()
            asyncio.get_running_loop().create_task(_demo_timeline(site, step, duration, stop))
            return stop

        return asyncio.run(_run_daemon(settings, store, web=True, stop=stop_event))
    finally:
        site.close()


async def _demo_timeline(
    site: DemoSite, step: float, duration: float | None, stop: asyncio.Event
) -> None:
    import asyncio

    from monitor.cli import demo as demo_mod

    loop = asyncio.get_running_loop()
    if duration is not None:
        loop.call_later(duration, stop.set)
    for stage, what in enumerate(demo_mod.STAGES):
        site.stage = stage
        log.info("demo site: %s", what)
        if stage == len(demo_mod.STAGES) - 1:
            return
        try:
            await asyncio.wait_for(stop.wait(), step)
            return
        except TimeoutError:
            continue


def cmd_init(path: Path, args: argparse.Namespace, out: Console) -> int:
    from monitor.cli import terminal

    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; use --force to overwrite it")
    try:
        path.write_text(terminal.starter_config(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    out.print(f"wrote {path}; edit it, then run `policywatch check`", highlight=False)
    return EXIT_OK


def cmd_db(settings: Settings, args: argparse.Namespace, out: Console) -> int:
    from monitor.daemon.runtime import open_store
    from storage.db import current_revision

    store = open_store(settings)
    out.print(f"database at revision {current_revision(store.engine)}", highlight=False)
    return EXIT_OK


# -- helpers ---------------------------------------------------------------------------------


def _select(settings: Settings, slugs: Sequence[str]) -> list[DocumentSettings]:
    return [_document(settings, slug) for slug in slugs]


def _document(settings: Settings, slug: str) -> DocumentSettings:
    doc = settings.document(slug)
    if doc is None:
        known = ", ".join(d.slug for d in settings.documents) or "none"
        raise UsageError(f"unknown document {slug!r} (known: {known})")
    return doc


def _print_json(out: Console, data: object) -> None:
    out.print(
        json.dumps(data, indent=2, ensure_ascii=False),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


COMMANDS: dict[str, Command] = {
    "run": cmd_run,
    "serve": cmd_serve,
    "check": cmd_check,
    "sync": cmd_sync,
    "controls": cmd_controls,
    "worker": cmd_worker,
    "history": cmd_history,
    "checks": cmd_checks,
    "show": cmd_show,
    "diff": cmd_diff,
    "validate": cmd_validate,
    "alerts": cmd_alerts,
    "test-alert": cmd_test_alert,
    "import": cmd_import,
    "db": cmd_db,
    "snapshot": evidence.cmd_snapshot,
    "export": evidence.cmd_export,
    "verify": evidence.cmd_verify,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `policywatch` command."""
    from storage.redact import RedactingFormatter

    handler = logging.StreamHandler(sys.stderr)
    # Every line is redacted: an exception from httpx quotes the URL, credentials and all.
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # Libraries log every request and job run at INFO; httpx's lines carry full URLs, and a chat
    # webhook's URL is its secret. policywatch logs what matters itself.
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "procrastinate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Apprise's warnings are a failed delivery's reason: the apprise channel reads them from
    # Apprise's result and the outbox logs them with the delivery, so they are not logged twice.
    logging.getLogger("apprise").propagate = False
    try:
        # `--help` prints and exits in parse_args, before any command has imported anything.
        args = build_parser().parse_args(argv)
        try:
            return _dispatch(args)
        finally:
            if "monitor.daemon.runtime" in sys.modules:  # only if a command opened a store
                sys.modules["monitor.daemon.runtime"].close_stores()
    except (ConfigError, UsageError) as exc:
        _print_error(f"policywatch: {exc}")
        return EXIT_USAGE
    except PolicywatchError as exc:
        _print_error(f"policywatch: {exc}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception as exc:
        # The last line of defence: users get one line; the traceback goes to the log at debug.
        log.debug("unexpected error", exc_info=True)
        _print_error(f"policywatch: unexpected error: {type(exc).__name__}: {exc}")
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace) -> int:
    from rich.console import Console

    # soft_wrap: a line is never broken at the terminal width, so errors stay one line.
    out = Console(highlight=False, soft_wrap=True)
    if args.command == "compare" and not _compare_reads_config(args.config):
        return cmd_compare(None, args, out)  # without monitor.config: pydantic, SQLAlchemy

    from monitor import config as config_mod

    path = config_mod.config_path(args.config)
    if args.command == "init":
        return cmd_init(path, args, out)
    if args.command == "demo":
        return cmd_demo(args, out)
    settings = config_mod.load(path)
    if args.command == "compare":
        return cmd_compare(settings, args, out)
    return COMMANDS[args.command](settings, args, out)


def _compare_reads_config(explicit: str | None) -> bool:
    """compare reads a config only when --config names one or the file config_path() would
    pick exists; its rule (--config, else $POLICYWATCH_CONFIG, else ./config.toml) is repeated
    here so that compare without a config never imports monitor.config."""
    path = Path(explicit or os.environ.get("POLICYWATCH_CONFIG") or "config.toml")
    return bool(explicit) or path.exists()


def _print_error(message: str) -> None:
    from rich.console import Console

    from storage.redact import redact

    Console(stderr=True, highlight=False, soft_wrap=True).print(redact(message), markup=False)


if __name__ == "__main__":
    sys.exit(main())
