"""Where an in-memory data set's batches are gathered: on the training device or on the host.

A uint8 data set that fits in a share of the device's free memory is copied there once
(`data.device_resident`, `data.device_memory_share`); each batch is then one `index_select`
on the device and no host-to-device copy at all. On one H200 that lifted a plain ResNet-50
loop from 3,446 to 4,612 img/s, where the host-side gather and copy had cost 24 + 5.6 ms a
step (issue 28). The decision is `plan_placement`, a pure function of sizes, so it is tested
with made-up free-memory numbers; `free_device_bytes` reads the real ones.

DDP ranks each hold only their own shard, so each needs about 1 / world_size of the bytes
(the shard is fixed for the whole run: see `archforge.data.resident`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from archforge.errors import ConfigError

Choice = Literal["auto"] | bool
MB = 2**20


@dataclass(frozen=True)
class Placement:
    """The decision, and the one line that says which path was taken and why."""

    resident: bool
    line: str
    need_bytes: int = 0  # what this rank copies to the device
    budget_bytes: int | None = None  # share x free device memory, where it was measured


def shard_count(n: int, world_size: int) -> int:
    """Samples one rank holds of `n`: ceil(n / world_size), as `in_memory.shard` pads."""
    return math.ceil(n / world_size) if n else 0


def plan_placement(
    choice: Choice,
    device: str,
    sample_bytes: int,
    counts: tuple[int, ...],
    world_size: int,
    free_bytes: int | None,
    share: float,
) -> Placement:
    """Whether the splits of `counts` samples (`sample_bytes` each, image and label) go
    on `device`, one rank's shard of each, within `share` of `free_bytes`.

    `auto` places them on an accelerator when they fit and keeps today's host path
    otherwise; on the CPU the host memory is the device, so `auto` keeps the host path (the
    data already lives there) and `true` takes the device path, with the same checks.
    `true` that does not fit is a ConfigError naming `data.device_resident`.
    """
    if choice is False:
        return Placement(False, "data: host gather (data.device_resident=false)")
    if choice == "auto" and device.startswith("cpu"):
        return Placement(False, "data: host gather (the training device is the CPU; "
                                "data.device_resident=true gathers there from a copy)")
    need = sum(shard_count(n, world_size) for n in counts) * sample_bytes
    shard_note = f" (this rank's shard of {world_size})" if world_size > 1 else ""
    if free_bytes is None:
        if choice is True:
            return Placement(True, f"data: resident on {device}, {need / MB:,.1f} MB"
                                   f"{shard_note}; free memory unknown", need)
        return Placement(False, f"data: host gather (free memory on {device} unknown)", need)
    budget = int(share * free_bytes)
    sizes = (f"{need / MB:,.1f} MB{shard_note} of a {budget / MB:,.1f} MB budget "
             f"({share:g} x {free_bytes / MB:,.0f} MB free)")
    if need <= budget:
        return Placement(True, f"data: resident on {device}, {sizes}", need, budget)
    if choice is True:
        raise ConfigError("data.device_resident", f"true, but the data set does not fit on "
                          f"{device}: {sizes}; use auto (host gather when it does not fit), "
                          "a larger data.device_memory_share or fewer samples")
    return Placement(False, f"data: host gather, does not fit on {device}: {sizes}",
                     need, budget)


def free_device_bytes(device: torch.device) -> int | None:
    """Free memory this process may still use on `device`: on CUDA the driver's free bytes,
    capped by `torch.cuda.set_per_process_memory_fraction` (a search worker's share) less
    what this process's allocator already holds; on the CPU the kernel's MemAvailable."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        fraction = getattr(torch.cuda, "get_per_process_memory_fraction", lambda _: 1.0)
        cap = fraction(device) * total
        return int(max(0.0, min(float(free), cap - torch.cuda.memory_reserved(device))))
    if device.type == "cpu":
        return _mem_available()
    return None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for row in f:
                if row.startswith("MemAvailable:"):
                    return int(row.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
