"""`archforge <command> --help` answers for every command in the table, with the command's
own usage and exit status 0; typos in command arguments get "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from archforge.cli import main
from archforge.cli.table import COMMANDS


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_answers_help(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([name, "--help"]) == 0
    out, err = capsys.readouterr()
    if COMMANDS[name].hydra is not None:  # Hydra's page: the command, its groups and config
        assert out.startswith(f"archforge {name}:") and "== Config groups" in out
    else:  # the handler's docstring, usage first
        assert out.startswith(f"usage: archforge {name}")
        assert len(out.splitlines()) >= 3  # the usage and what the command does
    assert err == ""
    assert not list(tmp_path.iterdir())  # asking for help writes nothing


@pytest.mark.parametrize("name", [n for n, c in COMMANDS.items() if c.hydra is None])
def test_help_flag_anywhere_wins_over_the_arguments(name: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "nonsense=1", "-h"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: archforge {name}")


def test_blocks_suggests_the_closest_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["blocks", "bottlenek"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: blocks: no plugin named 'bottlenek'; did you mean "
                          "'bottleneck'?")
    assert len(err.strip().splitlines()) == 1
    assert main(["blocks", "bottleneck"]) == 0
    assert "bottleneck" in capsys.readouterr().out


def test_search_refuses_another_primary_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "-cn", "best_run", "search=resnet_cifar"]) == 2
    assert "ConfigError: --config-dir/--config-name: archforge search composes its config" \
        in capsys.readouterr().err
