"""The dependency edges of DESIGN.md hold: storage and alerts never import monitor (nor each
other); the pure steps do no I/O; every module says what it owns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("monitor", "storage", "alerts")
PURE = (
    "monitor/document.py",
    "monitor/normalizer.py",
    "monitor/differ.py",
    "monitor/topics.py",
    "monitor/urls.py",
)
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
    if str(path.relative_to(ROOT)) in PURE:
        assert not roots & IO_MODULES, roots


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_owns(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and len(doc.split()) >= 4, f"{path} needs a docstring saying what it owns"


def test_only_cli_prints() -> None:
    for path in modules():
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path} prints; only cli.py may"
