"""The worker loop (ask -> objective -> tell) and N local worker processes.

Each worker pulls one trial at a time from the shared storage, so a fast worker never waits
for a slow one (no batches). Before each trial it reaps orphans, re-queues retryable
failures, and stops when `counted + running >= n_trials` (so with several workers the total
can overshoot by at most workers - 1 when they ask at the same instant). While a trial runs,
a thread refreshes its `heartbeat` user attr every `search.heartbeat_interval` seconds.

`search.n_workers=N` starts N processes (spawned, not forked: torch and storage connections
do not survive a fork) with `torch.set_num_threads(cores // N)` each; a second `archforge
search` on the same storage and study name simply runs more of the same loop.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from archforge.search.objective import Outcome, objective
from archforge.search.prepare import Prepared, prepare, quiet
from archforge.search.study import HOST, counted, reap_orphans, requeue_failed

Progress = Callable[[optuna.Study], None]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_worker(n_workers: int, explicit: int | None = None) -> int:
    return explicit or max(1, cores() // n_workers)


class Heartbeat:
    """Refreshes a running trial's `heartbeat` user attr from a daemon thread."""

    def __init__(self, study: optuna.Study, trial_id: int, interval: float) -> None:
        self.storage = study._storage
        self.trial_id = trial_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="af-heartbeat")

    def __enter__(self) -> Heartbeat:
        self.storage.set_trial_user_attr(self.trial_id, "heartbeat", time.time())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.storage.set_trial_user_attr(self.trial_id, "heartbeat", time.time())
            except Exception:  # finished meanwhile, or the storage hiccupped: try next beat
                continue


def should_stop(study: optuna.Study, n_trials: int) -> bool:
    trials = study.get_trials(deepcopy=False)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    return len(counted(trials)) + running >= n_trials


def tell(study: optuna.Study, trial: optuna.Trial, out: Outcome) -> bool:
    """Record the outcome; False when the sampler says the space is exhausted (grid)."""
    for key, value in out.attrs.items():
        trial.set_user_attr(key, value)
    if out.reason is not None:
        trial.set_user_attr("reason", out.reason)
    try:
        if out.state == TrialState.COMPLETE:
            study.tell(trial, out.values)
        else:
            study.tell(trial, state=out.state)
    except RuntimeError as exc:
        # GridSampler calls study.stop() once every cell is taken; outside optimize() that
        # raises after the trial is stored. Here it simply ends this worker.
        if "Study.stop" in str(exc):
            return False
        raise
    return True


def run_loop(
    prep: Prepared,
    study: optuna.Study,
    worker: int = 0,
    on_trial: Progress | None = None,
    train_fn: Callable[..., Any] | None = None,
) -> int:
    """Run trials until the study holds n_trials counted ones (or the timeout); return how
    many this worker finished."""
    s = prep.settings
    ctx = prep.context()
    deadline = None if s.timeout is None else time.monotonic() + s.timeout
    done = 0
    while deadline is None or time.monotonic() < deadline:
        reap_orphans(study, s.heartbeat_grace)
        requeue_failed(study, s.max_retries)
        if should_stop(study, s.n_trials):
            break
        trial = study.ask()
        trial.set_user_attr("worker_host", HOST)
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("worker", worker)
        started = time.perf_counter()
        try:
            with Heartbeat(study, trial._trial_id, s.heartbeat_interval):
                out = objective(ctx, trial, train_fn=train_fn)
        except KeyboardInterrupt:
            trial.set_user_attr("reason", "interrupted (Ctrl-C); re-queued on resume")
            trial.set_user_attr("retry", True)
            study.tell(trial, state=TrialState.FAIL)
            raise
        out.attrs.setdefault("duration_s", time.perf_counter() - started)
        more = tell(study, trial, out)
        done += 1
        if on_trial is not None:
            on_trial(study)
        if not more:
            break
    return done


def _worker_main(args: Sequence[str], worker: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    quiet()
    prep = prepare(args)
    # on Ctrl-C the running trial is recorded FAIL + retry; the parent reports
    with contextlib.suppress(KeyboardInterrupt):
        run_loop(prep, prep.study(worker), worker)


def run_workers(args: Sequence[str], prep: Prepared, poll: Progress | None = None) -> int:
    """Start n_workers processes and wait for them; return the number that failed."""
    n = prep.settings.n_workers
    threads = threads_per_worker(n, prep.settings.threads)
    ctx = mp.get_context("spawn")
    env_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by each child's torch at import
    try:
        procs = [ctx.Process(target=_worker_main, args=(list(args), i, threads),
                             name=f"archforge-search-{i}") for i in range(n)]
        for p in procs:
            p.start()
    finally:
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads
    study = None
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=2.0 / n)
            if poll is not None:
                study = study or prep.study()
                poll(study)
    except KeyboardInterrupt:
        # the children got the same SIGINT from the terminal; give them time to record it
        for p in procs:
            p.join(timeout=10)
        for p in procs:
            if p.is_alive():
                p.terminate()
        raise
    return sum(1 for p in procs if p.exitcode not in (0, None))
