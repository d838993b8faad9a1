"""A network's tensors out of a checkpoint, and into a built network with one clear error.

Checkpoints come as Lightning files (`state_dict` with `net.` prefixes and metric buffers),
`{'state_dict' | 'model_state_dict' | 'model': ...}` wrappers or bare state dicts, with the
prefixes DistributedDataParallel (`module.`) and `torch.compile` (`_orig_mod.`) add.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from archforge.errors import CheckpointError

_WRAPPERS = ("net.", "module.", "_orig_mod.")
_SHOW = 12  # mismatches listed in an error before "... and N more"


def extract_state_dict(data: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The network's tensors, with wrapper fields and prefixes removed."""
    for field in ("state_dict", "model_state_dict", "model"):
        inner = data.get(field)
        if isinstance(inner, Mapping) and inner and all(
            isinstance(v, torch.Tensor) for v in inner.values()
        ):
            data = inner
            break
    state = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    changed = True
    while changed and state:
        changed = False
        for prefix in _WRAPPERS:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                changed = True
    if any(k.startswith("net.") for k in state):  # Lightning module with metric buffers
        state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
    return state


def _alias_groups(target: Mapping[str, torch.Tensor]) -> list[list[str]]:
    """Names under which one tensor appears more than once (a plugin that registers a module
    under two attribute names); a checkpoint may hold either name."""
    groups: dict[tuple, list[str]] = {}
    for name, t in target.items():
        if t.numel() and t.device.type != "meta":
            groups.setdefault((t.data_ptr(), t.dtype, tuple(t.shape)), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _fill_aliases(
    state: dict[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    for names in _alias_groups(target):
        present = [n for n in names if n in state]
        if present:
            for n in names:
                state.setdefault(n, state[present[0]])
    return state


def _describe(missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    lines = [f"shape {s}" for s in shapes]
    lines += [f"missing in checkpoint: {k}" for k in missing]
    lines += [f"not in model: {k}" for k in unexpected]
    shown = lines[:_SHOW]
    if len(lines) > _SHOW:
        shown.append(f"... and {len(lines) - _SHOW} more")
    return "\n  ".join(shown)


def load_state(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    where: str,
    key: str = "weights",
    exclude: Sequence[str] = (),
    skip_mismatched: Sequence[str] = (),
) -> nn.Module:
    """Copy `state` into `model` in place, or raise one CheckpointError listing every
    mismatched key and shape (nothing is copied then).

    `exclude`: key prefixes left out on both sides (kept as initialised). `skip_mismatched`:
    prefixes whose tensors are skipped when their shape differs (a new head for another
    class count).
    """
    if not state:
        raise CheckpointError(f"{key}: {where} holds no tensors")
    target = model.state_dict()

    def kept(k: str) -> bool:
        return not k.startswith(tuple(exclude)) if exclude else True

    picked = _fill_aliases({k: v for k, v in state.items() if kept(k)}, target)
    wanted = {k for k in target if kept(k)}
    shapes, skipped = [], []
    for k, v in picked.items():
        if k in target and tuple(target[k].shape) != tuple(v.shape):
            if skip_mismatched and k.startswith(tuple(skip_mismatched)):
                skipped.append(k)
            else:
                shapes.append(f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}")
    for k in skipped:
        del picked[k]
        wanted.discard(k)
    missing = sorted(wanted - set(picked))
    unexpected = sorted(set(picked) - set(target))
    if shapes or missing or unexpected:
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        raise CheckpointError(
            f"{key}: {where} does not fit model '{name}' "
            f"({len(shapes)} shape, {len(missing)} missing, {len(unexpected)} unexpected):\n  "
            + _describe(missing, unexpected, shapes)
        )
    model.load_state_dict(picked, strict=False)
    return model
