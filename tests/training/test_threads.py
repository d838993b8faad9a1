"""Torch threads of `archforge train`: `threads=N`, or the run's share of the free cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from archforge.training import threads
from archforge.training.threads import SharedCores, ThreadShare, choose_threads, free_cores


def test_free_cores_subtracts_other_processes_busy_time(monkeypatch: pytest.MonkeyPatch) -> None:
    samples = iter([(0.0, 0.0), (100.0, 400.0)])  # a quarter of all jiffies busy
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(threads, "cores", lambda: 4)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert free_cores(window=0) == pytest.approx(3.0)


def test_runs_are_counted_by_live_pid_files(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / str(other.pid)).touch()
        (tmp_path / "999999999").touch()  # a run that died without removing its file
        with SharedCores(tmp_path) as shared:
            assert shared.entry.is_file() and shared.runs() == 2
            assert shared.share() == max(1, threads.cores() // 2)
        assert not shared.entry.exists()
    finally:
        other.kill()
        other.wait()


def test_chosen_threads_take_the_smaller_of_share_and_free_cores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 8)
    with SharedCores(tmp_path) as shared:
        monkeypatch.setattr(threads, "free_cores", lambda window: 2.6)
        assert choose_threads(shared) == 3
        monkeypatch.setattr(threads, "free_cores", lambda window: 0.2)  # a busy machine
        assert choose_threads(shared) == 1
        monkeypatch.setattr(threads, "free_cores", lambda window: 8.0)
        assert choose_threads(shared) == 8


def test_thread_share_divides_again_when_another_run_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 2)
    before = torch.get_num_threads()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with SharedCores(tmp_path) as shared:
            torch.set_num_threads(2)
            callback = ThreadShare(shared, ceiling=2)
            callback.on_train_epoch_start(None, None)  # type: ignore[arg-type]
            assert torch.get_num_threads() == 2
            (tmp_path / str(other.pid)).touch()
            callback.on_train_epoch_start(None, None)  # type: ignore[arg-type]
            assert torch.get_num_threads() == 1
    finally:
        other.kill()
        other.wait()
        torch.set_num_threads(before)


def test_train_uses_the_threads_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from train_helpers import tiny_overrides

    from archforge.cli import main

    monkeypatch.chdir(tmp_path)
    before = torch.get_num_threads()
    try:
        assert main(["train", *tiny_overrides(tmp_path, "threads=1", "trainer.max_epochs=1")]) == 0
        assert torch.get_num_threads() == 1
        assert main(["train", *tiny_overrides(tmp_path, "threads=0")]) == 2
    finally:
        torch.set_num_threads(before)
