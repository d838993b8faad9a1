"""Output hygiene and install pins: verbatim docstrings, natural zoo order, no third-party
adverts or repeated deprecation warnings, a meaningful progress bar, torch pinned exactly."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest
from torch import nn

import archforge
from archforge.cli import main
from archforge.config.compose import natural_key, zoo_names
from archforge.quiet import quiet_third_party
from archforge.training.rundir import make_loggers

ROOT = Path(__file__).resolve().parents[2]


def test_blocks_shows_docstrings_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    name = "test_markup_doc"
    if name not in archforge.BLOCKS:

        @archforge.BLOCKS.register(name)
        class Marked(nn.Module):
            """3x3 conv with bias -> [BN] -> ReLU [optional]."""

            def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
                super().__init__()
                self.out_channels = out_channels

    assert main(["blocks", name]) == 0
    assert "3x3 conv with bias -> [BN] -> ReLU [optional]." in capsys.readouterr().out


def test_zoo_is_in_natural_order() -> None:
    names = zoo_names()
    assert names.index("resnet18") < names.index("resnet34") < names.index("resnet101")
    assert names.index("resnet20") < names.index("resnet110") < names.index("resnet1202")
    assert sorted(["b10", "a", "b9"], key=natural_key) == ["a", "b9", "b10"]


def test_litlogger_tip_and_leafspec_warning_are_filtered_precisely(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_third_party()
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    # the logger's own level too: an in-process search earlier sets lightning's to WARNING
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger=rank_zero.name):
        rank_zero.info("💡 Tip: For seamless cloud logging, try installing [litlogger](x) ...")
        rank_zero.info("GPU available: False")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        quiet_third_party()  # re-installs its filter after simplefilter reset them
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning,
                      stacklevel=1)
        warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["something else is deprecated"]


def test_progress_bar_shows_no_logger_version(tmp_path: Path) -> None:
    from lightning.pytorch.loggers.utilities import _version

    loggers = make_loggers(["csv", "tensorboard"], tmp_path)
    assert _version(loggers) == ""  # Lightning shows v_num only for a non-empty version
    assert Path(loggers[0].log_dir) == tmp_path / "csv"
    assert Path(loggers[1].log_dir) == tmp_path / "tensorboard"


def test_torch_is_pinned_exactly_and_pyproject_states_ranges() -> None:
    pins = [line.strip() for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert "torch==2.13.0" in pins
    pyproject = (ROOT / "pyproject.toml").read_text()  # tomllib is 3.11+, we support 3.10
    assert re.search(r'^\s*"torch>=[\d.]+,<[\d.]+",', pyproject, re.MULTILINE)
    assert re.search(r'^slurm = \["hydra-submitit-launcher>=[\d.]+,<[\d.]+"\]', pyproject,
                     re.MULTILINE)
