"""Long commands outlive a reader that went away (archforge/cli/closed_output.py): a search
or a training run whose stdout and stderr pipe is closed keeps going and writes its files."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_helpers import cli, load, tiny_args


@pytest.mark.slow
def test_the_winner_is_written_even_if_stdout_is_gone(root: Path) -> None:
    """A search whose reader went away (a closed pipe: `| head`, a killed parent process)
    still writes best_run.yaml: the files come before the printed result."""
    proc = cli(["search", *tiny_args(root, "search.n_trials=1")])
    assert proc.stdout is not None
    proc.stdout.close()  # nobody reads what the search prints (stdout and stderr)
    assert proc.wait(timeout=240) == 0
    assert [t.state.name for t in load(root).trials] == ["COMPLETE"]
    assert (root / "tiny" / "best_run.yaml").is_file()
    assert (root / "tiny" / "best_model.yaml").is_file()


@pytest.mark.slow
def test_a_training_run_outlives_a_closed_stdout(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = cli(["train", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
                "trainer.limit_val_batches=1", f"run_dir={run}"])
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.wait(timeout=240) == 0
    assert (run / "checkpoints" / "last.ckpt").is_file()
