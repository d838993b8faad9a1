"""A candidate's parameters and buffers as slices `[:n0, :n1, ...]` of the supernet's.

Every tensor of the candidate, built by the registry on the meta device, is matched by
name and rank with the supernet's, and each dimension must fit: the candidate's first k
output and input channels, its first d blocks per stage (block `stages.1.2` exists only in
networks with three or more blocks there). A block whose class says `sliceable = False`,
or whose tensor is not such a slice, is one `NotSliceableError` naming the plugin.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import nn

from archforge.errors import ConfigError
from archforge.model.registry import BLOCKS, HEADS, SHORTCUTS, STEMS

KEY = "search.evaluator"


class NotSliceableError(ConfigError):
    """A candidate's tensor is not a slice of the supernet's (or its plugin says so)."""


def plugin_name(module: nn.Module) -> str | None:
    """`block 'basic'` for a module whose class is registered, else None."""
    for kind, registry in (("block", BLOCKS), ("shortcut", SHORTCUTS), ("stem", STEMS),
                           ("head", HEADS)):
        for name in registry:
            if registry.get(name) is type(module):
                return f"{kind} {name!r}"
    return None


def owner(net: nn.Module, tensor_name: str) -> str:
    """The registered plugin that holds `tensor_name` (the innermost), with its position."""
    parts = tensor_name.split(".")[:-1]
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        module = net.get_submodule(prefix)
        name = plugin_name(module)
        if name is not None:
            return f"{name} ({type(module).__module__}.{type(module).__qualname__}) at {prefix}"
    return f"module {'.'.join(parts) or '(root)'}"


def check_sliceable(net: nn.Module) -> None:
    """Refuse a network holding a plugin that declares `sliceable = False`."""
    for prefix, module in net.named_modules():
        if getattr(type(module), "sliceable", True) is False:
            name = plugin_name(module) or f"module {type(module).__qualname__}"
            raise NotSliceableError(KEY, f"{name} at {prefix} is not sliceable (its class sets "
                                    "sliceable = False): its weights cannot be shared with a "
                                    "larger network's; use search.evaluator=training for a "
                                    "space that includes it")


def tensors(net: nn.Module) -> Iterator[tuple[str, torch.Tensor, bool]]:
    """(name, tensor, is_parameter) for every parameter and buffer, persistent or not."""
    for name, p in net.named_parameters():
        yield name, p, True
    for name, b in net.named_buffers():
        yield name, b, False


def region(full: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """The view `full[:shape[0], :shape[1], ...]`."""
    return full[tuple(slice(0, s) for s in shape)] if len(shape) else full


def not_a_slice(net: nn.Module, name: str, shape: tuple[int, ...],
                full: tuple[int, ...] | None) -> NotSliceableError:
    where = owner(net, name)
    found = "has no tensor of that name" if full is None else f"holds {full}"
    return NotSliceableError(KEY, f"{where} is not sliceable: its tensor {name} of shape "
                             f"{shape} is not a slice of the supernet's (which {found}); "
                             "a sliceable plugin keeps its tensor names for every option and "
                             "lets each dimension grow with the widths (docs/search.md)")


def sliced(shared: Mapping[str, torch.Tensor], net: nn.Module, *,
           copy_buffers: bool = False) -> dict[str, torch.Tensor]:
    """The candidate's state as views of `shared` (gradients reach the shared parameters).
    `copy_buffers`: buffers as copies, so a forward pass in train mode leaves the
    supernet's batch-norm statistics as they were."""
    check_sliceable(net)
    out: dict[str, torch.Tensor] = {}
    for name, t, is_param in tensors(net):
        full = shared.get(name)
        shape = tuple(t.shape)
        if full is None or full.dim() != t.dim() or any(
                s > f for s, f in zip(shape, full.shape, strict=True)):
            raise not_a_slice(net, name, shape, None if full is None else tuple(full.shape))
        view = region(full, shape)
        out[name] = view.clone() if copy_buffers and not is_param else view
    return out
