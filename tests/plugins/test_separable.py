"""Behaviour of the depthwise-separable family: separable, mobilenet and xception blocks."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import archforge
from archforge import BLOCKS, ConfigError, OptionError


def _block(name: str) -> Any:
    archforge.load_plugins()
    return BLOCKS.get(name)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _depthwise_convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]


def _tiny_model(stages: list[dict[str, Any]], block: str = "xception") -> dict[str, Any]:
    return {
        "name": "tiny",
        "num_classes": 10,
        "input_size": 16,
        "block": block,
        "stem": {"type": "cifar", "out_channels": 8},
        "stages": stages,
        "head": {"type": "classifier"},
    }


@pytest.mark.parametrize("mid_norm", [True, False])
def test_separable_is_depthwise_then_pointwise(mid_norm: bool) -> None:
    cin, cout, k = 8, 16, 3
    block = _block("separable")(cin, cout, 1, kernel_size=k, mid_norm=mid_norm)
    (dw,) = _depthwise_convs(block)
    assert dw.groups == cin and dw.in_channels == cin and dw.out_channels == cin
    assert dw.kernel_size == (k, k)
    # depthwise k*k*cin + pointwise cin*cout, no biases (a norm follows each conv); BN adds
    # gamma and beta after the pointwise, and after the depthwise only with mid_norm.
    expected = k * k * cin + cin * cout + 2 * cout + (2 * cin if mid_norm else 0)
    assert _params(block) == expected
    dense = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
    assert _params(block) < _params(dense) / 4


def test_separable_strides_on_the_depthwise_and_keeps_same_padding() -> None:
    block = _block("separable")(4, 6, 2, kernel_size=5)
    y = block(torch.randn(2, 4, 9, 9))
    assert y.shape == (2, 6, 5, 5)
    assert _depthwise_convs(block)[0].stride == (2, 2)


def test_depth_multiplier_widens_the_depthwise_output() -> None:
    block = _block("separable")(4, 6, 1, depth_multiplier=3, mid_norm=False)
    (dw,) = _depthwise_convs(block)
    assert dw.groups == 4 and dw.out_channels == 12
    assert _params(block) == 9 * 12 + 12 * 6 + 2 * 6
    assert block(torch.randn(1, 4, 5, 5)).shape == (1, 6, 5, 5)


def test_mobilenet_block_uses_relu_between_and_after() -> None:
    # Howard et al. 2017, Fig. 3: ReLU; ReLU6 stays one option away.
    block = _block("mobilenet")(8, 16, 2)
    assert sum(type(m) is nn.ReLU for m in block.modules()) == 2
    relu6 = _block("mobilenet")(8, 16, 2, act="relu6")
    assert sum(isinstance(m, nn.ReLU6) for m in relu6.modules()) == 2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in block.modules()) == 2
    assert block(torch.randn(1, 8, 8, 8)).shape == (1, 16, 4, 4)


def test_even_kernel_is_rejected() -> None:
    with pytest.raises(OptionError, match="odd"):
        _block("separable")(4, 4, 1, kernel_size=4)


# Howard et al. 2017, Table 6 at 224x224: (params in millions, MACs in millions).
TABLE_6 = {1.0: (4.2, 569), 0.75: (2.6, 325), 0.5: (1.3, 149), 0.25: (0.5, 41)}


@pytest.mark.parametrize("width", sorted(TABLE_6))
def test_mobilenet_width_multiplier_matches_table_6(width: float) -> None:
    params, macs = TABLE_6[width]
    s = archforge.summary("mobilenet", [f"model.width={width}"])
    assert round(s.total_params / 1e6, 1) == params
    assert s.total_macs == pytest.approx(macs * 1e6, rel=0.01)


def test_xception_bad_reps_names_the_option_path() -> None:
    cfg = _tiny_model([{"out_channels": 16, "stride": 2, "options": {"reps": 0}}])
    with pytest.raises(ConfigError) as info:
        archforge.summary(cfg)
    assert info.value.path == "model.stages[0].options.reps"


def test_xception_exit_module_grows_last() -> None:
    module = _block("xception")(8, 16, 2, reps=2, grow_first=False)
    widths = [m.out_channels for m in module.branch if hasattr(m, "out_channels")]
    assert widths == [8, 16]


def test_xception_width_multiplier_scales_modules() -> None:
    full = archforge.summary("xception")
    half = archforge.summary("xception", ["model.width=0.5"])
    assert half.rows[-2].out_shape[0] == 1024  # exit separable 2048 -> 1024
    assert half.total_params < full.total_params / 3


def test_xception_middle_flow_uses_identity_shortcut() -> None:
    module = _block("xception")(16, 16, 1, reps=3, shortcut="projection")
    assert _params(module.shortcut) == 0
    # Three separable convs with BN after each, nothing else.
    assert _params(module) == 3 * (9 * 16 + 16 * 16 + 2 * 16)
    x = torch.randn(1, 16, 6, 6)
    kept = x.clone()
    y = module.eval()(x)
    # The branch's first ReLU must not overwrite the input the identity shortcut adds back.
    assert torch.equal(x, kept)
    assert torch.allclose(y, module.branch(kept) + kept)


def test_xception_entry_module_projects_and_pools() -> None:
    module = _block("xception")(8, 16, 2, reps=2, relu_first=False)
    assert _params(module.shortcut) == 8 * 16 + 2 * 16  # strided 1x1 conv + BN
    assert not isinstance(module.branch[0], nn.ReLU)  # relu_first=False: no leading ReLU
    assert isinstance(module.branch[-1], nn.MaxPool2d)
    assert module(torch.randn(1, 8, 7, 7)).shape == (1, 16, 4, 4)


def test_xception_without_pool_strides_the_last_depthwise() -> None:
    module = _block("xception")(8, 16, 2, reps=2, grow_first=False, pool=False)
    assert not any(isinstance(m, nn.MaxPool2d) for m in module.modules())
    assert [c.stride for c in _depthwise_convs(module)] == [(1, 1), (2, 2)]
    assert module(torch.randn(1, 8, 7, 7)).shape == (1, 16, 4, 4)


def test_tiny_xception_network_builds_and_runs() -> None:
    cfg = _tiny_model(
        [
            {"out_channels": 16, "stride": 2, "options": {"reps": 2, "relu_first": False}},
            {"depth": 2, "out_channels": 16, "options": {"reps": 3}},
            {"block": "separable", "out_channels": 24, "options": {"mid_norm": False}},
        ]
    )
    net = archforge.build(cfg)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 10)
