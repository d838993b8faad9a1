"""Freezing parts of a network for transfer learning (Yosinski et al. 2014, "How transferable
are features in deep neural networks?"; Keras' `layer.trainable = False`).

A frozen module gets `requires_grad=False` on its parameters and its batch-norm layers stay in
eval mode even while the rest of the model trains: otherwise their running statistics would
drift towards the new data while their affine weights cannot follow, which hurts accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from archforge.model.network import Network
from archforge.model.stages import select_stages

_FROZEN = "_archforge_frozen"


def freeze(module: nn.Module) -> None:
    """Stop gradients and keep batch norms in eval mode (see `keep_frozen_norms_in_eval`)."""
    for sub in module.modules():
        setattr(sub, _FROZEN, True)
        for p in sub.parameters(recurse=False):
            p.requires_grad_(False)
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.eval()


def unfreeze(module: nn.Module, train: bool = True) -> None:
    for sub in module.modules():
        if hasattr(sub, _FROZEN):
            delattr(sub, _FROZEN)
        for p in sub.parameters(recurse=False):
            p.requires_grad_(True)
        sub.train(train)


def is_frozen(module: nn.Module) -> bool:
    return bool(getattr(module, _FROZEN, False))


def keep_frozen_norms_in_eval(root: nn.Module) -> None:
    """Call after `root.train()`: put the batch norms of frozen modules back in eval mode."""
    for sub in root.modules():
        if is_frozen(sub) and isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.eval()


def stage_indices(net: Network, selection: str | int | Sequence[str | int], key: str) -> list[int]:
    """Resolve `all`, an index (negative counts from the end) or a stage name, or a list."""
    return select_stages(net.stage_names, selection, key)


def freeze_backbone(net: Network, stages: str | int | Sequence[str | int], key: str) -> list[int]:
    """Freeze the stem and the selected stages; the head stays trainable. Returns the indices."""
    chosen = stage_indices(net, stages, key)
    freeze(net.stem)
    for i in chosen:
        freeze(net.stages[i])
    return chosen
