"""The worker loop (ask -> objective -> tell) and N local worker processes.

Each worker pulls one trial at a time from the shared storage, so a fast worker never waits
for a slow one (no batches). Before each trial it reaps orphans, re-queues retryable
failures, and stops when `counted + running >= n_trials` (so with several workers the total
can overshoot by at most workers - 1 when they ask at the same instant; infeasible
candidates are not counted) or the study ends in `search.max_infeasible` infeasible
candidates in a row. While a trial runs,
a thread refreshes its `heartbeat` user attr every `search.heartbeat_interval` seconds.

`search.n_workers=N` runs the loop in the search's own process (worker 0) and in N-1 child
processes, each with `torch.set_num_threads(cores // N)`; a second `archforge search` on
the same storage and study name simply runs more of the same loop.

How children start (`search.start_method`): `auto` forks them where that is safe - on
Linux, while the search process is still single-threaded (no OpenMP or BLAS thread pool,
no progress thread; `fork` copies only the calling thread, and a pool or lock owned by
another thread would be broken in the child) and CUDA is not initialised - so a child
starts in milliseconds with everything already imported and composed; it opens its own
storage connection (study.py forgets the parent's at fork). Anywhere else, children are
spawned: a fresh interpreter that imports torch and Lightning and composes the config again
(several seconds a child).

Stopping (signals.py): on SIGINT/SIGTERM, wherever it lands, every worker records its running
trial FAIL with `retry` (re-queued on resume) and takes no new one; the parent waits for the
children up to `search.heartbeat_grace` seconds, then ends those left (their trials are
then orphans, re-queued on resume just the same). A child whose parent dies (even by
SIGKILL) stops the same way (parent_watch.py).
"""

from __future__ import annotations

import contextlib
import datetime
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from archforge.search.runtime.device_share import share_device_memory
from archforge.search.runtime.optuna_private import set_attr_of
from archforge.search.runtime.parent_watch import parent_alive, watch_parent
from archforge.search.runtime.prepare import Prepared, prepare, quiet
from archforge.search.runtime.signals import Interrupted, handling, install, signal_name, stop
from archforge.search.runtime.storage_errors import failure_line
from archforge.search.runtime.study import (
    HOST,
    counted,
    infeasible_streak,
    reap_orphans,
    requeue_failed,
)
from archforge.search.trial.objective import Outcome, objective
from archforge.training.threads import cores

Progress = Callable[[optuna.Study], None]
# Evaluates a batch of asked trials, one Outcome each, in order: in this process (the
# objective) or as Hydra jobs through a launcher (the sweeper, sweeper.py).
Evaluate = Callable[[list[optuna.Trial]], list[Outcome]]


def threads_per_worker(n_workers: int, explicit: int | None = None) -> int:
    return explicit or max(1, cores() // n_workers)


class Heartbeat:
    """Refreshes the running trials' `heartbeat` user attr from a daemon thread."""

    def __init__(self, trials: optuna.Trial | list[optuna.Trial], interval: float) -> None:
        self.trials = trials if isinstance(trials, list) else [trials]
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="af-heartbeat")

    def __enter__(self) -> Heartbeat:
        for trial in self.trials:
            trial.set_user_attr("heartbeat", time.time())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for trial in self.trials:
                try:
                    trial.set_user_attr("heartbeat", time.time())
                except Exception:  # finished meanwhile, or the storage hiccupped: next beat
                    continue


def remaining(study: optuna.Study, n_trials: int, max_infeasible: int | None = None) -> int:
    """Trials still to ask for: n_trials less the counted and the running ones (an
    infeasible candidate is not counted: study.py); none once the study ends in
    `max_infeasible` infeasible candidates in a row."""
    trials = study.get_trials(deepcopy=False)
    if max_infeasible is not None and infeasible_streak(trials) >= max_infeasible:
        return 0
    running = sum(t.state == TrialState.RUNNING for t in trials)
    return n_trials - len(counted(trials)) - running


def should_stop(study: optuna.Study, n_trials: int, max_infeasible: int | None = None) -> bool:
    return remaining(study, n_trials, max_infeasible) <= 0


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
    except optuna.exceptions.UpdateFinishedTrialError:
        return True  # another process reaped it meanwhile (its worker looked lost)
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
    evaluate: Evaluate | None = None,
    batch: int = 1,
) -> int:
    """Run trials until the study holds n_trials counted ones, the timeout, or a stop
    signal; return how many this worker finished.

    Each round asks for up to `batch` trials and hands them to `evaluate` (default: the
    objective, in this process, one after the other); the sweeper passes its launcher."""
    s = prep.settings
    if evaluate is None:
        ctx = prep.context()

        def evaluate(trials: list[optuna.Trial]) -> list[Outcome]:
            return [objective(ctx, t) for t in trials]

    deadline = None if s.timeout is None else time.monotonic() + s.timeout
    done = 0
    while not stop.requested and (deadline is None or time.monotonic() < deadline):
        reap_orphans(study, s.heartbeat_grace)
        requeue_failed(study, s.max_retries)
        k = min(batch, remaining(study, s.n_trials, s.max_infeasible))
        if k <= 0 or stop.requested:
            break
        install()  # Lightning leaves SIGINT ignored after a Ctrl-C inside fit
        trials = [_ask(study, worker) for _ in range(k)]
        started = time.perf_counter()
        try:
            with Heartbeat(trials, s.heartbeat_interval):
                outs = evaluate(trials)
        except KeyboardInterrupt as exc:  # a stop signal (Interrupted) or a bare Ctrl-C
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            stop.signum = stop.signum or signum
            outs = [Outcome(TrialState.FAIL, reason=f"interrupted ({signal_name(signum)}); "
                            "re-queued on resume", attrs={"retry": True}) for _ in trials]
        more = True
        for trial, out in zip(trials, outs, strict=True):
            out.attrs.setdefault("duration_s", time.perf_counter() - started)
            more = tell(study, trial, out) and more
        done += len(trials)
        if on_trial is not None:
            on_trial(study)
        ending = next((out.stop for out in outs if out.stop is not None), None)
        if ending is not None:  # a full disk: the trial is stored FAIL + retry; stop here
            raise ending
        if not more:
            break
    if stop.requested and not stop.active:  # a bare Ctrl-C, in a caller without `handling()`
        stop.reset()
        raise KeyboardInterrupt
    line = infeasible_stop(study, s.n_trials, s.max_infeasible)
    if line is not None and worker == 0:
        print(line, file=sys.stderr, flush=True)
    return done


def infeasible_stop(study: optuna.Study, n_trials: int, max_infeasible: int) -> str | None:
    """Why the search stopped short of n_trials trained trials, when the cap on infeasible
    candidates in a row ended it; else None."""
    trials = study.get_trials(deepcopy=False)
    streak = infeasible_streak(trials)
    if streak < max_infeasible:
        return None
    return (f"archforge search: stopped after {streak} infeasible candidates in a row "
            f"(search.max_infeasible={max_infeasible}), {len(counted(trials))} of {n_trials} "
            "trials trained: the space or search.constraints leave (almost) no feasible "
            "candidate; relax the constraints, narrow the space, or raise "
            "search.max_infeasible")


def _ask(study: optuna.Study, worker: int) -> optuna.Trial:
    """A new trial, marked with the process that runs (or launches) it.

    The marks are written with the trial itself where they can be: an empty trial is
    enqueued carrying them and `ask` takes it at once. A trial created by a bare `ask` and
    marked by later writes would, when those writes fail (a full disk), stay RUNNING with no
    process named: found as an orphan only after `search.heartbeat_grace`. A trial already
    waiting (a re-queued or pre-screened one) is taken first and marked after."""
    marks = {"worker_host": HOST, "worker_pid": os.getpid(), "worker": worker}
    if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        study.enqueue_trial({}, user_attrs=marks, skip_if_exists=False)
    trial = study.ask()
    for key, value in marks.items():
        if trial.user_attrs.get(key) != value:  # not the one enqueued here
            trial.set_user_attr(key, value)
    return trial


def fork_is_safe() -> bool:
    """Whether this process may fork workers now.

    `fork` copies only the calling thread. A lock held by another Python thread (a progress
    display), an OpenMP (libgomp) pool or an initialised CUDA context would be broken in the
    child, so: Linux, no Python thread but this one, CUDA not initialised, and no native
    thread beyond OpenBLAS's pthread pools, which shut down around a fork and restart in the
    child (numpy and scipy each start one at import). torch's OpenMP pool starts with the
    first parallel operation; a search forks before it trains anything.
    """
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return False
    try:
        native = len(os.listdir("/proc/self/task"))
    except OSError:
        return False
    return native <= 1 + _openblas_pool_threads()


def _openblas_pool_threads() -> int:
    """Threads of the loaded OpenBLAS libraries that use pthreads (each runs n - 1)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return 0
    return sum(max(0, int(info.get("num_threads", 1)) - 1) for info in threadpool_info()
               if info.get("internal_api") == "openblas"
               and info.get("threading_layer") == "pthreads")


def start_method(choice: str) -> str:
    """`search.start_method` resolved: auto -> fork where `fork_is_safe()`, else spawn."""
    if choice == "auto":
        return "fork" if fork_is_safe() else "spawn"
    return choice


def _worker_main(prep: Prepared | Sequence[str], worker: int, threads: int,
                 parent: int) -> None:
    """A child worker: forked children get the parent's `Prepared`, spawned ones its
    overrides (and prepare them again)."""
    import torch

    grace = prep.settings.heartbeat_grace if isinstance(prep, Prepared) else 60.0
    # a signal reaching this worker alone goes to the parent, which passes it to the others
    with handling(peers=lambda: [parent] if parent_alive(parent) else []):
        watch_parent(parent, grace)  # a worker never outlives the search's process
        torch.set_num_threads(threads)
        quiet()
        try:
            if not isinstance(prep, Prepared):
                prep = prepare(prep)
            _share_device(prep)
            run_loop(prep, prep.study(worker), worker)
        except Exception as exc:  # a database outage, a full disk: one line, no traceback
            line = failure_line(exc, f"archforge search worker {worker}")
            if line is None:
                raise
            print(line, file=sys.stderr, flush=True)
            sys.exit(1)
    sys.exit(stop.exit_code if stop.requested else 0)


def start_workers(prep: Prepared, args: Sequence[str], n: int, threads: int,
                  method: str) -> list[mp.process.BaseProcess]:
    """Start workers 1..n-1 (the caller is worker 0) by `method`, "fork" or "spawn" (see
    `start_method`); they pass signals to this process."""
    ctx = mp.get_context("fork") if method == "fork" else mp.get_context("spawn")
    payload: Prepared | list[str] = prep if method == "fork" else list(args)
    env_threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by a spawned child's torch at import
    try:
        procs: list[mp.process.BaseProcess] = [
            ctx.Process(target=_worker_main, args=(payload, i, threads, os.getpid()),
                        name=f"archforge-search-{i}") for i in range(1, n)]
        for p in procs:
            p.start()
    finally:
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads
    return procs


class Workers:
    """This process as worker 0 plus `n_workers - 1` children, started on entering.

    Enter it before anything starts a thread (a progress display), so that the children
    can be forked: `with Workers(prep, args) as workers, Progress(...): workers.run(...)`.
    Leaving it ends children still running.
    """

    def __init__(self, prep: Prepared, args: Sequence[str]) -> None:
        s = prep.settings
        self.prep = prep
        self.args = list(args)
        self.threads = threads_per_worker(s.n_workers, s.threads)
        self.method = start_method(s.start_method) if s.n_workers > 1 else "none"
        self.procs: list[mp.process.BaseProcess] = []

    def __enter__(self) -> Workers:
        s = self.prep.settings
        if s.n_workers > 1:
            self.procs = start_workers(self.prep, self.args, s.n_workers, self.threads,
                                       self.method)
        import torch

        # This process is worker 0: it gets the same share of the cores as each child, or
        # the N workers would run N - 1 + cores threads and stall each other (2 workers on
        # 2 cores ran 0.8x one worker before this).
        torch.set_num_threads(self.threads)
        _share_device(self.prep)  # after the fork: CUDA is never initialised before it
        procs = self.procs
        stop.peers = lambda: [p.pid for p in procs if p.pid is not None and p.exitcode is None]
        return self

    def __exit__(self, *exc: object) -> None:
        _end(self.procs)

    def run(self, study: optuna.Study, on_trial: Progress | None = None,
            train_fn: Callable[..., Any] | None = None) -> list[str]:
        """Run the loop here as worker 0 until the study is done, then wait for the
        children; return what went wrong with them (empty when every one ended normally)."""
        poller = Poller(study, on_trial) if self.procs and on_trial is not None else None
        began = datetime.datetime.now()
        try:
            run_loop(self.prep, study, 0, on_trial, train_fn)
            _wait(self.procs, self.prep.settings.heartbeat_grace, study, on_trial)
        finally:
            if poller is not None:
                poller.close()
            _end(self.procs)
        failures = _failures(self.procs)
        if failures:
            _reap_unmarked(study, began, failures[0])
        return failures


def _share_device(prep: Prepared) -> None:
    """This worker's share of the GPU's memory when the trials train on CUDA
    (device_share.py); CPU threads are shared by `threads_per_worker`."""
    accelerator = str(OmegaConf.select(prep.cfg, "trainer.accelerator", default="cpu"))
    share_device_memory(prep.settings.n_workers, accelerator)


class Poller:
    """Calls `on_trial(study)` every second from a thread: progress of the other workers
    while this one trains."""

    def __init__(self, study: optuna.Study, on_trial: Progress, every: float = 1.0) -> None:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(study, on_trial, every),
                                        daemon=True, name="af-progress")
        self._thread.start()

    def _run(self, study: optuna.Study, on_trial: Progress, every: float) -> None:
        while not self._done.wait(every):
            with contextlib.suppress(Exception):  # a display hiccup never stops a search
                on_trial(study)

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def _wait(procs: list[mp.process.BaseProcess], grace: float, study: optuna.Study,
          on_trial: Progress | None) -> None:
    """Wait for the children; once a stop was requested, at most `grace` seconds."""
    deadline: float | None = None
    while any(p.is_alive() for p in procs):
        if stop.requested and deadline is None:
            deadline = time.monotonic() + grace
            for pid in stop.peers():  # again: the signal may have come before they started
                with contextlib.suppress(OSError):
                    os.kill(pid, stop.signum or signal.SIGTERM)
        if deadline is not None and time.monotonic() > deadline:
            return
        for p in procs:
            p.join(timeout=0.2)
    if on_trial is not None:
        on_trial(study)


def _end(procs: list[mp.process.BaseProcess]) -> None:
    """Stop children still running (their trials become orphans, re-queued on resume)."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)


def _reap_unmarked(study: optuna.Study, began: datetime.datetime, why: str) -> None:
    """A worker killed between asking for a trial and marking it with its pid (`_ask`)
    leaves a RUNNING trial no pid check can claim. Once this search's workers are gone, a
    trial of this search still unmarked a moment later (a live worker anywhere marks its
    trial within milliseconds of asking) is that one: FAIL, re-queued like any lost one."""
    def unmarked() -> list[FrozenTrial]:
        return [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if "worker_pid" not in t.user_attrs
                and t.datetime_start is not None and t.datetime_start >= began]

    if not unmarked():
        return
    time.sleep(1.0)
    for t in unmarked():
        with contextlib.suppress(RuntimeError, ValueError,
                                 optuna.exceptions.UpdateFinishedTrialError):
            set_attr_of(study, t, "reason", f"worker lost before it marked this trial ({why})")
            set_attr_of(study, t, "retry", True)
            study.tell(t.number, state=TrialState.FAIL)


def _failures(procs: list[mp.process.BaseProcess]) -> list[str]:
    expected = {0, stop.exit_code} if stop.requested else {0}
    return [f"worker {i} (pid {p.pid}) exited with status {p.exitcode}"
            for i, p in enumerate(procs, start=1) if p.exitcode not in expected]
