"""Helpers for the search tests: a tiny space (tests/search/tiny.yaml) in a temp root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna

from archforge.search.study import open_storage

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
