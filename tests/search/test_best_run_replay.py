"""`archforge train -cd <study> -cn best_run` replays its trial: the same per-epoch
validation curve on CPU whatever the retraining machine's free cores, results alone on
stdout, and presets (`optim=adamw`, `trainer=gpu`) still apply."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
import yaml
from search_helpers import load, tiny_args

from archforge.cli import main
from archforge.cli import train as train_cli
from archforge.cli.search import search
from archforge.training.threads import cores

RESULT_LINES = ("run directory: ", "best (epoch ", "last (epoch ", "best checkpoint: ",
                "last checkpoint: ")


def val_curve(run_dir: Path) -> list[tuple[str, str, str]]:
    """(epoch, val/acc, val/loss) per validation epoch, as the csv logger wrote them."""
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [(r["epoch"], r["val/acc"], r["val/loss"]) for r in csv.DictReader(f)
                if r["val/acc"]]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_best_run_replays_the_trials_validation_curve(
        root: Path, tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert search(tiny_args(root, "search.n_trials=2", f"search.n_workers={workers}")) == 0
    study_dir = root / "tiny"
    text = (study_dir / "best_run.yaml").read_text()
    best = next(t for t in load(root).get_trials() if f"trial {t.number}," in text)
    threads = max(1, cores() // workers)
    assert best.user_attrs["threads"] == threads
    run = yaml.safe_load(text)
    assert run["threads"] == threads  # recorded, not null
    assert run["defaults"][:4] == [{"model": "resnet20"}, {"data": "digits"},
                                   {"trainer": "cpu"}, {"optim": "sgd"}]
    trial_curve = val_curve(Path(best.user_attrs["run_dir"]))
    assert len(trial_curve) == 2

    # the retraining machine's free cores would give `threads: null` another count (one
    # thread more or less changes val/loss in its last digits): the recorded one is used
    monkeypatch.setattr(train_cli, "choose_threads", lambda shared: 3 - min(threads, 2))
    for name in ("lightning", "lightning.pytorch"):  # as in a fresh `archforge train`
        level = logging.getLogger(name).level  # (the search in this process quietened them)
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
        assert level in (logging.NOTSET, logging.WARNING)
    capsys.readouterr()
    out = tmp_path / "retrain"
    assert main(["train", "-cd", str(study_dir), "-cn", "best_run", f"run_dir={out}"]) == 0
    assert val_curve(out) == trial_curve  # every digit of every epoch
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines and all(line.startswith(RESULT_LINES) for line in lines), printed.out
    assert "GPU available" in printed.err  # Lightning's log lines go to stderr


@pytest.mark.slow
def test_presets_apply_to_best_run(root: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert search(tiny_args(root, "search.n_trials=1")) == 0
    study_dir = root / "tiny"
    out = tmp_path / "adamw"
    capsys.readouterr()
    assert main(["train", "-cd", str(study_dir), "-cn", "best_run", "optim=adamw",
                 f"run_dir={out}", "trainer.max_epochs=1"]) == 0
    assert "with optim=adamw (was sgd)" in capsys.readouterr().err
    optim = yaml.safe_load((out / "config.yaml").read_text())["optim"]
    # adamw.yaml's values, the search's own warmup_epochs=0 kept, sgd's momentum gone
    assert optim["name"] == "adamw" and optim["lr"] == 0.002 and optim["weight_decay"] == 0.05
    assert optim["warmup_epochs"] == 0 and "momentum" not in optim

    import torch

    if torch.cuda.is_available():
        return
    assert main(["train", "-cd", str(study_dir), "-cn", "best_run", "trainer=gpu",
                 f"run_dir={tmp_path / 'gpu'}"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ConfigError: trainer.accelerator: got 'gpu' but this machine has no such device; "
        "use trainer=cpu (or accelerator cpu / auto)")


def test_a_run_file_without_defaults_says_how_a_preset_applies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "best_run.yaml").write_text(yaml.safe_dump({"seed": 3}))
    assert main(["train", "-cd", str(tmp_path), "-cn", "best_run", "trainer=gpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ConfigError: trainer: ") and "without a defaults list" in err
    assert "no such key" not in err
