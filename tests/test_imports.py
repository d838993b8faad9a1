"""Light imports: the model core and every plugin module need only torch.

Each case runs in a fresh interpreter, so modules imported by other tests do not hide a
heavy import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("hydra", "omegaconf", "lightning", "pytorch_lightning", "optuna")
PLUGIN_MODULES = ["archforge_plugins.shortcuts", "archforge_plugins.resnet",
                  "archforge_plugins.inception", "archforge_plugins.separable",
                  "archforge_plugins.densenet", "archforge_plugins.inception_v4",
                  "archforge_plugins.inception_parts", "archforge_plugins.checks"]


def loaded_after(code: str) -> list[str]:
    heavy = set(HEAVY)
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["archforge.model", "archforge.model.builder",
                                    "archforge.model.check", "archforge.checkpoint.weights",
                                    "archforge.checkpoint", *PLUGIN_MODULES])
def test_model_core_and_plugins_import_no_framework(module: str) -> None:
    assert loaded_after(f"import {module}") == []


def test_building_and_checking_a_network_loads_no_framework() -> None:
    code = ("import archforge\nfrom archforge.model.schema import ModelConfig\n"
            "archforge.load_plugins()\n"
            "from archforge.model.parse import parse_model\n"
            "from archforge.model.check import check\nfrom archforge.model.builder import "
            "build_network\n"
            "cfg = parse_model({'block': 'basic', 'num_classes': 10, 'input_size': 32,\n"
            "    'stem': {'type': 'cifar', 'out_channels': 8},\n"
            "    'stages': [{'depth': 1, 'out_channels': 8}]})\n"
            "check(cfg); build_network(cfg)")
    assert loaded_after(code) == []


def test_import_archforge_is_cheap() -> None:
    # the top-level names are re-exported lazily: importing the package loads not even torch
    assert loaded_after("import archforge") == []
    out = subprocess.run([sys.executable, "-c", "import archforge, sys; "
                          "print('torch' in sys.modules)"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
