"""Data on the training device: the placement decision (fits / does not fit / DDP shard,
from made-up free-memory numbers) and the resident path's batches against the host path's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from archforge.data import InMemoryLoader, build_datamodule
from archforge.data.placement import MB, free_device_bytes, plan_placement, shard_count
from archforge.data.resident import rank_seed, resident_indices
from archforge.errors import ConfigError

SAMPLE = 3 * 32 * 32 + 8  # a uint8 CIFAR image and its int64 label


def test_a_set_that_fits_in_the_share_goes_on_the_device() -> None:
    # 50,000 + 10,000 CIFAR samples = 176.2 MiB; half of 400 MiB free is a 200 MB budget
    plan = plan_placement("auto", "cuda:0", SAMPLE, (50_000, 10_000), 1, 400 * MB, 0.5)
    assert plan.resident
    assert plan.need_bytes == 60_000 * SAMPLE and plan.budget_bytes == 200 * MB
    assert plan.line.startswith("data: resident on cuda:0, 176.2 MB of a 200.0 MB budget")
    assert "\n" not in plan.line


def test_a_set_that_does_not_fit_keeps_the_host_path_or_is_refused_when_forced() -> None:
    plan = plan_placement("auto", "cuda:0", SAMPLE, (50_000, 10_000), 1, 300 * MB, 0.5)
    assert not plan.resident and plan.budget_bytes == 150 * MB
    assert plan.line.startswith("data: host gather, does not fit on cuda:0: 176.2 MB")
    # the share is the knob: 0.7 of the same 300 MB holds it
    assert plan_placement("auto", "cuda:0", SAMPLE, (50_000, 10_000), 1, 300 * MB, 0.7).resident
    with pytest.raises(ConfigError, match=r"data\.device_resident: .*does not fit on cuda:0"):
        plan_placement(True, "cuda:0", SAMPLE, (50_000, 10_000), 1, 300 * MB, 0.5)


def test_each_ddp_rank_needs_only_its_shard() -> None:
    counts = (50_001, 10_000)
    assert not plan_placement("auto", "cuda:1", SAMPLE, counts, 1, 300 * MB, 0.5).resident
    plan = plan_placement("auto", "cuda:1", SAMPLE, counts, 4, 300 * MB, 0.5)
    assert plan.resident
    assert plan.need_bytes == (12_501 + 2_500) * SAMPLE  # ceil(n / 4) of each split
    assert "this rank's shard of 4" in plan.line
    assert [shard_count(n, 3) for n in (0, 1, 9, 10)] == [0, 1, 3, 4]


def test_cpu_false_and_unknown_memory() -> None:
    # auto on the CPU: the data already lives in host memory, today's path stays
    cpu = plan_placement("auto", "cpu", SAMPLE, (100,), 1, 10**12, 0.5)
    assert not cpu.resident and cpu.budget_bytes is None
    assert plan_placement(True, "cpu", SAMPLE, (100,), 1, 10**12, 0.5).resident
    off = plan_placement(False, "cuda:0", SAMPLE, (100,), 1, 10**12, 0.5)
    assert not off.resident and "device_resident=false" in off.line
    assert not plan_placement("auto", "cuda:0", SAMPLE, (100,), 1, None, 0.5).resident
    assert plan_placement(True, "cuda:0", SAMPLE, (100,), 1, None, 0.5).resident
    free = free_device_bytes(torch.device("cpu"))
    assert free is None or free > 0


def test_rank_shards_are_fixed_disjoint_and_cover_the_set() -> None:
    n, world = 23, 3
    parts = [resident_indices(n, shuffle=True, seed=4, rank=r, world_size=world)
             for r in range(world)]
    assert all(p is not None and p.numel() == 8 for p in parts)
    rows = torch.cat([p for p in parts if p is not None]).tolist()
    assert set(rows) == set(range(n)) and len(rows) == 24  # one padding repeat
    again = resident_indices(n, shuffle=True, seed=4, rank=1, world_size=world)
    assert again is not None and torch.equal(again, parts[1])  # the same for the whole run
    # unshuffled splits shard exactly as the host path does (rank r: r, r + W, ...)
    val = resident_indices(10, shuffle=False, seed=4, rank=1, world_size=3)
    assert val is not None and val.tolist() == [1, 4, 7, 0]
    assert resident_indices(n, shuffle=True, seed=4, rank=0, world_size=1) is None
    assert rank_seed(7, 0, 1) == 7 and rank_seed(7, 0, 2) != rank_seed(7, 1, 2)


def _synthetic(**kw: Any) -> Any:
    return build_datamodule({"name": "synthetic", "num_samples": 100, "image_size": 8,
                             "batch_size": 16, "augment": {"hflip": True, "crop_padding": 2},
                             **kw})


def _batches(loader: Any, epochs: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)  # the augmentation draws from torch's global generator
    return [(x, y) for _ in range(epochs) for x, y in loader]


def test_the_resident_path_serves_exactly_the_host_paths_batches() -> None:
    resident, host = _synthetic(device_resident=True), _synthetic(device_resident=False)
    for split in ("train_dataloader", "val_dataloader"):
        a, b = getattr(resident, split)(), getattr(host, split)()
        assert isinstance(a, InMemoryLoader) and isinstance(b, InMemoryLoader)
        got, want = _batches(a), _batches(b)
        assert len(got) == len(want) == 2 * len(b)
        for (xa, ya), (xb, yb) in zip(got, want, strict=True):
            assert torch.equal(ya, yb) and torch.equal(xa, xb)
    lines = [p.line for p in resident.placements.values()]
    assert len(lines) == 1 and lines[0].startswith("data: resident on cpu, ")
    assert [p.line for p in host.placements.values()] == [
        "data: host gather (data.device_resident=false)"]
    # the copy is made once: a second loader serves the same stored tensor
    assert resident.train_dataloader().images is resident.train_dataloader().images


def test_ddp_ranks_place_their_own_shard() -> None:
    loaders = []
    for rank in range(2):
        dm = _synthetic(device_resident=True, drop_last=True)
        dm.trainer = SimpleNamespace(  # type: ignore[assignment]
            strategy=SimpleNamespace(root_device=torch.device("cpu"),
                                     reduce_boolean_decision=lambda d, all: d),
            global_rank=rank, world_size=2)
        loader = dm.train_dataloader()
        rows = resident_indices(80, shuffle=True, seed=0, rank=rank, world_size=2)
        assert rows is not None and rows.numel() == 40
        assert dm.train_set is not None and isinstance(loader, InMemoryLoader)
        assert torch.equal(loader.images, dm.train_set.images[rows])  # this shard only
        assert len(loader) == 40 // 16
        line = next(iter(dm.placements.values())).line
        assert "this rank's shard of 2" in line
        val = dm.val_dataloader()
        assert isinstance(val, InMemoryLoader) and val.images.shape[0] == 10
        loaders.append((rows, loader))
    assert not set(loaders[0][0].tolist()) & set(loaders[1][0].tolist())
    # each epoch reshuffles within the shard
    first = [y for _, y in loaders[0][1]]
    second = [y for _, y in loaders[0][1]]
    assert not all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_the_cpu_default_path_is_the_host_gather_unchanged() -> None:
    dm = _synthetic()  # device_resident: auto, no trainer: the CPU
    loader = dm.train_dataloader()
    assert dm.train_set is not None and isinstance(loader, InMemoryLoader)
    assert loader.images is dm.train_set.images  # the stored tensor, no copy
    assert (loader.sampler.rank, loader.sampler.world_size, loader.sampler.seed) == (0, 1, 0)
    assert next(iter(dm.placements.values())).line.startswith("data: host gather (the "
                                                               "training device is the CPU")


@pytest.mark.parametrize("share", [0, 1.5])
def test_bad_memory_share_names_the_key(share: float) -> None:
    with pytest.raises(ConfigError, match=r"data\.device_memory_share"):
        _synthetic(device_memory_share=share)
