"""Small layer factories shared by the block plugins: norm, activation, conv-norm-act, shortcut.

Norm and activation are named by short strings so that YAML can choose them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn

from archforge.errors import OptionError
from archforge.model.registry import SHORTCUTS

_ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.1, inplace=True),
    "hardswish": lambda: nn.Hardswish(inplace=True),
    "none": nn.Identity,
}
NORMS = ("batch", "group", "none")


def make_act(name: str, option: str = "act") -> nn.Module:
    if name not in _ACTS:
        raise OptionError(option, name, f"expected one of {', '.join(_ACTS)}")
    return _ACTS[name]()


def make_norm(name: str, channels: int, eps: float = 1e-5, option: str = "norm") -> nn.Module:
    # Checked here because nothing else sees it: the meta-device check skips norm forwards.
    if not (math.isfinite(eps) and eps > 0):
        raise OptionError("eps", eps, "expected a finite number > 0")
    if name == "batch":
        return nn.BatchNorm2d(channels, eps=eps)
    if name == "group":
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels, eps=eps)
    if name == "none":
        return nn.Identity()
    raise OptionError(option, name, f"expected one of {', '.join(NORMS)}")


def check_groups(channels_in: int, channels_out: int, groups: int, option: str = "groups") -> None:
    if groups < 1 or channels_in % groups or channels_out % groups:
        raise OptionError(
            option,
            groups,
            f"groups must be >= 1 and divide both {channels_in} input and {channels_out} "
            "output channels",
        )


def conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    stride: int = 1,
    padding: int | tuple[int, int] | None = None,
    groups: int = 1,
    bias: bool = False,
) -> nn.Conv2d:
    """A conv with 'same' padding for odd kernels unless `padding` is given."""
    check_groups(in_channels, out_channels, groups)
    k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    pad = (k[0] // 2, k[1] // 2) if padding is None else padding
    return nn.Conv2d(in_channels, out_channels, k, stride, pad, groups=groups, bias=bias)


class ConvNormAct(nn.Sequential):
    """conv -> norm -> activation, with submodules named conv / bn / act."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] | None = None,
        groups: int = 1,
        norm: str = "batch",
        act: str = "relu",
        eps: float = 1e-5,
        bias: bool | None = None,
    ) -> None:
        super().__init__()
        use_bias = norm == "none" if bias is None else bias
        self.conv = conv(in_channels, out_channels, kernel_size, stride, padding, groups, use_bias)
        self.bn = make_norm(norm, out_channels, eps)
        self.act = make_act(act)
        self.out_channels = out_channels


def make_shortcut(
    kind: str,
    in_channels: int,
    out_channels: int,
    stride: int,
    norm: str = "batch",
    always: bool = False,
) -> nn.Module:
    """The shortcut of a residual block.

    Where the block keeps its input's shape the shortcut is the identity, as in He et al.'s
    options A and B; `kind` decides what happens where the shape changes. `always=True` uses
    `kind` on every block (option C).
    """
    if not always and in_channels == out_channels and stride == 1:
        kind = "identity"
    factory = SHORTCUTS.get(kind, "shortcut")
    module = factory(in_channels, out_channels, stride, norm=norm)
    assert isinstance(module, nn.Module)
    return module
