"""Two-process CPU DDP inside a two-job Hydra sweep: Lightning re-runs the command for rank 1
of each job; the ranks must share the job's run directory and the second job must start its
own rank 1 (not wait for one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import TINY_ARGS


@pytest.mark.slow
def test_ddp_jobs_in_a_multirun(tmp_path: Path) -> None:
    args = ["train", "-m", *TINY_ARGS, "trainer=ddp", "trainer.accelerator=cpu",
            "trainer.devices=2", "seed=0,1", "run_dir=sweep"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "archforge.cli", *args], capture_output=True,
                          text=True, timeout=400, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        run = tmp_path / "sweep" / job
        info = json.loads((run / "ranks.json").read_text())
        assert info["world_size"] == 2 and sorted(r["rank"] for r in info["ranks"]) == [0, 1]
        assert sorted(p.name for p in run.iterdir() if p.is_dir()) == [
            ".hydra", "checkpoints", "csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]  # no stray outputs/
    assert proc.stdout.count("best checkpoint:") == 2
