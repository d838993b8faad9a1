"""Stages picked by index or by name (`finetune.freeze: [0, conv5]`), checked against a
model's stage names before anything is built."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from archforge.errors import ConfigError


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
