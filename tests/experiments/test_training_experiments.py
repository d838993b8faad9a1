"""The three training experiments' mechanics on a tiny budget: numbers, curves, files.

Two batches per epoch and two validation batches keep each run to seconds; the assertions
are on what must hold at any budget (exact identity outputs, curve lengths, the files).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from markdown_tables import check_tables_render
from omegaconf import OmegaConf

from archforge.cli.experiment import run_experiment
from archforge.errors import ConfigError
from archforge.experiments.runner import read_curves

FAST = ["trainer.limit_train_batches=2", "trainer.limit_val_batches=2"]
pytestmark = pytest.mark.slow


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_identity_blocks_change_nothing_then_finetune(tmp_path: Path) -> None:
    out = run_experiment("identity", [
        "epochs=1", "finetune_epochs=2", "extra_blocks=2", *FAST, f"run_dir={tmp_path}"
    ])
    shallow, deep = out.table("identity check").rows
    # Exactly the same function: each appended block is relu(0 + x) on a post-ReLU x.
    assert deep[4] == 0.0 and deep[3] == shallow[3]
    assert deep[1] == shallow[1] + 2 == 11
    # Two basic blocks at 64 channels: 2 x (2 x 64*64*9 conv weights + 2 x 2*64 BN).
    assert deep[2] - shallow[2] == 2 * (2 * 64 * 64 * 9 + 4 * 64)
    tune = out.table("fine-tuning")
    assert [r[0] for r in tune.rows] == [2, 3]  # epochs continue after the first one
    assert all(0.0 <= r[1] <= 1.0 and 0.0 <= r[2] <= 1.0 for r in tune.rows)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"results.md", "identity_check.csv", "fine_tuning.csv", "identity.png",
            "deeper_start.pt", "shallow", "deeper_finetuned", "shallow_continued"} <= names
    # The deeper run started from the saved weights, whose new blocks end in a zero norm.
    start = torch.load(tmp_path / "deeper_start.pt", weights_only=True)
    assert torch.count_nonzero(start["stages.2.4.bn2.weight"]) == 0
    assert torch.count_nonzero(start["stages.2.2.bn2.weight"]) > 0
    assert len(_rows(tmp_path / "fine_tuning.csv")) == 2
    assert "closing batch-norm scales moved from 0 to at most" in " ".join(out.notes)
    assert check_tables_render(tmp_path / "results.md") == 2  # "max \|logit diff\|" escaped


def test_degradation_curves_per_model_and_seed(tmp_path: Path) -> None:
    out = run_experiment("degradation", [
        "models=[plain20,resnet20]", "seeds=[0,1]", "epochs=2", *FAST, f"run_dir={tmp_path}"
    ])
    final = out.table("after 2 epochs, mean over 2 seed(s)")
    assert final.column("model") == ["plain20", "resnet20"]
    for run in ("plain20_seed0", "plain20_seed1", "resnet20_seed0", "resnet20_seed1"):
        curves = read_curves(tmp_path / run / "csv" / "metrics.csv")
        assert curves.epochs == [1, 2] and len(curves.val_acc) == 2
    # The table's mean is the mean of the two runs' last-epoch losses.
    last = [read_curves(tmp_path / f"plain20_seed{s}" / "csv" / "metrics.csv").train_loss[-1]
            for s in (0, 1)]
    assert final.rows[0][1] == pytest.approx(sum(last) / 2, abs=1e-4)
    assert last[0] != last[1]  # the seeds really differ
    curves_csv = _rows(tmp_path / "curves_mean_over_seeds.csv")
    assert [(r["model"], r["epoch"]) for r in curves_csv] == [
        ("plain20", "1"), ("plain20", "2"), ("resnet20", "1"), ("resnet20", "2")
    ]
    assert (tmp_path / "degradation.png").stat().st_size > 1000
    assert check_tables_render(tmp_path / "results.md") == len(out.tables)


def test_transfer_finetunes_through_archforge(tmp_path: Path) -> None:
    out = run_experiment("transfer", [
        "pretrain_epochs=1", "epochs=2", "head_epochs=1", *FAST, f"run_dir={tmp_path}"
    ])
    table = out.table("target validation accuracy")
    assert [r[:2] for r in table.rows] == [[1, "head only"], [2, "last stage unfrozen"]]
    tuned = OmegaConf.load(tmp_path / "finetune_target" / "config.yaml")
    assert list(tuned.data.classes) == [5, 6, 7, 8, 9] and tuned.finetune.enabled
    assert tuned.finetune.head_epochs == 1 and tuned.data.val_fraction == pytest.approx(0.9)
    assert "pretrain_source" in tuned.model.weights
    scratch = OmegaConf.load(tmp_path / "scratch_target" / "config.yaml")
    assert scratch.model.weights is None and not scratch.finetune.enabled
    pre = OmegaConf.load(tmp_path / "pretrain_source" / "config.yaml")
    assert list(pre.data.classes) == [0, 1, 2, 3, 4] and pre.model.num_classes == 5
    assert "90 training images (10%)" in " ".join(out.notes)
    assert {"results.md", "results.csv", "transfer.png"} <= {p.name for p in tmp_path.iterdir()}
    assert check_tables_render(tmp_path / "results.md") == 1


def test_transfer_rejects_overlapping_digits(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"experiment.transfer.target: .*shared: \[4\]"):
        run_experiment("transfer", ["target=[4,5]", f"run_dir={tmp_path}"])
