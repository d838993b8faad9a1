"""DenseNet blocks (Huang et al. 2017) against a straightforward re-implementation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from archforge_plugins.densenet import DenseBlock, DenseTransition
from torch import nn

import archforge


def reference_dense_block(block: DenseBlock, x: torch.Tensor) -> torch.Tensor:
    """torchvision's _DenseLayer written out with the block's own weights (eval mode)."""

    def bn(m: nn.BatchNorm2d, t: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    features = [x]
    for layer in block.layers:
        h = torch.cat(features, 1)
        h = F.conv2d(F.relu(bn(layer.norm1, h)), layer.conv1.weight)
        h = F.conv2d(F.relu(bn(layer.norm2, h)), layer.conv2.weight, padding=1)
        features.append(h)
    return torch.cat(features, 1)


@torch.no_grad()
def test_dense_block_matches_reference() -> None:
    torch.manual_seed(0)
    block = DenseBlock(16, None, 1, layers=3, growth_rate=8, bn_size=4)
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    block.eval()
    x = torch.randn(2, 16, 6, 6)
    y = block(x)
    assert block.out_channels == 16 + 3 * 8 and y.shape == (2, 40, 6, 6)
    torch.testing.assert_close(y, reference_dense_block(block, x))
    torch.testing.assert_close(y[:, :16], x)  # the input passes through unchanged


def test_layer_widths_follow_growth_and_bottleneck() -> None:
    block = DenseBlock(64, None, 1, layers=2, growth_rate=32, bn_size=4)
    convs = [m.weight.shape for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [(128, 64, 1, 1), (32, 128, 3, 3), (128, 96, 1, 1), (32, 128, 3, 3)]
    plain = DenseBlock(64, None, 1, layers=1, growth_rate=12, bn_size=0)
    assert [m.weight.shape for m in plain.modules() if isinstance(m, nn.Conv2d)] == [
        (12, 64, 3, 3)
    ]


def test_transition_compresses_and_pools() -> None:
    t = DenseTransition(256, None, 2)
    y = t(torch.randn(1, 256, 8, 8))
    assert t.out_channels == 128 and y.shape == (1, 128, 4, 4)
    assert DenseTransition(100, None, 2, compression=0.3).out_channels == 30


def test_dense_block_refuses_a_stride_and_a_wrong_width() -> None:
    with pytest.raises(archforge.OptionError, match="dense_transition"):
        DenseBlock(16, None, 2)
    with pytest.raises(archforge.OptionError, match="give 208"):
        DenseBlock(16, 100, 1)


def test_densenet_depth_is_one_override() -> None:
    cfg = ["model.stages.6.options.layers=32", "model.stages.4.options.layers=48"]
    summary = archforge.summary("densenet121", cfg)  # DenseNet-201's (6, 12, 48, 32)
    assert summary.total_params == 20_013_928  # torchvision densenet201
