"""Import direction: the model core and the checkpoint package never reach up into training,
search, the edge modules (predict, export) or the config frameworks."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("archforge.training", "archforge.search", "archforge.predict", "archforge.export",
             "archforge.config", "archforge.api", "omegaconf", "hydra", "lightning", "optuna")


@pytest.mark.parametrize("module", ["archforge.checkpoint", "archforge.checkpoint.weights"])
def test_checkpoint_core_imports_nothing_above_it(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
