"""A two-trial search on the tiny space that fails if anything asks for the test split.

A uniquely named module (not conftest.py), imported by the tests of each data module with a
test split: the search must never read it, whatever the data.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from archforge.cli import main

SEARCH_SPACE = Path(__file__).resolve().parents[1] / "search" / "tiny.yaml"


def search_without_test_split(monkeypatch: pytest.MonkeyPatch, datamodule: type,
                              root: Path, *data_args: str) -> list[FrozenTrial]:
    """Run `archforge search` (2 trials, `test=true` asked for) with `datamodule`'s test set
    refused; both trials complete; the study's trials are returned."""

    def refuse(self: object) -> None:
        raise AssertionError("a search asked for the test split")

    monkeypatch.setattr(datamodule, "build_test_set", refuse)
    args = ["search", f"search={SEARCH_SPACE}", f"search.root={root}", "search.progress=false",
            "search.n_trials=2", *data_args, "test=true"]
    assert main(args) == 0
    study = optuna.load_study(study_name="tiny", storage=JournalStorage(
        JournalFileBackend(str(root / "tiny" / "journal.log"))))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    return study.trials
