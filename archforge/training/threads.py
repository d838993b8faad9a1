"""Torch threads for `archforge train`: `threads=N`, or chosen so that runs sharing a machine
do not stall each other.

torch's CPU operators split work over an OpenMP thread pool whose threads meet at a barrier
after every parallel operation. With more runnable threads than free cores (two runs of two
threads on two cores, or one run next to another busy process) every operation waits for
a thread the OS has descheduled, and training runs several times slower than with fewer
threads (bench/RESULTS.md, "Threads per run"). `threads: null` (the default) therefore gives
a run

    min(cores // archforge runs training on this machine, cores not busy when it starts)

and at least one. The runs count themselves in a folder of pid files under the temporary
directory (`SharedCores`), and each run re-divides at every epoch, never above the count
it started with: when a second job of a multirun starts (submitit_local, joblib) a moment
after the first, the first drops to its share from its next epoch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L

from archforge.pids import pid_alive


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat (None elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def free_cores(window: float = 0.2) -> float:
    """Cores not busy with other processes, measured over `window` seconds (this process
    sleeps meanwhile); all of them where /proc/stat cannot be read."""
    before = _cpu_times()
    if before is None:
        return float(cores())
    time.sleep(window)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return float(cores())
    busy = (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)
    return max(0.0, cores() - busy)


class SharedCores:
    """This process's entry in the folder that counts archforge runs training on this
    machine (one empty file named by its pid; files of dead processes are ignored)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path(tempfile.gettempdir()) / f"archforge-runs-{os.getuid()}"
        self.entry = self.folder / str(os.getpid())

    def __enter__(self) -> SharedCores:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.entry.touch()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.entry.unlink()

    def runs(self) -> int:
        """archforge runs training now, this one included."""
        try:
            pids = [int(p.name) for p in self.folder.iterdir() if p.name.isdigit()]
        except OSError:
            return 1
        return max(1, sum(pid_alive(pid) for pid in pids if pid != os.getpid()) + 1)

    def share(self) -> int:
        return max(1, cores() // self.runs())


def choose_threads(shared: SharedCores, window: float = 0.2) -> int:
    """`threads: null`: this run's share of the cores, capped by the cores free now."""
    return max(1, min(shared.share(), round(free_cores(window))))


class ThreadShare(L.Callback):
    """Re-divides the cores at each epoch among the archforge runs training now (never above
    the count chosen at the start, which also saw other processes' load)."""

    def __init__(self, shared: SharedCores, ceiling: int) -> None:
        self.shared = shared
        self.ceiling = ceiling

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: Any) -> None:
        import torch

        wanted = max(1, min(self.ceiling, self.shared.share()))
        if wanted != torch.get_num_threads():
            torch.set_num_threads(wanted)
