"""Load weights into a built network: archforge/Lightning checkpoints and torchvision-format
ResNet state dicts (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`).

Reading and key matching live in `archforge.checkpoint` (safe `weights_only` loads, one
CheckpointError naming the file or the mismatches); this module adds the public entry point
and torchvision's ResNet names (He et al. 2016, as laid out in torchvision's `resnet.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archforge.checkpoint import extract_state_dict, load_state, read_checkpoint

# torchvision ResNet name -> archforge name (plugins/stems.py, plugins/resnet.py, heads.py).
_TORCHVISION = [
    (re.compile(r"^conv1\."), "stem.conv."),
    (re.compile(r"^bn1\."), "stem.bn."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.0\."), "stages.{s}.{b}.shortcut.conv."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.1\."), "stages.{s}.{b}.shortcut.bn."),
    (re.compile(r"^layer(\d+)\.(\d+)\."), "stages.{s}.{b}."),
    (re.compile(r"^fc\."), "head.fc."),
]


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
    if isinstance(source, str | Path):
        data, where = read_checkpoint(source, key), str(source)
    else:
        data, where = dict(source), "state dict"
    state = extract_state_dict(data)
    if is_torchvision_resnet(state):
        state = from_torchvision(state)
    return load_state(
        model, state, where=where, key=key, exclude=exclude, skip_mismatched=skip_mismatched
    )
