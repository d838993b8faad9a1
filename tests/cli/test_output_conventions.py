"""What each command prints, and where: results on stdout, progress and logs on stderr; epochs
counted from 1 everywhere; numbers that say what they measure."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import TINY_ARGS

from archforge.cli import main
from archforge.model.summary import human
from archforge.training.progress import epoch_label


@pytest.fixture
def lightning_info() -> Iterator[None]:
    """Lightning's INFO lines as a fresh `archforge train` process has them (an in-process
    search earlier in the session turns them down to WARNING)."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def test_train_prints_results_on_stdout_and_progress_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lightning_info: None
) -> None:
    run = tmp_path / "run"
    args = [a for a in TINY_ARGS if not a.startswith(("progress", "trainer.max_epochs"))]
    assert main(["train", *args, "trainer.max_epochs=2", f"run_dir={run}"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"run directory: {run}"
    assert re.search(r"^last \(epoch 2, last\.ckpt\): val/acc \d", out, re.MULTILINE)
    assert "Epoch" not in out and "Trainable params" not in out and "GPU available" not in out
    # the progress bar counts epochs as the summary does: the second of two is "Epoch 2/2"
    assert "Epoch 2/2" in err and "Epoch 0" not in err and "Trainable params" in err
    assert "top5" not in out + err  # 3 classes: top-5 accuracy would always be 100%
    # the same directory again: refused, naming the key the user typed
    assert main(["train", *args, f"run_dir={run}"]) == 2
    assert capsys.readouterr().err.startswith(f"ConfigError: run_dir: {run} already holds")


def test_epoch_label_counts_from_one() -> None:
    assert epoch_label(0, 12) == "Epoch 1/12" and epoch_label(11, 12) == "Epoch 12/12"
    assert epoch_label(4, None) == "Epoch 5" and epoch_label(4, -1) == "Epoch 5"


def test_macs_and_params_print_to_four_digits_with_a_unit() -> None:
    assert [human(n) for n in (149_497_088, 1_814_073_856, 416_520, 999, 61_706)] == [
        "149.5M", "1.814G", "416.5K", "999", "61.71K"]


def test_zoo_lists_published_models_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "416.5K" in out and "416.520K" not in out
    from archforge.config.compose import zoo_names

    assert "search_mixed" not in zoo_names() and "lenet5" in zoo_names()


def test_data_warnings_print_as_one_line_without_the_source_line() -> None:
    import warnings

    from archforge.data import DataWarning
    from archforge.quiet import quiet_third_party

    quiet_third_party()
    quiet_third_party()  # installed once, not wrapped twice
    shown = warnings.formatwarning("skipping unreadable image a/b.png: broken", DataWarning,
                                   "image_folder.py", 301, "train = scan(...)")
    assert shown == "DataWarning: skipping unreadable image a/b.png: broken\n"
    other = warnings.formatwarning("x", UserWarning, "f.py", 3, "source()")
    assert "f.py:3" in other and "source()" in other


def test_top5_cannot_be_monitored_with_five_classes_or_fewer(tmp_path: Path) -> None:
    from archforge.config.compose import compose
    from archforge.config.run import parse_run
    from archforge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^checkpoint.monitor: val/acc_top5 is measured only "
                       r"with more than 5 classes; this data has 3"):
        parse_run(compose([*TINY_ARGS, "checkpoint.monitor=val/acc_top5"]))
    assert parse_run(compose(["checkpoint.monitor=val/acc_top5"])).model.num_classes == 10
