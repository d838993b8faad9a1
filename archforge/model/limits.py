"""Upper bounds on what a model config may ask for.

A typo such as `model.stages.0.depth=99999999999999999999999` or `model.width=1e300` is a
valid integer or number, and would otherwise build until the machine runs out of memory
(or hang `predict` on a crafted checkpoint). The bounds are far above every published
network (ResNet-1202 has 200 blocks per stage; the widest zoo layer has 4,096 channels), and
each can be raised for a run through an environment variable of the same name in capitals
with an `ARCHFORGE_` prefix, e.g. `ARCHFORGE_MAX_STAGE_DEPTH=5000`.
"""

from __future__ import annotations

from dataclasses import dataclass

from archforge.limits import from_env


@dataclass(frozen=True)
class Limits:
    max_stage_depth: int = 2048  # blocks in one stage
    max_stages: int = 256
    max_blocks: int = 4096  # all stages together (ResNet-1202: 600)
    max_channels: int = 65536  # any stem/stage width after the width multiplier
    max_width: float = 64.0  # the width multiplier itself
    max_input_size: int = 8192  # pixels per side
    max_in_channels: int = 4096
    max_num_classes: int = 1_000_000


def limits() -> Limits:
    """The defaults, with any `ARCHFORGE_<NAME>` environment override applied."""
    return from_env(Limits)
