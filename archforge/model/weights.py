"""Load weights into a built network: archforge/Lightning checkpoints and torchvision-format
ResNet state dicts (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`).

Files are read with `torch.load(weights_only=True)`: a checkpoint can hold tensors and plain
data, never code. Every failure is one `CheckpointError` naming the file or the mismatches.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archforge.errors import CheckpointError

# Prefixes that wrappers add in front of the network's own keys: our LightningModule (`net.`),
# DistributedDataParallel (`module.`) and torch.compile (`_orig_mod.`).
_WRAPPERS = ("net.", "module.", "_orig_mod.")
_SHOW = 12  # mismatches listed in an error before "... and N more"

# torchvision ResNet name -> archforge name (plugins/stems.py, plugins/resnet.py, heads.py).
_TORCHVISION = [
    (re.compile(r"^conv1\."), "stem.conv."),
    (re.compile(r"^bn1\."), "stem.bn."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.0\."), "stages.{s}.{b}.shortcut.conv."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.1\."), "stages.{s}.{b}.shortcut.bn."),
    (re.compile(r"^layer(\d+)\.(\d+)\."), "stages.{s}.{b}."),
    (re.compile(r"^fc\."), "head.fc."),
]


def read_checkpoint(path: str | Path, key: str = "weights") -> dict[str, Any]:
    """`torch.load` a file safely; a missing, corrupt or truncated file is a CheckpointError."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise CheckpointError(f"{key}: file not found: {p}")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, OSError,
            ValueError, AttributeError, ImportError, IndexError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{key}: cannot read {p}: corrupt, truncated or not a torch file ({first[:200]})"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{key}: {p} holds {type(data).__name__}; expected a state dict")
    return data


def extract_state_dict(data: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The network's tensors from a Lightning checkpoint, a {'state_dict': ...} / {'model':
    ...} wrapper or a bare state dict, with wrapper prefixes removed."""
    for field in ("state_dict", "model_state_dict", "model"):
        inner = data.get(field)
        if isinstance(inner, Mapping) and inner and all(
            isinstance(v, torch.Tensor) for v in inner.values()
        ):
            data = inner
            break
    state = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
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


def is_torchvision_resnet(state: Mapping[str, Any]) -> bool:
    return "conv1.weight" in state and any(k.startswith("layer1.0.") for k in state)


def from_torchvision(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision ResNet keys to archforge's layout (identical modules, other names)."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        for pattern, target in _TORCHVISION:
            m = pattern.match(name)
            if m:
                groups = m.groups()
                new = target.format(s=int(groups[0]) - 1, b=groups[1]) if groups else target
                name = new + name[m.end():]
                break
        out[name] = value
    return out


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


def load_weights(
    model: nn.Module,
    source: str | Path | Mapping[str, Any],
    *,
    key: str = "weights",
    exclude: Sequence[str] = (),
    skip_mismatched: Sequence[str] = (),
) -> nn.Module:
    """Load `source` (a path or a mapping) into `model` in place and return it.

    `exclude`: key prefixes left out on both sides (kept as initialised). `skip_mismatched`:
    prefixes whose tensors are skipped when their shape differs (a new head for another
    class count). Anything else that does not match is one CheckpointError listing the
    mismatched keys and shapes.
    """
    where = str(source) if isinstance(source, str | Path) else "state dict"
    data = read_checkpoint(source, key) if isinstance(source, str | Path) else dict(source)
    state = extract_state_dict(data)
    if not state:
        raise CheckpointError(f"{key}: {where} holds no tensors")
    if is_torchvision_resnet(state):
        state = from_torchvision(state)
    target = model.state_dict()

    def kept(k: str) -> bool:
        return not k.startswith(tuple(exclude)) if exclude else True

    state = _fill_aliases({k: v for k, v in state.items() if kept(k)}, target)
    wanted = {k for k in target if kept(k)}
    shapes, skipped = [], []
    for k, v in state.items():
        if k in target and tuple(target[k].shape) != tuple(v.shape):
            if skip_mismatched and k.startswith(tuple(skip_mismatched)):
                skipped.append(k)
            else:
                shapes.append(f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}")
    for k in skipped:
        del state[k]
        wanted.discard(k)
    missing = sorted(wanted - set(state))
    unexpected = sorted(set(state) - set(target))
    if shapes or missing or unexpected:
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        raise CheckpointError(
            f"{key}: {where} does not fit model '{name}' "
            f"({len(shapes)} shape, {len(missing)} missing, {len(unexpected)} unexpected):\n  "
            + _describe(missing, unexpected, shapes)
        )
    model.load_state_dict(state, strict=False)
    return model
