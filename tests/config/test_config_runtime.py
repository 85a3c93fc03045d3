"""check_web_ready: what only the commands that serve the web UI need (a token that is set, and
long enough off the loopback interface), refused before anything is opened, secrets unshown."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import config
from monitor.errors import ConfigError

DOC = '[[documents]]\nslug = "a"\nname = "A"\nurl = "https://example.org/a"\n'
LONG = "a-long-enough-token-Qw81"
SHORT = "short-Tk4"


def settings(tmp_path: Path, web: str) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///pw.db"\n[web]\n{web}\n{DOC}')
    loaded = config.load(path)  # a cron `check` needs none of this: load() accepts it
    assert list(tmp_path.iterdir()) == [path]
    return loaded


def refusal(s: config.Settings, environ: dict[str, str], host: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config.check_web_ready(s, environ, host=host)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{s.path}: {info.value.key}: ")
    for secret in (LONG, SHORT):
        assert secret not in message
    return info.value


def test_token_env_not_set(tmp_path: Path) -> None:
    s = settings(tmp_path, 'token_env = "PW_WEB_TOKEN"')
    for environ in ({}, {"PW_WEB_TOKEN": ""}):
        error = refusal(s, environ)
        assert error.key == "web.token_env"
        assert str(error).endswith("environment variable PW_WEB_TOKEN is not set")
    config.check_web_ready(s, {"PW_WEB_TOKEN": SHORT})  # on loopback any token will do


@pytest.mark.parametrize(
    ("web", "environ", "key"),
    [
        pytest.param(f'host = "0.0.0.0"\ntoken = "{SHORT}"', {}, "web.token", id="token"),
        pytest.param(
            'host = "0.0.0.0"\ntoken_env = "PW_T"', {"PW_T": SHORT}, "web.token_env", id="env"
        ),
    ],
)
def test_short_token_off_loopback(
    tmp_path: Path, web: str, environ: dict[str, str], key: str
) -> None:
    error = refusal(settings(tmp_path, web), environ)
    assert error.key == key
    assert "too short" in str(error) and "'0.0.0.0'" in str(error)
    assert f"at least 24 characters, got {len(SHORT)} characters" in str(error)


def test_long_token_off_loopback(tmp_path: Path) -> None:
    config.check_web_ready(settings(tmp_path, f'host = "0.0.0.0"\ntoken = "{LONG}"'), {})
    s = settings(tmp_path, 'host = "::"\ntoken_env = "PW_T"')
    config.check_web_ready(s, {"PW_T": LONG})
    assert refusal(s, {}).key == "web.token_env"


def test_host_given_on_the_command_line(tmp_path: Path) -> None:
    """`serve --host` overrides web.host: the check is on the address actually served."""
    open_ui = settings(tmp_path, "")
    config.check_web_ready(open_ui, {})
    error = refusal(open_ui, {}, host="0.0.0.0")
    assert error.key == "web.host" and "needs web.token or web.token_env" in str(error)
    short = settings(tmp_path, f'token = "{SHORT}"')
    config.check_web_ready(short, {})
    assert refusal(short, {}, host="192.0.2.7").key == "web.token"
    config.check_web_ready(short, {}, host="localhost")


@pytest.mark.parametrize("command", [["run"], ["serve"]])
def test_run_and_serve_refuse_a_missing_token_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    from monitor.cli.main import main

    path = tmp_path / "config.toml"
    path.write_text(
        '[storage]\nurl = "sqlite:///pw.db"\n[web]\ntoken_env = "POLICYWATCH_NO_SUCH_TOKEN"\n'
        '[[documents]]\nslug = "a"\nname = "A"\nurl = "https://example.org/a"\n'
    )
    assert main(["--config", str(path), *command]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "POLICYWATCH_NO_SUCH_TOKEN" in err
    assert list(tmp_path.iterdir()) == [path]
