"""Multiply-accumulate counting with forward hooks (convolutions and linear layers).

Published MAC figures (He et al., Simonyan & Zisserman, Howard et al., torchvision's model
tables) count convolutions and fully connected layers only; so does this.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_output = (module.in_channels // module.groups) * kh * kw
        return int(output.numel() // output.shape[0]) * per_output
    if isinstance(module, nn.Linear):
        return int(output.numel() // output.shape[0]) * module.in_features
    return 0


@contextmanager
def count_macs(model: nn.Module) -> Iterator[dict[str, int]]:
    """Within the block, each forward adds MACs per sample to `counts[qualified layer name]`."""
    counts: dict[str, int] = defaultdict(int)
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Linear):

            def hook(mod: nn.Module, _: object, out: torch.Tensor, name: str = name) -> None:
                counts[name] += layer_macs(mod, out)

            handles.append(module.register_forward_hook(hook))
    try:
        yield counts
    finally:
        for h in handles:
            h.remove()
