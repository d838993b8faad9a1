"""Each search worker's share of one GPU's memory (`search.n_workers=N` on one device).

Workers training on the same GPU each get `torch.cuda.set_per_process_memory_fraction`:
1/N of the device less a per-process reserve, so one worker's large candidate fails alone
(an out-of-memory trial, FAIL) instead of starving the others. The reserve is memory a
process uses outside PyTorch's caching allocator, which the fraction does not count: the
CUDA context and the libraries' handles (several hundred MB per process on recent GPUs,
https://pytorch.org/docs/stable/notes/cuda.html#memory-management). Their kernels still
take turns on the GPU unless the user runs NVIDIA MPS (docs/search.md).
"""

from __future__ import annotations

from archforge.errors import ConfigError

GiB = 2**30
RESERVE_BYTES = 1 * GiB  # per worker process, outside the caching allocator
MIN_FRACTION = 0.02  # below this a worker cannot hold even a small network's batch
CUDA_ACCELERATORS = ("gpu", "cuda", "auto")


def memory_fraction(n_workers: int, total_bytes: int,
                    reserve_bytes: int = RESERVE_BYTES) -> float | None:
    """The fraction of a device's `total_bytes` each of `n_workers` processes may allocate:
    (total - n_workers x reserve) / n_workers / total; None for a single worker (no cap)."""
    if n_workers <= 1:
        return None
    fraction = (total_bytes - n_workers * reserve_bytes) / n_workers / total_bytes
    if fraction < MIN_FRACTION:
        raise ConfigError("search.n_workers", f"{n_workers} workers on one device of "
                          f"{total_bytes / GiB:.1f} GiB leave each {max(fraction, 0):.3f} of "
                          f"it after a {reserve_bytes / GiB:g} GiB reserve per process; use "
                          "fewer workers")
    return fraction


def share_device_memory(n_workers: int, accelerator: str) -> float | None:
    """Cap this worker's CUDA allocator at its `memory_fraction` of the current device when
    the trials train on CUDA; the fraction set, or None (one worker, CPU, no CUDA)."""
    if n_workers <= 1 or accelerator not in CUDA_ACCELERATORS:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    fraction = memory_fraction(n_workers, total)
    if fraction is not None:
        torch.cuda.set_per_process_memory_fraction(fraction)
    return fraction
