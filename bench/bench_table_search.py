"""Throughput of a table-backed NAS-Bench-201 search through archforge's whole loop.

`archforge search search=nb201 search.evaluator=table` with N trials in a fresh study: every
trial is sampled, composed, built and traced on the meta device, checked against the table's
parameter count and answered from the table, through the journal storage. Prints the wall
time and the per-trial time of archforge's loop around the look-up (median of the trials'
`duration_s`, from ask to tell), and the target: 300 trials in under a minute.

    python bench/bench_table_search.py --trials 300
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch
from optuna.trial import TrialState

from archforge.cli.search import search
from archforge.search.runtime.study import open_storage


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--sampler", default="tpe",
                    help="tpe: the loop's own cost; gp_discrete (search=nb201's default) and gp "
                         "add their model fits, which grow with the trials")
    ap.add_argument("--prescreen", type=int, default=0,
                    help="search.prescreen.samples (search=nb201's default: 300)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        argv_ = ["search=nb201", "search.evaluator=table", f"search.root={root}",
                 f"search.n_trials={args.trials}", f"search.sampler={args.sampler}",
                 f"search.prescreen.samples={args.prescreen}", "search.progress=false"]
        started, cpu = time.perf_counter(), time.process_time()
        began = datetime.datetime.now()
        assert search(argv_) == 0
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        study = optuna.load_study(study_name="nb201",
                                  storage=open_storage(str(Path(root) / "nb201" / "journal.log")))
        trials = study.get_trials(deepcopy=False)
    first = min(t.datetime_start for t in trials if t.datetime_start is not None)
    before = (first - began).total_seconds()  # start-up and the pre-screen
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    loop = [float(t.user_attrs["duration_s"]) for t in done]
    print(f"{len(done)} of {len(trials)} trials complete, sampler {args.sampler}, "
          f"pre-screened {args.prescreen}")
    print(f"wall time {wall:.1f} s for {args.trials} trials (target: 300 in < 60 s), "
          f"{1000 * wall / args.trials:.0f} ms per trial including start-up and export; "
          f"CPU time {cpu:.1f} s (one process; above the wall time where torch used both "
          "cores, search.threads)")
    print(f"before the first trial (start-up and the pre-screen of {args.prescreen}): "
          f"{before:.1f} s; the trials: {wall - before:.1f} s")
    print(f"archforge's loop per trial (ask -> sample, compose, meta-device build and trace, "
          f"parameter check, look-up -> tell): median {1000 * statistics.median(loop):.0f} ms, "
          f"p90 {1000 * statistics.quantiles(loop, n=10)[-1]:.0f} ms")


if __name__ == "__main__":
    main()
