"""The README documents every CLI command and every config key (so docs cannot silently rot)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import BaseModel

from monitor import config
from monitor.cli.main import build_parser

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
        ("web.", config.WebSettings),
        ("alerts.", config.AlertSettings),
    ]:
        keys += _keys(model, section)
    keys += _keys(config.DocumentSettings, "") + _keys(config.TopicSettings, "")
    for channel in (
        config.EmailChannelSettings,
        config.WebhookChannelSettings,
        config.ChatChannelSettings,
        config.MboxChannelSettings,
        config.AppriseChannelSettings,
    ):
        keys += [field.alias or name for name, field in channel.model_fields.items()]
    for key in keys:
        assert f"`{key}`" in README, f"README does not document the config key `{key}`"


def test_readme_webhook_verification_snippet_works() -> None:
    import re
    import time

    from alerts.webhook import sign

    [snippet] = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "def verify" in b]
    namespace: dict[str, object] = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    body, stamp = b'{"kind": "change"}', str(int(time.time()))
    headers = {"X-Policywatch-Timestamp": stamp, "X-Policywatch-Signature": sign("s3", stamp, body)}
    assert verify(b"s3", headers, body) is True  # type: ignore[operator]
    assert verify(b"other", headers, body) is False  # type: ignore[operator]
    assert verify(b"s3", headers, body + b" ") is False  # type: ignore[operator]
