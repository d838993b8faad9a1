"""The memory format a run trains in: auto per accelerator and block family, explicit wins."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from archforge.api import resolve
from archforge.config.compose import compose
from archforge.model.discovery import load_plugins
from archforge.model.registry import BLOCKS
from archforge.model.schema import ModelConfig
from archforge.training.memory_format import (
    FAMILIES,
    NEUTRAL_BLOCKS,
    choose_channels_last,
    default_channels_last,
    family_of,
)

# What bench/bench_memory_format.py measured on the development CPU (bench/RESULTS.md).
MEASURED_CPU = {
    "resnet20": ("basic", True),
    "resnet50": ("bottleneck", True),
    "preact_resnet164": ("preact", True),
    "googlenet": ("inception", True),
    "inception_v3": ("inception", True),
    "mobilenet": ("separable", True),
    "xception": ("separable", True),
    "vgg16": ("vgg", False),
}


def _model(name: str) -> ModelConfig:
    cfg = compose([f"model={name}"], "build")
    return resolve(OmegaConf.to_container(cfg.model, resolve=True))


@pytest.mark.parametrize("name", sorted(MEASURED_CPU))
def test_cpu_default_follows_the_measured_family_table(name: str) -> None:
    family, channels_last = MEASURED_CPU[name]
    model = _model(name)
    assert family_of(model) == family
    assert default_channels_last("cpu", model) is channels_last
    assert default_channels_last("gpu", model) is True
    assert default_channels_last("cuda", model) is True
    assert default_channels_last("mps", model) is False  # not measured: PyTorch's default


def test_every_built_in_block_has_a_family() -> None:
    load_plugins()
    # Only archforge's own plugins: other tests register throwaway blocks in the registry.
    built_in = [n for n in BLOCKS if BLOCKS.get(n, "block").__module__.startswith(
        "archforge_plugins.")]
    assert "basic" in built_in and "xception" in built_in
    missing = [n for n in built_in if n not in FAMILIES and n not in NEUTRAL_BLOCKS]
    assert not missing, f"add these blocks to memory_format.FAMILIES: {missing}"


def test_unknown_blocks_and_mixed_families() -> None:
    model = _model("resnet20")
    model.stages[1].block = "someone_elses_block"  # a third-party block: no measurement
    assert family_of(model) is None
    assert default_channels_last("cpu", model) is False
    assert default_channels_last("gpu", model) is True
    mixed = _model("resnet20")
    mixed.stages[2].block = "preact_basic"
    assert family_of(mixed) is None  # two families, each measured
    both = default_channels_last("cpu", _model("resnet20")) and default_channels_last(
        "cpu", _model("preact_resnet164")
    )
    assert default_channels_last("cpu", mixed) is both


@pytest.mark.parametrize("accelerator", ["cpu", "gpu"])
@pytest.mark.parametrize("explicit", [True, False])
def test_an_explicit_value_always_wins(accelerator: str, explicit: bool) -> None:
    model = _model("resnet20")
    trainer = {"accelerator": accelerator, "channels_last": None}
    assert choose_channels_last(explicit, trainer, model) is explicit
    # The trainer preset's value counts as explicit too; the top-level key beats it.
    assert choose_channels_last(None, {**trainer, "channels_last": explicit}, model) is explicit
    assert choose_channels_last(explicit, {**trainer, "channels_last": not explicit}, model) is (
        explicit
    )
    assert choose_channels_last(None, trainer, model) is default_channels_last(accelerator, model)


def test_the_default_cpu_preset_leaves_the_choice_to_the_table() -> None:
    cfg = compose([])
    assert cfg.channels_last is None and cfg.trainer.channels_last is None
    assert cfg.trainer.accelerator == "cpu"
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True)
    assert choose_channels_last(None, trainer, _model("resnet20")) is MEASURED_CPU["resnet20"][1]
