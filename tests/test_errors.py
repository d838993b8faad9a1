"""Every class of bad config gives one ConfigError naming the config path."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import archforge
from archforge import ConfigError


def error_of(source: object, overrides: list[str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        archforge.summary(source, overrides)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize(
    ("overrides", "path", "text"),
    [
        (["model.stages.1.out_channels=-3"], "model.stages[1].out_channels", "-3"),
        (["model.stages.0.depth=0"], "model.stages[0].depth", "integer >= 1"),
        (["model.width=0"], "model.width", "> 0"),
        (["model.stages.1.out_channels=abc"], "model.stages[1].out_channels", "'abc'"),
        (["model.num_classes=ten"], "model.num_classes", "expected an integer"),
        (["model.blok=basic"], "model.blok", "did you mean 'block'"),
        (["model.block=bottlenek"], "model.block", "did you mean 'bottleneck'"),
        (["model.shortcut=projecton"], "model.shortcut", "did you mean 'projection'"),
        (["model.stem.type=cifr"], "model.stem.type", "did you mean 'cifar'"),
        (["model.head.type=clasifier"], "model.head.type", "did you mean 'classifier'"),
        (["model.block_options.groups=3"], "model.block_options.groups", "divide"),
        (["model.block_options.foo=1"], "model.block_options.foo", "unknown option"),
        (["model.block_options.norm=1"], "model.block_options.norm", "expected a string"),
        (["model.block_options.norm=batchnorm"], "model.block_options.norm", "batch"),
        # A residual add with mismatched shapes: identity cannot change channels or stride.
        (["model.shortcut=identity"], "model.shortcut", "cannot map 16 channels"),
        (["model.stages.1.shortcut=zero_pad", "model.stages.1.out_channels=8"],
         "model.stages[1].shortcut", "can only add channels"),
        (["model.stages.0.options.stride=2"], "model.stages[0].options.stride", "builder"),
        (["model.head.options.dropout=1.5"], "model.head.options.dropout", "[0, 1)"),
    ],
)
def test_bad_override_names_its_key(overrides: list[str], path: str, text: str) -> None:
    err = error_of("resnet20", overrides)
    assert err.path == path
    assert text in str(err)


def test_unknown_model_lists_the_zoo() -> None:
    err = error_of("resnet5")
    assert err.path == "model" and "did you mean" in str(err) and "resnet50" in str(err)


def test_concatenation_width_mismatch() -> None:
    err = error_of("googlenet", ["model.stages.0.out_channels=255"])
    assert err.path == "model.stages[0].out_channels" and "256" in str(err)


def test_spatial_collapse_names_the_stage_and_input_size() -> None:
    err = error_of("vgg16", ["model.input_size=16"])
    assert err.path.startswith("model.stages[4]") and "model.input_size" in str(err)


def test_missing_yaml_file() -> None:
    err = error_of("no/such/model.yaml")
    assert err.path == "model" and "no/such/model.yaml" in str(err)


def test_block_without_width_needs_out_channels() -> None:
    err = error_of("resnet20", ["model.stages.2.out_channels=null"])
    assert err.path == "model.stages[2].out_channels"


class _BadAdd(nn.Module):
    """A user block whose residual add mismatches: the meta-device trace must name it."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + x


def test_channel_mismatch_inside_a_user_block_is_caught_before_weights() -> None:
    if "test_bad_add" not in archforge.BLOCKS:
        archforge.BLOCKS.register("test_bad_add")(_BadAdd)
    err = error_of("resnet20", ["model.stages.1.block=test_bad_add", "model.stages.1.depth=1"])
    assert err.path == "model.stages[1]" and "16" in str(err)


def test_cli_prints_one_line_naming_the_key() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "archforge.cli", "summary", "model=resnet50",
         "model.stages.1.out_channels=-3"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "ConfigError: model.stages[1].out_channels: got -3; expected an integer >= 1 and "
        "<= 65,536 (or null to let the block decide)"
    ]


def test_broken_interpolation_is_one_config_error_in_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "archforge.cli", "summary", "model=resnet20",
         "model.num_classes=${nowhere}"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ConfigError: model: ")
    assert "nowhere" in lines[0]
