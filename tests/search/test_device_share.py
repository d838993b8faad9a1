"""Several trials per device: each worker's share of the GPU's memory and of the CPU cores."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from archforge.errors import ConfigError
from archforge.search.runtime import workers
from archforge.search.runtime.device_share import (
    GiB,
    memory_fraction,
    share_device_memory,
)

H100 = 80 * GiB


def test_each_worker_gets_a_nth_less_its_reserve() -> None:
    assert memory_fraction(1, H100) is None  # one worker: no cap at all
    assert memory_fraction(4, H100) == pytest.approx((80 - 4) / 4 / 80)  # 0.2375
    assert memory_fraction(2, 141 * GiB) == pytest.approx(139 / 2 / 141)
    assert memory_fraction(4, H100, reserve_bytes=0) == pytest.approx(0.25)
    shares = [memory_fraction(n, H100) for n in (2, 4, 8)]
    # all workers together stay below the device, with n x 1 GiB left over
    assert all(n * f * H100 + n * GiB <= H100 + 1 for n, f in zip((2, 4, 8), shares,
                                                                   strict=True) if f)


def test_too_many_workers_for_the_device_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"search\.n_workers: 16 workers on one device of "
                                          r"16\.0 GiB"):
        memory_fraction(16, 16 * GiB)


def test_no_cap_on_the_cpu_or_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    assert share_device_memory(4, "cpu") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert share_device_memory(4, "gpu") is None


def test_worker_start_up_caps_the_allocator_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    set_to: list[float] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda _: SimpleNamespace(total_memory=H100))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda f, device=None: set_to.append(f))
    prep = SimpleNamespace(cfg=OmegaConf.create({"trainer": {"accelerator": "gpu"}}),
                           settings=SimpleNamespace(n_workers=4))
    workers._share_device(prep)  # type: ignore[arg-type]
    assert set_to == [pytest.approx(0.2375)]
    prep.cfg.trainer.accelerator = "cpu"  # CPU trials never touch CUDA
    workers._share_device(prep)  # type: ignore[arg-type]
    assert len(set_to) == 1


def test_cpu_threads_are_split_between_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "cores", lambda: 16)
    assert [workers.threads_per_worker(n) for n in (1, 2, 4, 32)] == [16, 8, 4, 1]
    assert workers.threads_per_worker(4, explicit=3) == 3
