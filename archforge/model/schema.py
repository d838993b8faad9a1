"""The model config schema. Dataclasses give the shape; YAML gives the values.

A network is stem -> stages -> head. Each stage repeats one registered block `depth` times
(the first with the stage's stride). Model-level `block`, `shortcut`, `width` and
`block_options` are the family form: one value each that every stage inherits unless it
sets its own, so a search changes exactly one config value per decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StemConfig:
    type: str = "cifar"
    out_channels: int | None = None  # None: the stem's own default (fixed stems have one)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageConfig:
    depth: int = 1
    out_channels: int | None = None  # None: the block decides (concatenating blocks, pools)
    stride: int = 1
    block: str | None = None  # None: model.block
    shortcut: str | None = None  # None: model.shortcut (only for blocks that take one)
    options: dict[str, Any] = field(default_factory=dict)  # merged over model.block_options
    name: str | None = None  # shown in summaries, e.g. "mixed_5b"


@dataclass
class HeadConfig:
    type: str = "classifier"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    name: str = "custom"
    num_classes: int = 1000
    in_channels: int = 3
    input_size: int | list[int] = 224
    width: float = 1.0  # multiplies stem and stage out_channels
    block: str | None = None
    shortcut: str | None = None  # None: each residual block's own default
    block_options: dict[str, Any] = field(default_factory=dict)  # for stages using model.block
    stem: StemConfig = field(default_factory=StemConfig)
    stages: list[StageConfig] = field(default_factory=list)
    head: HeadConfig = field(default_factory=HeadConfig)
    weights: str | None = None  # a checkpoint or state dict to load after building

    @property
    def spatial_size(self) -> tuple[int, int]:
        if isinstance(self.input_size, int):
            return (self.input_size, self.input_size)
        return (self.input_size[0], self.input_size[1])
