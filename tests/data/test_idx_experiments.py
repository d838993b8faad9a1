"""`archforge experiment degradation|transfer data=fashion_mnist`: the experiments run on
IDX data (tiny generated files, two batches per epoch; the mechanics, not the claims)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_data import write_idx_set

from archforge.cli.experiment import run_experiment

FAST = ["trainer.limit_train_batches=2", "trainer.limit_val_batches=2"]
pytestmark = pytest.mark.slow


def test_degradation_on_fashion_mnist(tmp_path: Path) -> None:
    idx = write_idx_set(tmp_path / "idx", train=60)
    out = run_experiment("degradation", [
        "data=fashion_mnist", f"data.root={idx}", "models=[plain20,resnet20]", "seeds=[0]",
        "epochs=1", *FAST, f"run_dir={tmp_path / 'out'}",
    ])
    final = out.table("after 1 epochs, mean over 1 seed(s)")
    assert final.column("model") == ["plain20", "resnet20"]
    config = (tmp_path / "out" / "plain20_seed0" / "config.yaml").read_text()
    assert "name: fashion_mnist" in config and "input_size: 28" in config
    assert (tmp_path / "out" / "degradation.png").stat().st_size > 0


def test_transfer_on_fashion_mnist_uses_class_subsets(tmp_path: Path) -> None:
    idx = write_idx_set(tmp_path / "idx", train=100)
    out = run_experiment("transfer", [
        "data=fashion_mnist", f"data.root={idx}", "pretrain_epochs=1", "epochs=2",
        "head_epochs=1", "target_train_fraction=0.5", "batch_size=8", *FAST,
        f"run_dir={tmp_path / 'out'}",
    ])
    curves = out.table("target validation accuracy")
    assert [r[0] for r in curves.rows] == [1, 2]
    notes = " ".join(out.notes)
    assert "pretrained on classes [0, 1, 2, 3, 4]" in notes
    assert "target classes [5, 6, 7, 8, 9], 25 training images (50%)" in notes
    config = (tmp_path / "out" / "finetune_target" / "config.yaml").read_text()
    assert "name: fashion_mnist" in config and "- 5" in config
    assert (tmp_path / "out" / "transfer.png").stat().st_size > 0
