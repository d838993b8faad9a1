"""`archforge` as a Hydra application: Hydra's flags, run directories, sweeps, -cd/-cn."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cli_helpers import TINY_ARGS

from archforge.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_help_names_archforge_and_lists_the_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("archforge train:")
    assert "model: alexnet, densenet121, googlenet" in out and "trainer: cpu, ddp, gpu" in out
    assert main(["summary", "-h"]) == 0
    assert "archforge summary" in capsys.readouterr().out


def test_cfg_job_prints_the_composed_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--cfg", "job", "--resolve", "seed=5", "data=digits"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["seed"] == 5 and cfg["model"]["in_channels"] == 1
    assert "hydra" not in cfg
    assert main(["train", "--cfg", "hydra", "hydra.run.dir=/x/y"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["hydra"]["run"]["dir"] == "/x/y"
    assert main(["train", "--info", "searchpath"]) == 0
    assert "archforge-file://" in capsys.readouterr().out


def test_summary_of_a_model_file_follows_the_data(capsys: pytest.CaptureFixture[str]) -> None:
    tiny = TINY_ARGS[0]
    assert main(["summary", tiny, "data=digits"]) == 0
    assert "input 1x8x8" in capsys.readouterr().out.replace(" ", "").replace("input", "input ")
    assert main(["summary", "model=resnet50"]) == 0
    assert "25,557,032 params" in capsys.readouterr().out
    assert not list(Path.cwd().iterdir())  # summary writes no run directory or log


def test_train_writes_hydra_files_into_the_run_dir(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *TINY_ARGS, "hydra.run.dir=runs/a"]) == 0
    run = tmp_path / "runs" / "a"
    out = capsys.readouterr().out
    assert f"run directory: {run}" in out
    assert (run / "checkpoints" / "best.ckpt").is_file()
    overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
    # schema keys are passed as Hydra's `++key=value` (set whether or not the file states it)
    assert "data=synthetic" in overrides and "++trainer.max_epochs=1" in overrides
    assert not [o for o in overrides if o.startswith("hydra.")]  # those go to hydra.yaml
    assert yaml.safe_load((run / ".hydra" / "config.yaml").read_text())["model"]["name"] == \
        "tiny_cli"
    # the resolved config retrains with -cd/-cn (as a search's exported best run does)
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    resolved["run_dir"] = None
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "best_run.yaml").write_text(yaml.safe_dump(resolved))
    assert main(["train", "-cd", "best", "-cn", "best_run", "run_dir=runs/b"]) == 0
    assert (tmp_path / "runs" / "b" / "checkpoints" / "best.ckpt").is_file()
    assert yaml.safe_load((tmp_path / "runs" / "b" / "config.yaml").read_text())["model"] == \
        resolved["model"]


def test_multirun_sweeps_with_the_basic_launcher(tmp_path: Path) -> None:
    assert main(["train", "-m", *TINY_ARGS, "seed=range(2)", "hydra.sweep.dir=sweep"]) == 0
    for job in ("0", "1"):
        run = tmp_path / "sweep" / job
        assert (run / "checkpoints" / "best.ckpt").is_file()
        assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == int(job)
        assert f"seed={job}" in (run / ".hydra" / "overrides.yaml").read_text()
    # the same sweep again is refused before Hydra rewrites any of the old sweep's files
    files = [tmp_path / "sweep" / "multirun.yaml", tmp_path / "sweep" / "0" / ".hydra" /
             "config.yaml"]
    before = [(f.read_bytes(), f.stat().st_mtime_ns) for f in files]
    assert main(["train", "-m", *TINY_ARGS, "seed=range(2)", "hydra.sweep.dir=sweep"]) == 2
    assert [(f.read_bytes(), f.stat().st_mtime_ns) for f in files] == before


def test_multirun_through_submitit_local(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    args = ["train", "--multirun", *TINY_ARGS, "seed=0,1", "run_dir=subm",
            "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
            "hydra.launcher.cpus_per_task=1"]
    assert main(args) == 0
    for job in ("0", "1"):
        run = tmp_path / "subm" / job
        assert (run / "checkpoints" / "best.ckpt").is_file(), list((tmp_path / "subm").rglob("*"))
        assert yaml.safe_load((run / ".hydra" / "config.yaml").read_text())["seed"] == int(job)


def test_shell_completion_completes_commands_and_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--shell-completion", "install=bash"]) == 0
    assert "complete" in capsys.readouterr().out
    monkeypatch.setenv("COMP_LINE", "archforge tr")
    monkeypatch.setenv("COMP_POINT", "12")
    assert main(["-sc", "query=bash"]) == 0
    assert capsys.readouterr().out.split() == ["train"]
    monkeypatch.setenv("COMP_LINE", "archforge train trainer=")
    monkeypatch.setenv("COMP_POINT", "24")
    assert main(["-sc", "query=bash"]) == 0
    assert capsys.readouterr().out.split() == ["trainer=cpu", "trainer=ddp", "trainer=gpu"]


def test_search_file_is_a_group_option(tmp_path: Path) -> None:
    from archforge.config.compose import compose, conf_dir

    text = (conf_dir() / "search" / "resnet_cifar.yaml").read_text()
    (tmp_path / "space.yaml").write_text(text.replace("study_name: resnet_cifar",
                                                      "study_name: mine"))
    cfg = compose(["search=space.yaml"])
    assert cfg.search.study_name == "mine" and cfg.model.name == "resnet20"


def test_run_dir_works_with_a_primary_config_without_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "best_run.yaml").write_text(yaml.safe_dump(  # as a search exports it
        {"seed": 3, "model": {"name": "resnet20"}}))
    out = tmp_path / "retrain"
    assert main(["train", "-cd", str(tmp_path), "-cn", "best_run", f"run_dir={out}",
                 "--cfg", "job"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["run_dir"] == str(out)
    assert main(["train", "hydra.run.dir=''"]) == 2
    assert "hydra.run.dir: empty" in capsys.readouterr().err
