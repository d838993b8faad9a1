"""SIGTERM / SIGINT to the search's process alone stop every worker without losing a trial;
a worker that dies makes the search exit non-zero."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import assert_accounted, cli, load, tiny_args

from archforge.cli.search import search
from archforge.pids import pid_alive
from archforge.search.runtime.signals import Interrupted, Stop
from archforge.search.strategy import training as training_module


def _args(root: Path, *extra: str) -> list[str]:
    # long trials, so that the signal lands while both workers train, however slowly the
    # second worker starts; the signal ends them at once
    return tiny_args(root, "search.n_trials=2", "search.max_retries=2", "search.n_workers=2",
                     "trainer.max_epochs=1000", *extra)


def _fake_train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
    return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir)


def _both_training(root: Path, timeout: float = 150) -> list[optuna.trial.FrozenTrial]:
    deadline = time.monotonic() + timeout
    journal = root / "tiny" / "journal.log"
    while time.monotonic() < deadline:
        if journal.exists():
            running = [t for t in load(root).get_trials() if t.state == TrialState.RUNNING
                       and "heartbeat" in t.user_attrs]
            if {t.user_attrs["worker"] for t in running} == {0, 1}:
                return running
        time.sleep(0.3)
    raise AssertionError("two workers never trained at once")


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_the_parent_alone_stops_every_worker(
        root: Path, sig: int, code: int, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _args(root)
    proc = cli(["search", *args])
    running = _both_training(root)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, out
    study = load(root)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    stopped = {t.number: t for t in study.trials if t.state == TrialState.FAIL}
    assert sorted(stopped) == sorted(t.number for t in running)  # the child's trial too
    for t in stopped.values():
        assert t.user_attrs["reason"] == (f"interrupted ({signal.Signals(sig).name}); "
                                          "re-queued on resume")
        assert t.user_attrs["retry"] is True
    if sig != signal.SIGTERM:
        return
    # the resume re-runs both interrupted trials (here with training faked, to be quick)
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    assert search([*args, "search.n_workers=1"]) == 0
    study = load(root)
    assert_accounted(study, 2)
    retried = {t.user_attrs.get("retry_of"): t.params for t in study.trials}
    assert all(retried[n] == t.params for n, t in stopped.items())


def _workers(pid: int) -> list[int]:
    """Worker processes of `pid`, forked or spawned (not multiprocessing's resource
    tracker)."""
    out = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(int(child))
    except OSError:
        pass
    return out


@pytest.mark.slow
def test_a_dead_worker_makes_the_search_exit_non_zero(root: Path) -> None:
    proc = cli(["search", *tiny_args(root, "search.n_workers=2", "search.n_trials=2")])
    deadline = time.monotonic() + 60
    while not _workers(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    (child,) = _workers(proc.pid)
    os.kill(child, signal.SIGKILL)  # the worker dies (before or during its first trial)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 1, out
    assert f"worker 1 (pid {child}) exited with status -9" in out
    assert_accounted(load(root), 2)  # the search's own worker still finished the study


def test_interruptible_and_shielded_sections() -> None:
    stop = Stop()
    sent: list[tuple[int, int]] = []
    stop.peers = lambda: [12345]
    real_kill = os.kill
    os.kill = lambda pid, sig: sent.append((pid, sig))  # type: ignore[assignment]
    try:
        stop.handle(signal.SIGTERM)  # outside a trial: only remembered and passed on
        stop.handle(signal.SIGINT)  # a second signal changes nothing
    finally:
        os.kill = real_kill
    assert stop.signum == signal.SIGTERM and stop.exit_code == 143
    assert sent == [(12345, signal.SIGTERM)]
    with pytest.raises(Interrupted), stop.interruptible():  # already requested: at once
        pass
    stop.reset()
    ran = []
    with pytest.raises(Interrupted), stop.interruptible():
        with stop.shielded():  # a storage write finishes before the interrupt
            stop.handle(signal.SIGINT)
            ran.append("write done")
        ran.append("never")
    assert ran == ["write done"]


def test_an_error_after_a_stop_signal_is_the_signals_not_the_candidates() -> None:
    """A Ctrl-C landing inside Hydra/OmegaConf can surface as another error (seen: an
    AttributeError from a half-done node, reported as an unreadable YAML file); with a stop
    requested it must re-queue the trial, not record the candidate as invalid."""
    from archforge.errors import ConfigError
    from archforge.search.runtime.signals import stop
    from archforge.search.trial.outcome import guard as _guard

    def bad() -> None:
        raise ConfigError("search", "cannot read YAML file tiny.yaml: 'NoneType' object ...")

    def signalled(error: BaseException) -> Callable[[], None]:
        def step() -> None:  # the handler ran mid-step; library code raised something else
            stop.signum = signal.SIGINT
            raise error
        return step

    assert _guard(bad, "build").state == TrialState.PRUNED  # no signal: infeasible
    try:
        with pytest.raises(Interrupted) as info:
            _guard(signalled(ConfigError("search", "cannot read YAML file")), "build")
        assert info.value.signum == signal.SIGINT
        stop.reset()
        with pytest.raises(Interrupted):  # Lightning's graceful shutdown
            _guard(signalled(SystemExit(1)), "train")
    finally:
        stop.reset()


@pytest.mark.slow
def test_a_worker_ends_when_its_parent_is_killed(root: Path) -> None:
    proc = cli(["search", *_args(root)])
    running = _both_training(root)
    (child,) = _workers(proc.pid)
    proc.kill()  # SIGKILL: the parent cannot pass anything on
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 20  # the heartbeat_grace of tiny.yaml is 30 s
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(child), "the orphaned worker kept running"
    trials = {t.number: t for t in load(root).trials}
    mine = next(t for t in running if t.user_attrs["worker"] == 1)
    assert trials[mine.number].state == TrialState.FAIL  # recorded, re-queued on resume
    assert trials[mine.number].user_attrs["reason"] == ("interrupted (SIGTERM); re-queued "
                                                        "on resume")
    assert len(trials) == 2  # the orphan took no new trial
