"""What a user's YAML file or a sweep may ask for: refused in moments, with one line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from archforge.cli.hydra_app import run
from archforge.config.compose import compose
from archforge.errors import ConfigError


def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def block_nested(depth: int) -> str:
    return "".join("  " * i + "a:\n" for i in range(depth)) + "  " * depth + "1\n"


@pytest.mark.parametrize(("text", "words"), [
    (billion_laughs(), "expands to more than 100,000 values"),
    ("x: " + "[" * 3000 + "]" * 3000 + "\n", "more than 64 levels deep"),
    (block_nested(3000), "more than 64 levels deep"),
])
@pytest.mark.parametrize("group", ["model", "search"])
def test_bombs_and_deep_files_are_refused_fast(tmp_path: Path, text: str, words: str,
                                               group: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        compose([f"{group}={path}"])
    assert time.perf_counter() - start < 3.0
    assert info.value.path == group and str(path) in str(info.value) and words in str(info.value)


def test_the_limits_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("name: resnet20\nblock_options: {a: {a: {a: 1}}}\n")  # 4 levels
    monkeypatch.setenv("ARCHFORGE_MAX_YAML_DEPTH", "3")
    with pytest.raises(ConfigError, match="ARCHFORGE_MAX_YAML_DEPTH"):
        compose([f"model={path}"])
    monkeypatch.setenv("ARCHFORGE_MAX_YAML_DEPTH", "4")
    assert compose([f"model={path}"]).model.block_options.a.a.a == 1


def test_the_depth_limit_stops_where_python_s_stack_would(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Raised past its ceiling, the depth limit let a deep file overflow the stack (a
    RecursionError of thousands of lines): the variable itself is refused, and a file deeper
    than the ceiling says that it is the most archforge reads."""
    from archforge.cli import main

    path = tmp_path / "deep.yaml"
    path.write_text("name: deep\nblock_options:\n" + "".join(
        "  " * (i + 1) + f"k{i}:\n" for i in range(500)) + "  " * 501 + "v: 1\n")
    monkeypatch.setenv("ARCHFORGE_MAX_YAML_DEPTH", "100000")
    assert main(["summary", f"model={path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("ConfigError: ARCHFORGE_MAX_YAML_DEPTH: got '100000'; expected an integer "
                   ">= 1 and <= 64 (deeper files overflow Python's stack while they are read)")
    monkeypatch.setenv("ARCHFORGE_MAX_YAML_DEPTH", "64")
    assert main(["summary", f"model={path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "more than 64 levels deep" in err
    assert "64 levels is the most archforge reads" in err


def test_a_huge_sweep_is_refused_before_expanding(monkeypatch: pytest.MonkeyPatch) -> None:
    start = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        run("train", ["-m", "seed=range(0,1000000000)", "trainer.max_epochs=1,2"])
    assert time.perf_counter() - start < 5.0
    assert info.value.path == "seed" and "2,000,000,000 jobs" in str(info.value)
    monkeypatch.setenv("ARCHFORGE_MAX_SWEEP_JOBS", "3")
    with pytest.raises(ConfigError, match="4 jobs"):
        run("train", ["-m", "seed=1,2", "trainer.max_epochs=1,2"])


@pytest.mark.parametrize("header", ["# @package _global_\n", "# @package hydra\n"])
def test_a_model_file_cannot_reach_hydra_callbacks(tmp_path: Path, header: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    path = tmp_path / "net.yaml"
    callbacks = f"callbacks: {{x: {{_target_: builtins.open, file: '{victim}', mode: w}}}}\n"
    path.write_text(header + ("hydra:\n  " if "_global_" in header else "") + callbacks
                    + ("model: {name: resnet20}\n" if "_global_" in header else ""))
    with pytest.raises(ConfigError, match="@package"):
        run("summary", [f"model={path}"])
    path.write_text("defaults:\n  - override /hydra/job_logging: none\nname: resnet20\n")
    with pytest.raises(ConfigError, match="defaults list"):
        run("summary", [f"model={path}"])
    assert victim.read_text() == "keep"
