"""User mistakes on the command line: one line, exit status 2, the closest valid choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import TINY_ARGS

from archforge.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _err(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def test_typo_of_an_existing_key_names_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    err = _err(["train", "trainer.max_epoch=2"], capsys)
    # the closest key first; how to add a new key after it (issue #29: a user adding a key
    # was told only about the nearest existing one)
    assert err == ("ConfigError: trainer.max_epoch: no such key; did you mean "
                   "trainer.max_epochs? (a key new to this config is added with "
                   "+trainer.max_epoch=2)")
    assert _err(["train", "model.block_opts=1"], capsys).endswith(
        "did you mean model.block_options? (a key new to this config is added with "
        "+model.block_opts=1)")
    assert "did you mean model.block?" in _err(["summary", "model.blok=basic"], capsys)
    assert "did you mean optim.lr?" in _err(["train", "optim.lrr=0.1"], capsys)
    assert "did you mean model.stages.1.depth?" in _err(
        ["summary", "model=resnet20", "model.stages.1.dept=2"], capsys)


def test_new_keys_for_open_sections_need_plus(capsys: pytest.CaptureFixture[str]) -> None:
    err = _err(["train", "trainer.zzz=1"], capsys)
    assert "+trainer.zzz=1" in err
    assert main(["train", "--cfg", "job", "+trainer.gradient_clip_val=1.0"]) == 0
    assert "gradient_clip_val: 1.0" in capsys.readouterr().out
    assert "no '+'" in _err(["train", "+trainer.max_epochs=2"], capsys)


def test_malformed_model_file_names_file_and_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nstages: [1, 2\nblock: basic\n")
    err = _err(["train", "model=bad.yaml"], capsys)
    assert err.startswith("ConfigError: model: invalid YAML in ")
    assert "bad.yaml, line 3, column 6" in err
    assert "file not found" in _err(["summary", "model=nope.yaml"], capsys)
    assert "did you mean 'resnet20'" in _err(["summary", "model=resnt20"], capsys)


@pytest.mark.parametrize(("text", "holds"), [("3\n", "int 3"), ("hello\n", "str 'hello'"),
                                           ("[1, 2]\n", "list [1, 2]")])
def test_a_model_file_holding_no_mapping_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, holds: str) -> None:
    path = tmp_path / "scalar.yaml"
    path.write_text(text)
    assert _err(["summary", f"model={path}"], capsys) == (
        f"ConfigError: model: {path} holds {holds}; expected a mapping of keys to values")


def test_model_weights_are_checked_by_summary(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "text.pt").write_text("not weights\n")
    cases = {"missing.pt": "file not found", "text.pt": "is not a file written by torch.save",
             ".": "is a directory"}
    for name, words in cases.items():
        err = _err(["summary", f"model.weights={tmp_path / name}"], capsys)
        assert err.startswith("ConfigError: model.weights: ") and words in err


def test_unknown_command_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean 'train'?" in _err(["trian"], capsys)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("archforge 0.")


def _run_dir_err(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    err = _err(["train", *TINY_ARGS, *args], capsys)
    assert err.startswith("ConfigError: ")
    return err


def test_run_dir_safety(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "afile").write_text("x")
    assert "afile is a file" in _run_dir_err(["run_dir=afile"], capsys)
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "checkpoints").write_text("x")
    assert "checkpoints is a file" in _run_dir_err(["run_dir=r1"], capsys)
    (tmp_path / "r2" / "checkpoints" / "best.ckpt").mkdir(parents=True)
    assert "best.ckpt is a directory" in _run_dir_err(["hydra.run.dir=r2"], capsys)
    old = tmp_path / "r3" / "checkpoints"
    old.mkdir(parents=True)
    (old / "best.ckpt").write_bytes(b"old run")
    (tmp_path / "r3" / ".hydra").mkdir()
    (tmp_path / "r3" / ".hydra" / "config.yaml").write_text("old: run\n")
    err = _run_dir_err(["run_dir=r3"], capsys)
    assert "already holds another run's checkpoints (best.ckpt)" in err and "overwrite" in err
    # refused before Hydra wrote anything: the old run is intact
    assert (old / "best.ckpt").read_bytes() == b"old run"
    assert (tmp_path / "r3" / ".hydra" / "config.yaml").read_text() == "old: run\n"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if "ro" in str(p) else real_access(p, m))
    (tmp_path / "ro").mkdir()
    assert "ro is not writable" in _run_dir_err(["run_dir=ro"], capsys)
