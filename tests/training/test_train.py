"""`train()`: run directory, metrics, reproducibility, loggers and early config errors."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
from train_helpers import tiny_overrides

from archforge.checkpoint import load_network
from archforge.config.compose import compose
from archforge.errors import ConfigError
from archforge.training.fit import TrainResult, train
from archforge.training.memory_format import ONEDNN_1X1_CHANNEL_BLOCK


def test_default_config_adapts_model_to_digits() -> None:
    cfg = compose([])
    assert cfg.model.name == "resnet20" and cfg.data.name == "digits"
    assert (cfg.model.in_channels, cfg.model.num_classes, cfg.model.input_size) == (1, 10, 8)
    assert cfg.trainer.accelerator == "cpu" and cfg.optim.name == "sgd"
    assert cfg.get("search") is None


def test_run_directory_metrics_and_checkpoints(tmp_path: Path) -> None:
    result = train(compose(tiny_overrides(tmp_path)))
    assert isinstance(result, TrainResult) and result.epochs == 2
    assert set(result.metrics) == {"val/acc", "val/loss"}  # no top-5 of 4 classes
    assert 0.0 <= result.metrics["val/acc"] <= 1.0
    run = tmp_path / "run"
    assert result.run_dir == run
    assert (run / "config.yaml").read_text().count("name: synthetic") == 1
    assert result.best_checkpoint == run / "checkpoints" / "best.ckpt"
    assert result.last_checkpoint == run / "checkpoints" / "last.ckpt"
    assert result.best_checkpoint.is_file() and result.last_checkpoint.is_file()
    assert torch.load(result.last_checkpoint, weights_only=True)["epoch"] == 1  # final epoch
    assert not list((run / "checkpoints").glob(".*tmp"))  # atomic writes leave no temp files
    with open(run / "csv" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/acc")]
    assert [int(r["epoch"]) for r in rows] == [0, 1]  # val/acc once per validation epoch
    assert result.model_config["name"] == "tiny" and result.model_config["num_classes"] == 4
    net, meta = load_network(result.best_checkpoint)
    assert net.config.num_classes == 4 and len(meta["class_names"]) == 4


@pytest.mark.slow
def test_seeded_runs_are_reproducible(tmp_path: Path) -> None:
    a = train(compose(tiny_overrides(tmp_path / "a", "seed=3")), checkpoints=False)
    b = train(compose(tiny_overrides(tmp_path / "b", "seed=3")), checkpoints=False)
    assert a.metrics == b.metrics
    assert a.best_checkpoint is None


def test_tensorboard_is_one_override(tmp_path: Path) -> None:
    cfg = compose(tiny_overrides(tmp_path, "logger=[csv,tensorboard]", "trainer.max_epochs=1",
                                 "trainer.limit_train_batches=1"))
    train(cfg, checkpoints=False)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()


@pytest.mark.parametrize(
    ("extra", "key", "text"),
    [
        (["model=inception_v3"], "model.stem", "input"),
        (["model.num_classes=5"], "model.num_classes", "4 classes"),
        (["model.in_channels=3"], "model.in_channels", "1 channels"),
        (["data=image_folder", "data.root=/no/such/folder"], "data.root", "/no/such/folder"),
        (["+trainer.bogus=1"], "trainer.bogus", "not a lightning.Trainer argument"),
        (["optim.schedule=poly"], "optim.schedule", "poly"),
        (["logger=wandb"], "logger", "wandb"),
        (["finetune.enabled=true"], "model.weights", "pretrained"),
        (["finetune.enabled=true", "trainer.devices=2"], "finetune.enabled", "one process"),
    ],
)
def test_bad_config_fails_before_training(
    tmp_path: Path, extra: list[str], key: str, text: str
) -> None:
    # Whole-config cases start from the defaults (digits); the rest from the tiny config.
    own_data = any(e.startswith(("model=inception", "data=")) for e in extra)
    overrides = [*extra, f"run_dir={tmp_path / 'run'}"] if own_data else tiny_overrides(
        tmp_path, *extra)
    with pytest.raises(ConfigError) as info:
        train(compose(overrides))
    assert info.value.path.startswith(key), str(info.value)
    assert text in str(info.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


class _Layout(L.Callback):
    """Records the memory format the network's weights train in."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        weights = [p for p in pl_module.parameters() if p.dim() == 4]
        self.channels_last = [w.is_contiguous(memory_format=torch.channels_last)
                              and not w.is_contiguous() for w in weights]


@pytest.mark.parametrize("width", [8, 16])
def test_channels_last_trains_where_onednn_can(tmp_path: Path, width: int) -> None:
    # At width 8 the stride-2 projection shortcut reads 8 channels: oneDNN's NHWC kernel for
    # it corrupts the heap (memory_format.py), so an explicit channels_last=true trains NCHW.
    layout = _Layout()
    cfg = compose(tiny_overrides(tmp_path, "channels_last=true", "trainer.max_epochs=1",
                                 f"model.stem.out_channels={width}",
                                 f"model.stages.0.out_channels={width}"))
    result = train(cfg, callbacks=[layout])
    assert torch.isfinite(torch.tensor(result.metrics["val/loss"]))
    wide = width >= ONEDNN_1X1_CHANNEL_BLOCK
    # 1x1 weights are contiguous in both formats: count the 3x3 ones.
    assert any(layout.channels_last) is wide
