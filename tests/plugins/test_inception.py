"""Behaviour of the Inception family: GoogLeNet / Inception-v3 modules, Inception-ResNet."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from archforge_plugins.inception import Inception
from archforge_plugins.inception_resnet import InceptionResNet
from torch import nn

import archforge
from archforge.model.builder import build_network

TINY = {"ch1x1": 4, "ch3x3red": 2, "ch3x3": 4, "ch5x5red": 2, "ch5x5": 4, "pool_proj": 4}


def tiny_model(stages: list[dict[str, Any]], size: int = 8) -> dict[str, Any]:
    return {
        "name": "tiny",
        "num_classes": 3,
        "input_size": size,
        "stem": {"type": "cifar", "out_channels": 8},
        "stages": stages,
    }


def network(source: Any, overrides: list[str] | None = None) -> archforge.Network:
    # Built on the CPU: a first initialisation on the meta device costs more than GoogLeNet's
    # 7M real weights.
    return build_network(archforge.resolve(source, overrides))


def params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_googlenet_kernel_5x5_override_gives_true_5x5_convs() -> None:
    default = network("googlenet")
    paper = network("googlenet", ["model.block_options.kernel_5x5=5"])
    kernels = [m.kernel_size for n, m in paper.named_modules()
               if isinstance(m, nn.Conv2d) and ".b5x5." in n and m.kernel_size != (1, 1)]
    assert len(kernels) == 9  # one per module, 3a..5b
    assert set(kernels) == {(5, 5)}
    assert params(paper) > params(default)


def test_inception_forward_concatenates_branch_widths() -> None:
    block = Inception(8, None, 1, **TINY)
    y = block(torch.randn(2, 8, 6, 6))
    assert block.out_channels == 16
    assert y.shape == (2, 16, 6, 6)


def test_concatenation_width_mismatch_names_the_stage_out_channels() -> None:
    cfg = tiny_model([
        {"block": "inception", "options": TINY},
        {"block": "inception", "out_channels": 20, "options": TINY},
    ])
    with pytest.raises(archforge.ConfigError) as info:
        archforge.summary(cfg)
    assert info.value.path == "model.stages[1].out_channels"
    assert "concatenate to 16" in str(info.value)


@pytest.mark.parametrize("block", ["inception_v3_reduction_a", "inception_v3_reduction_b"])
def test_reductions_reject_stride_1(block: str) -> None:
    cfg = tiny_model([{"block": block, "stride": 1}], size=16)
    with pytest.raises(archforge.ConfigError) as info:
        archforge.summary(cfg)
    assert info.value.path == "model.stages[0].stride"


def test_inception_v3_b_with_other_n_builds() -> None:
    cfg = tiny_model([
        {"block": "inception_v3_b",
         "options": {"n": 3, "channels_7x7": 4, "ch1x1": 4, "ch7x7": 4, "pool_proj": 4}},
    ])
    report = archforge.summary(cfg)
    assert report.rows[1].out_shape == (16, 8, 8)
    net = network(cfg)
    kernels = {m.kernel_size for m in net.stages.modules() if isinstance(m, nn.Conv2d)}
    assert kernels == {(1, 1), (1, 3), (3, 1)}


def test_inception_v3_modules_chain_on_a_small_grid() -> None:
    narrow = {"ch3x3": 4, "ch3x3dblred": 2, "ch3x3dbl": 4}
    cfg = tiny_model([
        {"block": "inception_v3_a", "options": {
            "ch1x1": 4, "ch5x5red": 2, "ch5x5": 4, "ch3x3dblred": 2, "ch3x3dbl": 4,
            "pool_features": 4}},
        {"block": "inception_v3_reduction_a", "stride": 2, "options": narrow},
        {"block": "inception_v3_reduction_b", "stride": 2, "options": {
            "ch3x3red": 2, "ch3x3": 4, "ch7x7x3red": 2, "ch7x7x3": 4}},
        {"block": "inception_v3_c", "options": {
            "ch1x1": 4, "ch3x3red": 2, "ch3x3": 4, "ch3x3dblred": 2, "ch3x3dbl": 4,
            "pool_proj": 4}},
    ], size=16)
    shapes = [row.out_shape for row in archforge.summary(cfg).rows[1:-1]]
    # 16 -> 7 -> 3 (unpadded 3x3/2); reductions add their input width through the pool
    assert shapes == [(16, 16, 16), (24, 7, 7), (32, 3, 3), (24, 3, 3)]


def test_inception_resnet_adds_scaled_branches_to_the_input() -> None:
    torch.manual_seed(0)
    block = InceptionResNet(
        8, None, 1, branches=((4,), (2, 4), (2, 3, 4)), scale=0.2, final_act="none"
    ).eval()
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        mixed = torch.cat([b(x) for b in block.branches], dim=1)
        expected = x + 0.2 * block.proj(mixed)
        torch.testing.assert_close(block(x), expected)


def test_inception_resnet_with_zero_projection_is_relu_of_input() -> None:
    block = InceptionResNet(8, 8, 1).eval()
    nn.init.zeros_(block.proj.weight)
    nn.init.zeros_(block.proj.bias)
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(x))


def test_inception_resnet_factorised_layout() -> None:
    block = InceptionResNet(
        16, None, 1, branches=((4,), (4, 5, 6)), kernel_size=7, factorize=True
    )
    kernels = [m.kernel_size for m in block.branches[1].modules() if isinstance(m, nn.Conv2d)]
    assert kernels == [(1, 1), (1, 7), (7, 1)]
    assert block(torch.randn(1, 16, 9, 9)).shape == (1, 16, 9, 9)


@pytest.mark.parametrize(
    ("stage", "path"),
    [
        ({"block": "inception_resnet", "out_channels": 16}, "model.stages[0].out_channels"),
        ({"block": "inception_resnet", "stride": 2}, "model.stages[0].stride"),
        ({"block": "inception_resnet", "options": {"branches": [[4], []]}},
         "model.stages[0].options.branches"),
    ],
)
def test_inception_resnet_rejects_shape_changes(stage: dict[str, Any], path: str) -> None:
    with pytest.raises(archforge.ConfigError) as info:
        archforge.summary(tiny_model([stage]))
    assert info.value.path == path
