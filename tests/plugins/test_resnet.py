"""ResNet blocks: where the bottlenecks stride, and the plain counterparts' missing shortcut."""

from __future__ import annotations

import pytest
import torch
from archforge_plugins.plain import PlainBasicBlock, PlainBottleneck
from archforge_plugins.resnet import Bottleneck, PreActBottleneck

import archforge


@pytest.mark.parametrize("block", [Bottleneck, PreActBottleneck])
@pytest.mark.parametrize(("stride_on", "strides"), [("3x3", (1, 2)), ("1x1", (2, 1))])
def test_stride_on_moves_the_stride(block: type, stride_on: str, strides: tuple) -> None:
    b = block(16, 64, 2, stride_on=stride_on)
    assert (b.conv1.stride[0], b.conv2.stride[0]) == strides
    assert b(torch.randn(1, 16, 8, 8)).shape == (1, 64, 4, 4)


def test_stride_on_is_validated_from_yaml() -> None:
    with pytest.raises(archforge.ConfigError, match=r"model\.block_options\.stride_on"):
        archforge.summary("preact_resnet164", ["model.block_options.stride_on=2x2"])


def test_plain_blocks_have_no_shortcut() -> None:
    assert PlainBasicBlock(16, 32, 2).shortcut is None
    assert PlainBottleneck(16, 64, 2).shortcut is None
    assert Bottleneck(16, 64, 2).shortcut is not None
