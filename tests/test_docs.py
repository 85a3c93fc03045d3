"""The README documents every CLI command and every config key (so docs cannot silently rot)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel

from monitor import config
from monitor.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    names: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                nested = _subcommands(sub, full + " ")
                names.extend(nested or [full])
    return names


def _keys(model: type[BaseModel], prefix: str) -> list[str]:
    return [f"{prefix}{name}" for name in model.model_fields]


def test_every_command_is_documented() -> None:
    commands = _subcommands(build_parser())
    assert "check" in commands and "db upgrade" in commands
    for command in commands:
        assert f"`policywatch {command}" in README, (
            f"README does not document `policywatch {command}`"
        )


def test_every_config_key_is_documented() -> None:
    keys: list[str] = []
    for section, model in [
        ("storage.", config.StorageSettings),
        ("schedule.", config.ScheduleSettings),
        ("fetch.", config.FetchSettings),
        ("guards.", config.GuardSettings),
    ]:
        keys += _keys(model, section)
    keys += _keys(config.DocumentSettings, "") + _keys(config.TopicSettings, "")
    for key in keys:
        assert f"`{key}`" in README, f"README does not document the config key `{key}`"
