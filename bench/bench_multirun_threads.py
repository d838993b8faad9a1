"""Two jobs of a multirun at once (submitit_local) against one after the other (basic).

Runs, one after the other, in fresh temporary folders (not a test):

- basic:           archforge train -m seed=0,1 <overrides>                     (jobs in turn)
- submitit_local:  archforge train -m seed=0,1 <overrides> hydra/launcher=submitit_local
- submitit, 2 threads each (the old default): the same with threads=<cores>

and prints each command's wall time and the ratios to the basic launcher. With the default
`threads: null` the two concurrent jobs split the cores (archforge/training/threads.py);
before, each took all of them and the pair ran several times slower.

    python bench/bench_multirun_threads.py                       # resnet20 on digits, 1 epoch
    python bench/bench_multirun_threads.py -- trainer.max_epochs=2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBMITIT = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20"]


def wall(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "archforge.cli", "train", "-m", "seed=0,1",
                   f"run_dir={Path(tmp) / 'multirun'}", "progress=false", *args]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}"
                         f"{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", default=["trainer.max_epochs=1"])
    extra = parser.parse_args().overrides
    cores = len(os.sched_getaffinity(0))
    arms = {"basic launcher": extra,
            "submitit_local, threads: null": [*extra, *SUBMITIT],
            f"submitit_local, threads={cores}": [*extra, *SUBMITIT, f"threads={cores}"]}
    times = {name: wall(args) for name, args in arms.items()}
    load = os.getloadavg()[0]
    base = times["basic launcher"]
    print(f"| arm | wall s | / basic |  ({cores} cores, load average {load:.1f} after)")
    print("|---|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.1f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
