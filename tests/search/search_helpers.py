"""Helpers for the search tests: a tiny space (tests/search/tiny.yaml) in a temp root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna

from archforge.search.runtime.study import counted, open_storage

HERE = Path(__file__).resolve().parent
TINY = HERE / "tiny.yaml"
ROOT = HERE.parents[1]


def tiny_args(root: Path, *extra: str) -> list[str]:
    return [f"search={TINY}", f"search.root={root}", "search.progress=false", *extra]


def load(root: Path, name: str = "tiny", storage: str | None = None) -> optuna.Study:
    url = storage or str(root / name / "journal.log")
    return optuna.load_study(study_name=name, storage=open_storage(url))


def cli(args: list[str], **kwargs: object) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "archforge.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **kwargs)  # type: ignore[call-overload]


def assert_accounted(study: optuna.Study, n_trials: int, slack: int = 0) -> None:
    """Every trial once: contiguous numbers, none left running, the count reached."""
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state.is_finished() for t in trials), [t.state for t in trials]
    assert n_trials <= len(counted(trials)) <= n_trials + slack


def my_sampler(seed: int | None = None) -> optuna.samplers.BaseSampler:
    """A user's own sampler factory (for the `search.allowed_targets` test)."""
    return optuna.samplers.RandomSampler(seed=seed)
