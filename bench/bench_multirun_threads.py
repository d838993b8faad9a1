"""Two jobs of a multirun at once (submitit_local) against one after the other (basic).

Runs, one after the other, in fresh temporary folders (not a test):

- basic:           archforge train -m seed=0,1 <overrides>                     (jobs in turn)
- submitit_local:  archforge train -m seed=0,1 <overrides> hydra/launcher=submitit_local
- submitit, 2 threads each (the old default): the same with threads=<cores>

and prints each command's wall time and the ratios to the basic launcher. With the default
`threads: null` the two concurrent jobs split the cores (archforge/training/threads.py);
before, each took all of them and the pair ran several times slower.

    python bench/bench_multirun_threads.py                       # resnet20 on digits, 1 epoch
    python bench/bench_multirun_threads.py --no-old --rounds 2 -- trainer.max_epochs=3
    python bench/bench_multirun_threads.py --busy                # one run next to a busy process
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


def wall(args: list[str], sweep: bool = True) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "archforge.cli", "train",
                   *(["-m", "seed=0,1"] if sweep else []),
                   f"run_dir={Path(tmp) / 'run'}", "progress=false", *args]
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
    parser.add_argument("--no-old", action="store_true",
                        help="skip the submitit arm with every core per job")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of the arms")
    parser.add_argument("--busy", action="store_true",
                        help="instead: one run next to a busy process, threads null vs all")
    options = parser.parse_args()
    extra = options.overrides
    cores = len(os.sched_getaffinity(0))
    if options.busy:
        busy(extra, cores)
        return
    arms = {"basic launcher": extra,
            "submitit_local, threads: null": [*extra, *SUBMITIT]}
    if not options.no_old:
        arms[f"submitit_local, threads={cores}"] = [*extra, *SUBMITIT, f"threads={cores}"]
    runs: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(options.rounds):  # arms alternate: a load change hits every arm alike
        for name, args in arms.items():
            runs[name].append(wall(args))
    load = os.getloadavg()[0]
    print(f"| arm | wall s per round | / basic, per round |  ({cores} cores, load average "
          f"{load:.1f} after)")
    print("|---|---|---|")
    for name, seconds in runs.items():
        ratios = [t / b for t, b in zip(seconds, runs["basic launcher"], strict=True)]
        print(f"| {name} | {' / '.join(f'{t:.1f}' for t in seconds)} | "
              f"{' / '.join(f'{r:.2f}' for r in ratios)} |")


def busy(extra: list[str], cores: int) -> None:
    """One `archforge train` while another process keeps one core busy: threads null (the
    cores left free) against threads=<all cores>, alternating, two rounds."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        times: dict[str, list[float]] = {"threads: null": [], f"threads={cores}": []}
        for _ in range(2):
            times["threads: null"].append(wall(extra, sweep=False))
            times[f"threads={cores}"].append(wall([*extra, f"threads={cores}"], sweep=False))
    finally:
        hog.kill()
    base = min(times["threads: null"])
    print(f"| one run next to a busy process | wall s (2 runs) | best / null |  ({cores} "
          f"cores, load average {os.getloadavg()[0]:.1f} after)")
    print("|---|---|---|")
    for name, runs in times.items():
        print(f"| {name} | {' / '.join(f'{t:.1f}' for t in runs)} | {min(runs) / base:.2f} |")


if __name__ == "__main__":
    main()
