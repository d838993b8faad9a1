"""A search space follows the data the person names: `search=fashion data=image_folder ...`.

A shipped space's `overrides:` select its own data set and may set that data set's keys
(`data=fashion_mnist`, `data.train_subset=12000`). When the command line names other data,
each `data.*` item of the file is checked against the data chosen there: kept where that
data has the key, dropped with a one-line notice where it has not (an image folder has no
`train_subset`). The file's model, trainer and optimizer settings stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from archforge.config.search_file import SearchFile, override_key

_ABSENT = object()


def data_choice(overrides: Sequence[str]) -> str | None:
    """The last `data=<name>` of `overrides` (None: they select no data)."""
    choice = None
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key.strip().removeprefix("override ").lstrip("+") == "data":
            choice = value.strip()
    return choice


def has_key(data: DictConfig, key: str) -> bool:
    """`key` (`train_subset`, `augment.hflip`) is set by the data's YAML or declared by its
    kind's schema."""
    if OmegaConf.select(data, key, default=_ABSENT) is not _ABSENT:
        return True
    from archforge.data.build import data_kind

    try:
        mapping = cast(dict[str, Any], OmegaConf.to_container(data))
        schema = data_kind(mapping).config_class
    except Exception:  # an unknown kind is reported when the data is built
        return False
    return key.split(".")[0] in {f.name for f in fields(schema)}


def follow_user_data(file_overrides: Sequence[str], args: Sequence[str],
                     source: SearchFile) -> tuple[list[str], list[str]]:
    """(The file's overrides less the `data.*` items the data chosen in `args` has no key
    for, one notice line per item dropped.) Without a `data=` of its own in `args`, or with
    the file's own choice, nothing is dropped."""
    chosen = data_choice(args)
    if chosen is None or chosen == data_choice(file_overrides):
        return list(file_overrides), []
    from archforge.config.compose import compose

    data = compose([f"data={chosen}"], "config").data
    kept, notes = [], []
    for item in file_overrides:
        key = override_key(item)
        if key.startswith("data.") and not has_key(data, key.removeprefix("data.")):
            notes.append(f"note: {source.where(item)} is not a key of data={chosen}; "
                         "dropped (the space follows the data you named)")
        else:
            kept.append(item)
    return kept, notes
