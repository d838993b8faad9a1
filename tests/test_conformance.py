"""One conformance check for every registered plugin, driven by the registries.

A plugin is tested the moment it registers: each block is tried with every compatible
shortcut, at stride 1 and 2 and at a few widths, using its default options. A block with no
constructible combination fails here, so every plugin must have usable defaults.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import fx, nn

import archforge
from archforge import ConfigError, OptionError
from archforge.model.builder import takes
from archforge.model.options import BLOCK_ARGS, HEAD_ARGS, STEM_ARGS, check_options, option_specs

archforge.load_plugins()

IN_CHANNELS = 16
SIZE = 12


def _try(factory: Callable[..., Any], *args: Any, **kwargs: Any) -> nn.Module | None:
    try:
        module = factory(*args, **kwargs)
    except (ValueError, TypeError):
        return None
    assert isinstance(module, nn.Module)
    return module


def block_cases() -> list[tuple[str, str | None]]:
    cases: list[tuple[str, str | None]] = []
    for name in archforge.BLOCKS.names():
        factory = archforge.BLOCKS.get(name)
        if takes(factory, "shortcut"):
            cases += [(name, kind) for kind in archforge.SHORTCUTS.names()]
        else:
            cases.append((name, None))
    return cases


def constructible(name: str, shortcut: str | None) -> list[tuple[nn.Module, int]]:
    factory = archforge.BLOCKS.get(name)
    extra = {} if shortcut is None else {"shortcut": shortcut}
    built = []
    for out, stride in itertools.product((None, IN_CHANNELS, 2 * IN_CHANNELS), (1, 2)):
        module = _try(factory, IN_CHANNELS, out, stride, **extra)
        if module is not None:
            built.append((module, stride))
    return built


def conformance(module: nn.Module, stride: int, in_channels: int = IN_CHANNELS) -> None:
    torch.manual_seed(0)
    module = module.train()
    x = torch.randn(2, in_channels, SIZE, SIZE, requires_grad=True)
    y = module(x)
    out_channels = module.out_channels
    assert isinstance(out_channels, int)
    assert y.shape[:2] == (2, out_channels)
    # Between an unpadded 3x3 window at this stride and a "same"-padded one.
    smallest, largest = (SIZE - 3) // stride + 1, math.ceil(SIZE / stride)
    assert all(smallest <= s <= largest for s in y.shape[2:]), y.shape
    y.float().pow(2).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    module = module.eval()
    with torch.no_grad():
        reference = module(x.detach())
        cl = module.to(memory_format=torch.channels_last)
        out_cl = cl(x.detach().contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(out_cl, reference, rtol=1e-4, atol=1e-4)
        traced = fx.symbolic_trace(module.to(memory_format=torch.contiguous_format))
        torch.testing.assert_close(traced(x.detach()), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "shortcut"), block_cases())
def test_block_conformance(name: str, shortcut: str | None) -> None:
    built = constructible(name, shortcut)
    assert built, f"block {name!r} cannot be built with default options at 16 channels"
    for module, stride in built:
        conformance(module, stride)


@pytest.mark.parametrize("name", archforge.SHORTCUTS.names())
def test_shortcut_keeps_shape_contract(name: str) -> None:
    factory = archforge.SHORTCUTS.get(name)
    module = factory(IN_CHANNELS, 2 * IN_CHANNELS, 2) if name != "identity" else factory(
        IN_CHANNELS, IN_CHANNELS, 1
    )
    y = module(torch.randn(2, IN_CHANNELS, SIZE, SIZE))
    assert y.shape[1] == module.out_channels


@pytest.mark.parametrize("name", archforge.STEMS.names())
def test_stem_conformance(name: str) -> None:
    stem = archforge.STEMS.get(name)(3)
    x = torch.randn(2, 3, 80, 80, requires_grad=True)
    y = stem(x)
    assert y.shape[1] == stem.out_channels
    y.pow(2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    traced = fx.symbolic_trace(stem.eval())
    torch.testing.assert_close(traced(x.detach()), stem(x.detach()))


@pytest.mark.parametrize("name", archforge.HEADS.names())
def test_head_conformance(name: str) -> None:
    head = archforge.HEADS.get(name)(IN_CHANNELS, 5)
    x = torch.randn(2, IN_CHANNELS, 7, 7, requires_grad=True)
    y = head(x)
    assert y.shape == (2, 5)
    y.pow(2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_identity_shortcut_only_where_shape_is_kept() -> None:
    assert constructible("basic", "identity")
    assert all(stride == 1 for _, stride in constructible("basic", "identity"))


def test_zero_pad_shortcut_has_no_parameters() -> None:
    block = archforge.BLOCKS.get("basic")(16, 32, 2, shortcut="zero_pad")
    assert sum(p.numel() for p in block.shortcut.parameters()) == 0
    x = torch.randn(1, 16, 8, 8)
    y = block.shortcut(x)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2])
    assert y[:, 16:].abs().sum() == 0


# --- Numeric options are checked by the plugin itself --------------------------------------
# Every int / float option of every registered plugin is tried at 0, -1, inf and nan. Each
# value must either be accepted on purpose (listed here) or be refused with OptionError by the
# constructor (ConfigError where the type check already refuses it, e.g. nan for an int); any
# other exception (ZeroDivisionError, a torch RuntimeError) is a plugin bug. Built on the meta
# device: weight initialisation still runs its Python arithmetic there.
BAD_VALUES = (0, -1, math.inf, math.nan)
LEGITIMATE = {
    "dropout": (0,),
    "hidden_dropout": (0,),
    "padding": (0,),
    "pool_padding": (0,),
    "bn_size": (0,),  # DenseNet without bottleneck layers
    "scale": (0, -1),  # any finite residual scale is a valid (if odd) choice
}


def _numeric(annotation: Any) -> bool:
    args = getattr(annotation, "__args__", None) or (annotation,)
    return any(a in (int, float) for a in args)


def _int_list(annotation: Any) -> bool:
    """tuple[int, ...] or tuple[tuple[int, ...], ...]: widths written as (nested) lists."""
    if getattr(annotation, "__origin__", None) not in (tuple, list):
        return False
    item = annotation.__args__[0]
    return item is int or _int_list(item)


def _first_leaf_set(default: Any, value: int) -> Any:
    """The default list with its first integer replaced (a one-element list if it is empty)."""
    if not default:
        return [value]
    head, *rest = default
    return [_first_leaf_set(head, value) if isinstance(head, tuple | list) else value, *rest]


def _plugin_cases(accepts: Any = None) -> list[tuple[str, str, str]]:
    """(kind, plugin, option) for every registered plugin's option whose annotation
    `accepts` (numeric options by default)."""
    accepts = accepts or _numeric
    cases = []
    for kind, registry, args in (
        ("block", archforge.BLOCKS, BLOCK_ARGS),
        ("stem", archforge.STEMS, STEM_ARGS),
        ("head", archforge.HEADS, HEAD_ARGS),
    ):
        for name in registry.names():
            for option, spec in option_specs(registry.get(name), args).items():
                if accepts(spec.annotation):
                    cases.append((kind, name, option))
    return cases


def _construct(kind: str, name: str, options: dict[str, Any]) -> nn.Module:
    if kind == "stem":
        return archforge.STEMS.get(name)(3, **options)
    if kind == "head":
        return archforge.HEADS.get(name)(IN_CHANNELS, 5, **options)
    factory = archforge.BLOCKS.get(name)
    for out, stride in itertools.product((None, IN_CHANNELS), (1, 2)):
        if _try(factory, IN_CHANNELS, out, stride) is not None:
            return factory(IN_CHANNELS, out, stride, **options)
    raise AssertionError(f"block {name!r} has no default construction")


@pytest.mark.parametrize(("kind", "name", "option"), _plugin_cases())
def test_bad_numeric_option_is_an_option_error(kind: str, name: str, option: str) -> None:
    registry = {"block": archforge.BLOCKS, "stem": archforge.STEMS, "head": archforge.HEADS}
    factory = registry[kind].get(name)
    builder_args = {"block": BLOCK_ARGS, "stem": STEM_ARGS, "head": HEAD_ARGS}[kind]
    for value in BAD_VALUES:
        try:
            options = check_options(factory, {option: value}, {}, name, builder_args)
        except ConfigError:
            continue  # refused by its type (nan or inf for an integer option)
        with torch.device("meta"):
            if value in LEGITIMATE.get(option, ()):
                _construct(kind, name, options)
                continue
            with pytest.raises(OptionError) as info:
                _construct(kind, name, options)
        assert info.value.option == option, f"{name}: {option}={value} blamed {info.value}"


@pytest.mark.parametrize(("kind", "name", "option"), _plugin_cases(_int_list))
def test_bad_width_in_a_list_option_is_an_option_error(kind: str, name: str, option: str) -> None:
    registry = {"block": archforge.BLOCKS, "stem": archforge.STEMS, "head": archforge.HEADS}
    spec = option_specs(registry[kind].get(name), {"block": BLOCK_ARGS, "stem": STEM_ARGS,
                                                   "head": HEAD_ARGS}[kind])[option]
    for value in (0, -1):
        bad = _first_leaf_set(spec.default, value)
        with torch.device("meta"), pytest.raises(OptionError) as info:
            _construct(kind, name, {option: bad})
        assert info.value.option == option


@pytest.mark.parametrize("name", archforge.BLOCKS.names())
@pytest.mark.parametrize("stride", [0, -1])
def test_bad_stride_is_an_option_error(name: str, stride: int) -> None:
    # Stage configs are range-checked, but a block built from Python must refuse it too.
    factory = archforge.BLOCKS.get(name)
    outs = [out for out in (None, IN_CHANNELS) if any(
        _try(factory, IN_CHANNELS, out, s) is not None for s in (1, 2))]
    with torch.device("meta"), pytest.raises(OptionError) as info:
        factory(IN_CHANNELS, outs[0], stride)
    assert info.value.option == "stride"
