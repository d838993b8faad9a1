"""Two-process DDP on CPU (gloo), launched like a user would: `archforge train trainer=ddp
trainer.accelerator=cpu trainer.devices=2` in a subprocess (Lightning re-runs the command for
rank 1, which pytest's process cannot be)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import TINY

from archforge.checkpoint import load_network


@pytest.mark.slow
def test_two_process_cpu_ddp(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*TINY, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
            "trainer.max_epochs=1", f"run_dir={run}"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "archforge.cli", "train", *args],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((run / "ranks.json").read_text())
    assert info["world_size"] == 2
    assert sorted(r["rank"] for r in info["ranks"]) == [0, 1]
    # each rank took the same number of optimizer steps on its half of the data
    steps = {r["steps"] for r in info["ranks"]}
    # 128 training samples (160, 20% held out) / 2 ranks / batch 32 = 2 steps each
    assert steps == {2}
    assert proc.stdout.count("best checkpoint:") == 1  # only rank 0 reports
    net, _ = load_network(run / "checkpoints" / "best.ckpt")
    assert net.config.num_classes == 4
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == [".hydra", "checkpoints", "csv"]


@pytest.mark.slow
def test_two_process_ddp_with_each_rank_holding_its_shard(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*TINY, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
            "trainer.max_epochs=1", "data.device_resident=true", f"run_dir={run}"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "archforge.cli", "train", *args],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the ranks agreed (a collective) and rank 0 said so in one line: 64 + 16 samples of
    # 1x8x8 uint8 + an int64 label each
    lines = [line for line in proc.stderr.splitlines() if "data: " in line]
    assert len(lines) == 1 and "data: resident on cpu, 0.0 MB (this rank's shard of 2)" \
        in lines[0], proc.stderr[-3000:]
    info = json.loads((run / "ranks.json").read_text())
    assert {r["steps"] for r in info["ranks"]} == {2}  # 64 samples a rank, batch 32
