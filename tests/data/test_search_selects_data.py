"""A search whose space selects a data set (`overrides: [data=fashion_mnist]`) accepts that
data set's own keys on the command line (`data.train_subset=...`), the way every trial
composes them: the space's overrides first, the command line's after."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sample_data import write_idx_set

from archforge.cli import main

TESTS = Path(__file__).parents[1]


def _space(tmp_path: Path, idx: Path) -> Path:
    space = yaml.safe_load((TESTS / "search" / "tiny.yaml").read_text())
    space["n_trials"] = 1
    space["overrides"] = [o for o in space["overrides"] if not o.startswith("data")] + [
        "data=fashion_mnist", f"data.root={idx}", "data.batch_size=16"]
    path = tmp_path / "fashion_tiny.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


def test_the_command_line_sets_a_key_of_the_data_the_space_selects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idx = write_idx_set(tmp_path / "idx")
    space = _space(tmp_path, idx)
    args = ["search", f"search={space}", f"search.root={tmp_path / 'runs'}",
            "search.progress=false", "data.train_subset=40"]
    assert main([*args, "--cfg", "job"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["data"]["name"] == "fashion_mnist"
    assert shown["data"]["train_subset"] == 40
    assert main(args) == 0
    best_run = yaml.safe_load((tmp_path / "runs" / "tiny" / "best_run.yaml").read_text())
    assert best_run["data"]["train_subset"] == 40


def test_a_bad_search_setting_is_named_before_the_data_keys_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = _space(tmp_path, write_idx_set(tmp_path / "idx"))
    assert main(["search", f"search={space}", "search.n_trials=0", "data.train_subset=40"]) == 2
    err = capsys.readouterr().err
    assert "search.n_trials: got 0" in err and "train_subset" not in err
