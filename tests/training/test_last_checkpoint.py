"""Checkpoints off the critical path: last.ckpt at an interval and in the final epoch,
best.ckpt only when the monitored metric improves, and a kill loses nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping
from train_helpers import tiny_overrides

from archforge.config.compose import compose
from archforge.errors import ConfigError
from archforge.training.checkpoint_io import AtomicCheckpointIO
from archforge.training.fit import train
from archforge.training.last_checkpoint import last_due


def _due(max_epochs: int, every: int) -> list[int]:
    return [e for e in range(max_epochs) if last_due(e, max_epochs, every, stopping=False)]


def test_last_is_due_at_the_interval_and_in_the_final_epoch() -> None:
    assert _due(12, 5) == [4, 9, 11]
    assert _due(12, 1) == list(range(12))
    assert _due(12, 0) == [11]
    assert _due(10, 5) == [4, 9]
    assert last_due(2, 12, 5, stopping=True)  # early stopping ends the run here
    assert not last_due(2, -1, 0, stopping=False)  # max_epochs=-1: no final epoch known


class Writes(L.Callback):
    """Records (file name, epoch) of every checkpoint written, through the IO plugin."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.files: list[tuple[str, int]] = []
        save = AtomicCheckpointIO.save_checkpoint

        def spy(io: Any, checkpoint: dict[str, Any], path: Any, **kw: Any) -> None:
            self.files.append((Path(path).name, int(checkpoint["epoch"])))
            save(io, checkpoint, path, **kw)

        monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", spy)


def test_last_every_n_epochs_and_best_only_on_improvement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(monkeypatch)
    result = train(compose(tiny_overrides(tmp_path, "trainer.max_epochs=5",
                                          "checkpoint.last_every_n_epochs=2",
                                          "checkpoint.monitor=val/loss", "checkpoint.mode=min")),
                   callbacks=[writes])
    assert [e for name, e in writes.files if name == "last.ckpt"] == [1, 3, 4]
    assert result.last_checkpoint == tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(result.last_checkpoint, weights_only=True)["epoch"] == 4
    # best.ckpt exactly in the epochs whose val/loss beat every earlier one
    losses = [float(r["val/loss"]) for r in _history(tmp_path)]
    improved = [e for e, v in enumerate(losses) if v < min(losses[:e], default=float("inf"))]
    assert [e for name, e in writes.files if name == "best.ckpt"] == improved


def _history(tmp_path: Path) -> list[dict[str, str]]:
    import csv

    with open(tmp_path / "run" / "csv" / "metrics.csv") as f:
        return [r for r in csv.DictReader(f) if r.get("val/loss")]


def test_an_early_stop_writes_last_in_its_final_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = Writes(monkeypatch)
    # val/acc cannot rise above 2.0: patience 0 stops after the second epoch
    stop = EarlyStopping("val/acc", mode="max", patience=0, stopping_threshold=None,
                         divergence_threshold=None, min_delta=2.0)
    result = train(compose(tiny_overrides(tmp_path, "trainer.max_epochs=6",
                                          "checkpoint.last_every_n_epochs=0")),
                   callbacks=[writes, stop])
    assert result.epochs < 6
    assert [e for name, e in writes.files if name == "last.ckpt"] == [result.epochs - 1]


def test_a_negative_interval_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"checkpoint\.last_every_n_epochs"):
        train(compose(tiny_overrides(tmp_path, "checkpoint.last_every_n_epochs=-1")))


KILLED = """
import os, signal, sys
import lightning as L
from archforge.config.compose import compose
from archforge.training.fit import train

class Kill(L.Callback):  # SIGKILL at the end of epoch 3 (0-based 2), before last.ckpt's turn
    def on_train_epoch_end(self, trainer, module):
        if trainer.current_epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

train(compose(sys.argv[1:]), callbacks=[Kill()])
"""


def test_a_kill_leaves_the_last_written_checkpoints_whole(tmp_path: Path) -> None:
    args = tiny_overrides(tmp_path, "trainer.max_epochs=6", "checkpoint.last_every_n_epochs=2")
    proc = subprocess.run([sys.executable, "-c", KILLED, *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    folder = tmp_path / "run" / "checkpoints"
    last = torch.load(folder / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # the interval's write; epoch 2 died before its own
    assert "optimizer_states" in last and last["state_dict"]
    best = torch.load(folder / "best.ckpt", weights_only=True)
    assert best["epoch"] <= 2 and best["state_dict"]
    assert not list(folder.glob(".*tmp"))
