"""The in-memory data path: epoch coverage, seeding, DDP shards, augmentation, switches."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from sample_data import write_image_folder
from torch.utils.data import DataLoader

from archforge.data import DataWarning, build_datamodule
from archforge.data.image_folder import DecodedImageDataset, ImageFileDataset
from archforge.data.in_memory import (
    EpochOrder,
    InMemoryLoader,
    batch_count,
    epoch_permutation,
    shard,
)
from archforge.data.transforms import AugmentConfig, BatchTransform, Normalize, build_augment
from archforge.errors import ConfigError


def _loader(n: int = 10, batch_size: int = 4, **kw: object) -> InMemoryLoader:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    labels = torch.arange(n)
    # The identity batch function: batches come back as raw (index-valued) pixels.
    return InMemoryLoader(images, labels, batch_size=batch_size, batch_fn=lambda b: b, **kw)  # type: ignore[arg-type]


def _epoch(loader: InMemoryLoader) -> list[int]:
    return [int(i) for _, y in loader for i in y]


@pytest.mark.parametrize("n, batch_size", [(10, 4), (12, 4), (3, 8)])
def test_every_sample_is_seen_exactly_once_per_epoch(n: int, batch_size: int) -> None:
    loader = _loader(n, batch_size, shuffle=True, seed=5)
    for _ in range(3):
        seen = _epoch(loader)
        assert sorted(seen) == list(range(n))
    sizes = [len(y) for _, y in loader]
    assert len(sizes) == len(loader) == -(-n // batch_size)
    assert all(s == batch_size for s in sizes[:-1]) and 0 < sizes[-1] <= batch_size
    # Images travel with their labels.
    x, y = next(iter(loader))
    assert torch.equal(x[:, 0, 0, 0].long(), y)


def test_drop_last_drops_only_the_short_batch() -> None:
    loader = _loader(10, 4, shuffle=True, drop_last=True)
    sizes = [len(y) for _, y in loader]
    assert sizes == [4, 4] and len(loader) == 2
    assert len(_loader(12, 4, drop_last=True)) == 3


def test_order_is_seeded_and_changes_every_epoch() -> None:
    a, b = _loader(50, 8, shuffle=True, seed=1), _loader(50, 8, shuffle=True, seed=1)
    first_a, second_a = _epoch(a), _epoch(a)
    assert first_a == _epoch(b) and second_a == _epoch(b)  # same seed, same epochs
    assert first_a != second_a  # a new order each epoch
    assert first_a != _epoch(_loader(50, 8, shuffle=True, seed=2))
    # Lightning's set_epoch (a resumed run) reproduces that epoch's order.
    c = _loader(50, 8, shuffle=True, seed=1)
    c.sampler.set_epoch(1)
    assert _epoch(c) == second_a
    # Without shuffling (validation) the order is the stored one.
    assert _epoch(_loader(10, 4)) == list(range(10))
    # seed and epoch are mixed, not added.
    assert not torch.equal(epoch_permutation(20, 0, 1), epoch_permutation(20, 1, 0))


@pytest.mark.parametrize("n, world", [(10, 3), (12, 4), (2, 4), (7, 2)])
def test_ddp_shards_are_equal_disjoint_when_divisible_and_cover_everything(
    n: int, world: int
) -> None:
    order = epoch_permutation(n, 0, 0)
    parts = [shard(order, r, world) for r in range(world)]
    per_rank = -(-n // world)
    assert all(p.numel() == per_rank for p in parts)
    together = torch.cat(parts).tolist()
    assert set(together) == set(range(n))  # nothing lost
    assert len(together) - n == per_rank * world - n  # only the padding repeats
    if n % world == 0:
        assert sorted(together) == list(range(n))


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_rank_gets_the_same_number_of_batches(drop_last: bool) -> None:
    loaders = [
        _loader(23, 4, shuffle=True, drop_last=drop_last, rank=r, world_size=3) for r in range(3)
    ]
    counts = [len(list(loader)) for loader in loaders]
    expected = batch_count(8, 4, drop_last)  # ceil(23 / 3) = 8 samples per rank
    assert counts == [expected] * 3 == [len(loader) for loader in loaders]
    # All ranks shard the same epoch order (same seed), so one epoch covers the data set.
    seen = {i for loader in loaders for i in _epoch(loader)}
    assert seen == set(range(23)) or drop_last


def test_rank_outside_world_is_refused() -> None:
    with pytest.raises(ValueError, match="rank 2"):
        EpochOrder(10, shuffle=False, seed=0, rank=2, world_size=2)


def test_augmented_batches_keep_shape_dtype_and_pixel_range() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8, generator=gen)
    unit = Normalize((0.0,) * 3, (1.0,) * 3)  # identity: batches stay in [0, 1]
    augment = build_augment(AugmentConfig(hflip=True, crop_padding=2))
    loader = InMemoryLoader(images, torch.zeros(40, dtype=torch.int64), batch_size=16,
                            batch_fn=BatchTransform(unit, augment), shuffle=True)
    batches = [x for x, _ in loader]
    assert [tuple(x.shape) for x in batches] == [(16, 3, 8, 8)] * 2 + [(8, 3, 8, 8)]
    everything = torch.cat(batches)
    assert everything.dtype == torch.float32
    assert everything.min() >= 0.0 and everything.max() <= 1.0
    assert (everything == 0).float().mean() > 0.05  # padding shows up as zero borders

    # Flip alone: every image is the stored one or its mirror, and both occur.
    flip = build_augment(AugmentConfig(hflip=True))
    flip_only = InMemoryLoader(images, torch.arange(40), batch_size=40,
                               batch_fn=BatchTransform(unit, flip))
    x, idx = next(iter(flip_only))
    stored = images[idx].float() / 255
    same = (x == stored).flatten(1).all(1)
    mirrored = (x == stored.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and same.any() and mirrored.any()


def _synthetic(**kw: object):  # type: ignore[no-untyped-def]
    return build_datamodule({"name": "synthetic", "num_samples": 100, "image_size": 8,
                             "batch_size": 16, **kw})


def test_tensor_data_sets_use_the_in_memory_path_unless_switched_off() -> None:
    fast = _synthetic()
    slow = _synthetic(in_memory=False)
    assert isinstance(fast.train_dataloader(), InMemoryLoader)
    assert isinstance(slow.train_dataloader(), DataLoader)
    # Both serve the same samples, normalised alike (validation is unshuffled: equal).
    assert torch.equal(torch.cat([x for x, _ in fast.val_dataloader()]),
                       torch.cat([x for x, _ in slow.val_dataloader()]))
    fast_y = torch.cat([y for _, y in fast.train_dataloader()])
    slow_y = torch.cat([y for _, y in slow.train_dataloader()])
    assert torch.equal(fast_y.sort().values, slow_y.sort().values)


def test_the_attached_trainer_decides_rank_world_size_and_device() -> None:
    dm = _synthetic(drop_last=True)
    dm.trainer = SimpleNamespace(  # type: ignore[assignment]
        strategy=SimpleNamespace(root_device=torch.device("cpu")), global_rank=1, world_size=2
    )
    loader = dm.train_dataloader()
    assert isinstance(loader, InMemoryLoader)
    assert (loader.sampler.rank, loader.sampler.world_size) == (1, 2)
    assert len(loader) == 40 // 16  # 80 training samples, 40 per rank, whole batches only
    val = dm.val_dataloader()
    assert isinstance(val, InMemoryLoader) and len(val.sampler) == 10


@pytest.mark.parametrize("value", ["sometimes", 2])
def test_bad_in_memory_value_names_the_key(value: object) -> None:
    with pytest.raises(ConfigError, match=r"data\.in_memory"):
        _synthetic(in_memory=value)


def test_small_image_folders_are_decoded_once_and_large_ones_stream(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "images")  # includes an undecodable file
    cfg = {"name": "image_folder", "root": str(root), "image_size": 16, "batch_size": 4,
           "verify": False}
    small = build_datamodule(cfg)
    with pytest.warns(DataWarning) as record:
        small.setup("fit")  # decode failures are reported at setup, not mid-epoch
    assert any("broken.jpg" in str(w.message) for w in record)
    assert isinstance(small.train_set, DecodedImageDataset)
    assert small.train_set.images.dtype == torch.uint8
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nothing more to report while training
        batches = list(small.train_dataloader())
    assert sum(len(y) for _, y in batches) == len(small.train_set)
    assert all(p.name != "broken.jpg" for p, _ in small.train_set.samples)

    large = build_datamodule({**cfg, "in_memory_max_mb": 0})  # auto, over the limit
    large.setup("fit")
    assert isinstance(large.train_set, ImageFileDataset)
    assert isinstance(large.train_dataloader(), DataLoader)
