"""Inception-v4 / Inception-ResNet-v2 blocks against straightforward re-implementations."""

from __future__ import annotations

import pytest
import torch
from archforge_plugins.inception_resnet import InceptionResNetC, InceptionResNetReductionB
from archforge_plugins.inception_v4 import InceptionV4A, InceptionV4ReductionA, InceptionV4Stem
from torch import nn

import archforge


def basic(cin: int, cout: int, k: int, pad: int = 0) -> nn.Module:
    conv = nn.Conv2d(cin, cout, k, 1, pad, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU())


class ReferenceInceptionA(nn.Module):
    """Fig. 4 of Szegedy et al. 2017 written out, as in the released model."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch0 = basic(cin, 96, 1)
        self.branch1 = nn.Sequential(basic(cin, 64, 1), basic(64, 96, 3, 1))
        self.branch2 = nn.Sequential(
            basic(cin, 64, 1), basic(64, 96, 3, 1), basic(96, 96, 3, 1)
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(3, 1, 1, count_include_pad=False), basic(cin, 96, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


def copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Load src's tensors into dst by registration order, checking every shape."""
    pairs = list(zip(src.state_dict().values(), dst.state_dict().keys(), strict=True))
    state = {}
    for value, key in pairs:
        assert value.shape == dst.state_dict()[key].shape, key
        state[key] = value
    dst.load_state_dict(state)


def randomise_norms(module: nn.Module) -> None:
    gen = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


@torch.no_grad()
def test_inception_v4_a_matches_reference() -> None:
    torch.manual_seed(0)
    block = InceptionV4A(384)
    randomise_norms(block)
    reference = ReferenceInceptionA(384)
    copy_in_order(block, reference)
    x = torch.randn(2, 384, 5, 5)
    # Eval mode uses the running statistics, so BN's eps (1e-3) is part of the comparison;
    # 5x5 makes most pooling windows touch the border (count_include_pad=False matters).
    torch.testing.assert_close(block.eval()(x), reference.eval()(x), rtol=1e-5, atol=1e-5)
    assert block.out_channels == 384


def test_inception_v4_stem_maps_299_to_35x35x384() -> None:
    with torch.device("meta"):
        y = InceptionV4Stem(3)(torch.empty(1, 3, 299, 299))
    assert tuple(y.shape) == (1, 384, 35, 35)


def test_reduction_a_widths_are_table_1s_k_l_m_n() -> None:
    # Inception-v4: 384 in -> n + m + 384 = 384 + 256 + 384.
    assert InceptionV4ReductionA(384, None, 2).out_channels == 1024
    # Inception-ResNet-v2: 320 in -> n + m + 320 = 1088.
    assert InceptionV4ReductionA(320, None, 2, k=256, l=256, m=384, n=384).out_channels == 1088


def test_inception_resnet_reduction_b_gives_2080_from_1088() -> None:
    with torch.device("meta"):
        block = InceptionResNetReductionB(1088)
        y = block(torch.empty(1, 1088, 17, 17))
    assert block.out_channels == 2080 and tuple(y.shape) == (1, 2080, 8, 8)


@torch.no_grad()
def test_final_block8_adds_unscaled_and_unactivated() -> None:
    torch.manual_seed(0)
    block = InceptionResNetC(16, branches=((4,), (4, 4, 4)), scale=1.0, final_act="none").eval()
    x = torch.randn(1, 16, 6, 6)
    mixed = torch.cat([b(x) for b in block.branches], 1)
    torch.testing.assert_close(block(x), x + block.proj(mixed))
    assert (block(x) < 0).any()  # no ReLU after the addition


def test_branch_width_lists_are_checked() -> None:
    with pytest.raises(archforge.OptionError, match="b3x3dbl"):
        InceptionV4A(16, b3x3dbl=(64,))
    with pytest.raises(archforge.OptionError, match="b3x3"):
        InceptionResNetReductionB(16, b3x3a=(0, 4))


@torch.no_grad()
def test_count_include_pad_changes_only_the_border_of_the_pool_branch() -> None:
    from archforge_plugins.inception import InceptionV3A

    torch.manual_seed(0)
    counted = InceptionV3A(8, ch1x1=2, ch5x5red=2, ch5x5=2, ch3x3dblred=2, ch3x3dbl=2,
                           pool_features=4).eval()
    real_only = InceptionV3A(8, ch1x1=2, ch5x5red=2, ch5x5=2, ch3x3dblred=2, ch3x3dbl=2,
                             pool_features=4, count_include_pad=False).eval()
    real_only.load_state_dict(counted.state_dict())
    x = torch.rand(1, 8, 6, 6) + 1
    diff = (counted(x) - real_only(x)).abs()
    assert diff[:, :6].max() == 0  # the conv branches are unaffected
    assert diff[:, 6:, 1:-1, 1:-1].max() == 0 and diff[:, 6:].max() > 0  # the border differs
