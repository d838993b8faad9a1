"""Option checks shared by the built-in plugins.

Each raises `OptionError`, which the builder turns into a `ConfigError` naming the config key.
A plugin checks its options before deriving anything from them, so that the error blames the
option the user set rather than a quantity computed from it.
"""

from __future__ import annotations

import math

from archforge import OptionError


def at_least(name: str, value: int | float, minimum: int = 1) -> None:
    """An integer-like option (stride, width, count, kernel) that must be >= `minimum`."""
    if not value >= minimum:  # written so that nan fails too
        raise OptionError(name, value, f"expected an integer >= {minimum}")


def odd_kernel(name: str, value: int, minimum: int = 1) -> None:
    """A kernel size that the plugin pads by k // 2: only odd sizes keep the 'same' size."""
    if value < minimum or value % 2 == 0:
        raise OptionError(name, value, f"expected an odd integer >= {minimum}")


def probability(name: str, value: float) -> None:
    """A dropout probability: 1 would zero every activation, so [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise OptionError(name, value, "expected a probability in [0, 1)")


def finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise OptionError(name, value, "expected a finite number")


def positive(name: str, value: float) -> None:
    """A finite number > 0 (a ratio such as a compression factor or a norm's eps)."""
    if not (math.isfinite(value) and value > 0):
        raise OptionError(name, value, "expected a finite number > 0")


def padding(name: str, value: int, kernel_size: int) -> None:
    """Padding beyond half the kernel would only add windows made entirely of padding."""
    if not 0 <= value <= kernel_size // 2:
        raise OptionError(name, value, f"expected 0..{kernel_size // 2} for kernel {kernel_size}")


def width_list(
    name: str, values: tuple[int, ...], length: int | None = None, minimum: int = 2
) -> None:
    """A branch written as a list of widths (its 1x1 reduction first): `length` entries when
    the branch's shape is fixed, at least `minimum` otherwise, each >= 1."""
    if length is not None and len(values) != length:
        raise OptionError(name, list(values), f"expected a list of {length} widths")
    if len(values) < minimum:
        raise OptionError(name, list(values), f"expected a list of at least {minimum} widths")
    if not all(v >= 1 for v in values):
        raise OptionError(name, list(values), "expected widths >= 1")


def positive_widths(**values: int) -> None:
    """Branch widths given as keyword options (`ch1x1=64, pool_proj=32`): each >= 1."""
    for name, value in values.items():
        at_least(name, value)


def fixed_stride(stride: int, required: int, what: str, hint: str = "") -> None:
    """A block whose shape fixes its stride (a grid reduction always halves): `hint` says
    where the other stride lives, e.g. "; downsample with inception_v3_reduction_a"."""
    if stride != required:
        raise OptionError("stride", stride, f"{what} always has stride {required}{hint}")
