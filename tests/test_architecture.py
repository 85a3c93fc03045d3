"""The dependency edges of DESIGN.md hold: storage and alerts never import monitor (nor each
other); the pure steps do no I/O; every module says what it owns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "storage", "alerts")
# The stages of monitor/, and the stages each may import (besides itself and errors).
STAGES: dict[str, set[str]] = {
    "extract": set(),
    "analysis": {"extract"},
    "config": {"extract", "analysis"},
    "fetch": {"config", "extract"},
    "alerting": {"config", "extract", "analysis"},
    "check": {"config", "extract", "analysis", "fetch", "alerting"},
    "daemon": {"config", "fetch", "alerting", "check"},
    "queue": {"config", "fetch", "alerting", "check", "daemon"},
    "web": {"config", "extract", "analysis", "fetch", "alerting", "evidence"},
    "archive": {"config", "extract", "analysis"},
    "evidence": set(),  # reads storage only
    "cli": {
        "archive",
        "evidence",
        "config",
        "extract",
        "analysis",
        "fetch",
        "alerting",
        "check",
        "daemon",
        "web",
        "queue",
    },
}
PURE_STAGES = ("extract", "analysis")  # no I/O: fast to test, safe in a worker thread
IO_MODULES = {
    "httpx",
    "sqlalchemy",
    "storage",
    "alerts",
    "socket",
    "requests",
    "smtplib",
    "apscheduler",
}


def modules() -> list[Path]:
    return sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "versions" not in p.parts
    )


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_import_directions(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    roots = imported_roots(path)
    if package == "storage":
        assert not roots & {"monitor", "alerts"}, roots
    if package == "alerts":
        assert not roots & {"monitor", "storage"}, roots
    parts = path.relative_to(ROOT).parts
    if package == "monitor" and len(parts) > 2:
        stage = parts[1]
        assert stage in STAGES, f"{path}: monitor/{stage}/ is not a known stage"
        used = monitor_stages(path) - {stage, "errors"}
        assert used <= STAGES[stage], f"{path} imports {sorted(used - STAGES[stage])}"
        if stage in PURE_STAGES:
            # storage.vocab is words, not I/O: the vocabularies every layer shares.
            io = roots & IO_MODULES
            if io == {"storage"} and imported_storage_modules(path) <= {"storage.vocab"}:
                io = set()
            assert not io, roots


def imported_storage_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage")
    }
    found |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("storage")
    }
    return found


def monitor_stages(path: Path) -> set[str]:
    """The monitor/ stages (sub-packages or top modules) a file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "monitor":
                names.extend(f"monitor.{alias.name}" for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("monitor.")}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_owns(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and len(doc.split()) >= 4, f"{path} needs a docstring saying what it owns"


def test_only_the_cli_prints() -> None:
    for path in modules():
        if path.relative_to(ROOT).parts[:2] == ("monitor", "cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path} prints; only cli.py may"
