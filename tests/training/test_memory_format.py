"""The memory format a run trains in: auto per accelerator and block family, explicit wins."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from torch import nn

from archforge.api import build, resolve
from archforge.config.compose import compose
from archforge.model.discovery import load_plugins
from archforge.model.registry import BLOCKS
from archforge.model.schema import ModelConfig
from archforge.training.memory_format import (
    FAMILIES,
    NEUTRAL_BLOCKS,
    ONEDNN_1X1_CHANNEL_BLOCK,
    choose_channels_last,
    cpu_safe_channels_last,
    default_channels_last,
    family_of,
    nhwc_unsafe_convs,
)

TINY = Path(__file__).parent / "tiny.yaml"
TINY_DATA = ["data=synthetic", "data.channels=1", "data.image_size=8", "data.num_classes=4"]

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
    built_in = [n for n in BLOCKS if BLOCKS.entry(n).origin.startswith("archforge_plugins.")]
    missing = [n for n in built_in if n not in FAMILIES and n not in NEUTRAL_BLOCKS]
    assert len(built_in) > 20  # the filter found the built-in plugins
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


@pytest.mark.parametrize("stem", [8, 15, 16, 32])
def test_strided_1x1_convolutions_below_the_onednn_block_are_found(stem: int) -> None:
    # tiny.yaml: stem -> stage 1 (stride 1) -> stage 2 (stride 2, projection shortcut from
    # the stem's width): the shortcut's 1x1 stride-2 convolution reads `stem` channels.
    net = build(TINY, [*TINY_DATA, f"model.stem.out_channels={stem}",
                       f"model.stages.0.out_channels={stem}"])
    unsafe = nhwc_unsafe_convs(net)
    if stem < ONEDNN_1X1_CHANNEL_BLOCK:
        assert len(unsafe) == 1 and "shortcut" in unsafe[0], unsafe
        conv = net.get_submodule(unsafe[0])
        assert isinstance(conv, nn.Conv2d) and conv.in_channels == stem
        assert conv.kernel_size == (1, 1) and conv.stride == (2, 2)
    else:
        assert unsafe == []


def test_zero_padding_shortcuts_and_stride_one_convolutions_are_safe() -> None:
    net = build(TINY, [*TINY_DATA, "model.shortcut=zero_pad"])
    assert nhwc_unsafe_convs(net) == []  # no 1x1 convolution on the strided path
    plain = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, stride=2),
                          nn.Conv2d(32, 64, 1, stride=2, groups=4))  # 8 channels per group
    assert nhwc_unsafe_convs(plain) == ["2"]


def test_cpu_training_never_uses_channels_last_on_an_unsafe_network(
    caplog: pytest.LogCaptureFixture,
) -> None:
    narrow = build(TINY, TINY_DATA)
    wide = build(TINY, [*TINY_DATA, "model.stem.out_channels=16",
                        "model.stages.0.out_channels=16"])
    logger = "archforge.training.memory_format"
    with caplog.at_level(logging.DEBUG, logger=logger):
        assert cpu_safe_channels_last(True, "cpu", narrow, explicit=True) is False
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "oneDNN" in warning.getMessage() and "shortcut" in warning.getMessage()
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=logger):
        assert cpu_safe_channels_last(True, "cpu", narrow) is False  # archforge's own choice:
    assert all(r.levelno < logging.WARNING for r in caplog.records)  # nothing to warn about
    assert cpu_safe_channels_last(True, "cpu", wide, explicit=True) is True
    assert cpu_safe_channels_last(True, "gpu", narrow, explicit=True) is True  # cuDNN: no bug
    assert cpu_safe_channels_last(False, "cpu", wide) is False  # never turned on
