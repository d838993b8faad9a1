"""Freezing parts of a network for transfer learning (Yosinski et al. 2014, "How transferable
are features in deep neural networks?"; Keras' `layer.trainable = False`).

A frozen module gets `requires_grad=False` on its parameters and its batch-norm layers stay in
eval mode even while the rest of the model trains: otherwise their running statistics would
drift towards the new data while their affine weights cannot follow, which hurts accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

from archforge.errors import ConfigError
from archforge.model.network import Network

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


def select_stages(names: Sequence[str], selection: str | int | Sequence[str | int],
                  key: str) -> list[int]:
    """`stage_indices` for a model's stage names alone (checked before anything is built)."""
    n = len(names)
    if isinstance(selection, str) and selection == "all":
        return list(range(n))
    if selection is None:
        return []
    items: Iterable[str | int] = (
        [selection] if isinstance(selection, str | int) else list(selection)
    )
    out: list[int] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            if not -n <= item < n:
                raise ConfigError(key, f"stage {item} does not exist; the model has {n} stages")
            out.append(item % n)
        elif isinstance(item, str) and item in names:
            out.append(list(names).index(item))
        else:
            raise ConfigError(
                key,
                f"got {item!r}; expected 'all', a stage index in [-{n}, {n - 1}] or a stage "
                f"name ({', '.join(names)})",
            )
    return sorted(set(out))


def freeze_backbone(net: Network, stages: str | int | Sequence[str | int], key: str) -> list[int]:
    """Freeze the stem and the selected stages; the head stays trainable. Returns the indices."""
    chosen = stage_indices(net, stages, key)
    freeze(net.stem)
    for i in chosen:
        freeze(net.stages[i])
    return chosen
