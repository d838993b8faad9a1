"""Bad plugin options from the command line are one ConfigError naming the key the user set."""

from __future__ import annotations

import pytest

import archforge
from archforge import ConfigError

CASES = [
    # (model, override, the key the error must name, a phrase of what is accepted)
    ("mobilenet", "+model.stem.options.stride=0", "model.stem.options.stride", ">= 1"),
    ("mobilenet", "model.stem.options.kernel_size=0", "model.stem.options.kernel_size", "odd"),
    ("resnet50", "+model.stem.options.kernel_size=4", "model.stem.options.kernel_size", "odd"),
    ("vgg16", "+model.head.options.pool_size=0", "model.head.options.pool_size", ">= 1"),
    ("resnet50", "+model.block_options.groups=0", "model.block_options.groups", ">= 1"),
    ("resnet50", "+model.block_options.width_per_group=0", "model.block_options.width_per_group",
     ">= 1"),
    ("resnet18", "+model.block_options.groups=3", "model.block_options.groups", "divide"),
    ("inception_v3", "+model.stem.options.eps=-0.001", "model.stem.options.eps", "> 0"),
    ("googlenet", "model.block_options.eps=nan", "model.block_options.eps", "finite"),
    ("resnet20", "+model.head.options.dropout=1.0", "model.head.options.dropout", "[0, 1)"),
    ("inception_resnet_v2", "model.stages.1.options.scale=inf",
     "model.stages[1].options.scale", "finite"),
    ("densenet121", "+model.stages.1.options.compression=0",
     "model.stages[1].options.compression", "> 0"),
    ("googlenet", "model.stages.2.options.kernel_size=0", "model.stages[2].options.kernel_size",
     ">= 1"),
]


@pytest.mark.parametrize(("model", "override", "key", "accepted"), CASES)
def test_bad_option_names_its_key(model: str, override: str, key: str, accepted: str) -> None:
    with pytest.raises(ConfigError) as info:
        archforge.summary(model, [override])
    assert info.value.path == key
    assert accepted in info.value.message


def test_vgg_pool_size_zero_fails_before_weights_too() -> None:
    # It used to pass the meta-device summary and fail only when weights were initialised.
    with pytest.raises(ConfigError, match="pool_size"):
        archforge.build("vgg16", ["+model.head.options.pool_size=0", "model.input_size=32",
                                  "model.head.options.hidden=8"])
