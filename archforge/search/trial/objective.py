"""One trial: sample -> compose -> meta-device checks -> train with the pruning callback.

Every path ends in an `Outcome` (never an exception, except a stop signal), so one bad
candidate never stops the study, nor a resume:

- an invalid candidate - its own values rejected (`ConfigError`, a plugin's `OptionError`,
  an `OverflowError` such as a width of 1e308), an invalid combination (an identity
  shortcut where the shape changes) or a violated constraint: PRUNED, user attrs
  `infeasible` and `reason`;
- any other exception while sampling, composing, building or checking (a plugin's bug):
  FAIL with `reason` and `traceback`, `stage: build`;
- pruned by the pruner, or a non-finite loss/metric: PRUNED with `reason`;
- an exception in training, out of memory included: FAIL with `reason` and `traceback`;
- `SystemExit` from candidate code is a failure too;
- once a stop signal came, any error of the step is the signal's (Lightning turns Ctrl-C
  into `sys.exit(1)`; a signal landing inside Hydra or OmegaConf can surface as another
  error): `Interrupted` propagates and the worker loop records the trial FAIL + `retry`,
  so a good candidate is never recorded as invalid.

Each trial stores `overrides`, the resolved `model_config`, `params`, `macs`, `epochs`.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from omegaconf import DictConfig
from optuna.trial import TrialState

from archforge.config.run import Run, parse_run
from archforge.config.search_settings import COST_METRICS, SearchSettings
from archforge.errors import ConfigError, OptionError
from archforge.search.runtime.signals import Interrupted, stop
from archforge.search.space.search_space import SearchSpace, trial_config
from archforge.search.trial.callback import TrialCallback
from archforge.search.trial.constraints import (
    costs,
    latency_violation,
    measure_latency_ms,
    violation,
)
from archforge.search.trial.mo_pruning import CurveMedianRule


@dataclass
class Outcome:
    state: TrialState
    values: list[float] | None = None
    reason: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """A candidate that passed every check before training: its run is parsed, its model
    traced on the meta device, once; training receives the same `Run`."""

    run: Run
    model: dict[str, Any]
    costs: dict[str, float]


# Exceptions raised by a candidate's own values: the candidate is invalid, not broken code.
INVALID = (ConfigError, OptionError, OverflowError)


@dataclass
class Context:
    settings: SearchSettings
    space: SearchSpace
    base_overrides: list[str]
    multi_rule: CurveMedianRule | None = None


def run_training(cfg: Run, **kwargs: Any) -> Any:
    """`archforge.training.fit.train`, imported late (tests replace this function)."""
    from archforge.training.fit import train

    return train(cfg, **kwargs)


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _ddp_for_search(cfg: DictConfig) -> str | None:
    """Lightning's `ddp` re-runs the command line in child ranks, which would start another
    search in each; inside a search trials use `ddp_spawn`, whose ranks run only `fit`."""
    trainer = cfg.get("trainer") or {}
    if str(trainer.get("strategy", "")) == "ddp":
        cfg.trainer.strategy = "ddp_spawn"
        return "ddp_spawn"
    return None


def objective(ctx: Context, trial: optuna.Trial,
              train_fn: Callable[..., Any] | None = None) -> Outcome:
    """check -> train -> score; each step's exception becomes this trial's Outcome."""
    started = time.perf_counter()
    checked = _guard(lambda: check(ctx, trial), "build")
    if isinstance(checked, Outcome):
        checked.attrs.setdefault("check_s", time.perf_counter() - started)
        return checked
    trained = _guard(lambda: train(ctx, trial, checked, train_fn or run_training), "train")
    if isinstance(trained, Outcome):
        return trained
    return _guard(lambda: score(ctx, trial, checked.costs, *trained), "score")


def _guard(step: Callable[[], Any], stage: str) -> Any:
    """Run one step; an exception becomes the trial's Outcome (a signal propagates)."""
    try:
        with stop.interruptible():
            return step()
    except KeyboardInterrupt:
        raise
    except (SystemExit, Exception) as exc:
        # Once a stop signal came, no verdict on the candidate: the error is the signal's
        # doing - Lightning's sys.exit(1) after our Interrupted, or library code (Hydra,
        # OmegaConf) left half-done by it and failing in a `finally`, which would otherwise
        # record a good candidate as invalid.
        if stop.requested:
            raise Interrupted(stop.signum or 2) from exc
        if isinstance(exc, SystemExit):
            return failed(exc, stage, f"exited (SystemExit {exc.code})")
        if isinstance(exc, INVALID) and stage == "build":  # the candidate's own values
            return Outcome(TrialState.PRUNED, reason=f"invalid candidate: {_first_line(exc)}",
                           attrs={"infeasible": True})
        return failed(exc, stage)


def failed(exc: BaseException, stage: str, reason: str | None = None) -> Outcome:
    kind = "out of memory" if _is_oom(exc) else type(exc).__name__
    text = _first_line(exc)
    reason = reason or (f"{kind}: {text}" if text else kind)
    return Outcome(TrialState.FAIL, reason=reason if stage == "train" else f"{stage}: {reason}",
                   attrs={"traceback": traceback.format_exc()[-4000:], "stage": stage})


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else ""


def check(ctx: Context, trial: optuna.Trial) -> Candidate | Outcome:
    """Sample, compose, parse the run (the model traced on the meta device) and apply the
    constraints."""
    _, overrides = ctx.space.sample(trial)
    trial.set_user_attr("overrides", overrides)
    cfg = trial_config(ctx.base_overrides, overrides)
    strategy = _ddp_for_search(cfg)  # before parsing: from here on the run is typed
    if strategy:
        trial.set_user_attr("strategy", strategy)
    run = parse_run(cfg)
    model, report = run.model_mapping, run.summary
    trial.set_user_attr("model_config", model)
    trial.set_user_attr("params", report.total_params)
    trial.set_user_attr("macs", report.total_macs)
    constraints = ctx.settings.constraints
    reason = violation(report, constraints)
    latency = None
    if reason is None and (constraints.max_latency_ms is not None
                           or any(o.metric == "latency_ms" for o in ctx.settings.objectives)):
        latency = measure_latency_ms(run.model, constraints.latency_batch)
        trial.set_user_attr("latency_ms", latency)
        reason = latency_violation(latency, constraints)
    if reason is not None:
        return Outcome(TrialState.PRUNED, reason=reason, attrs={"infeasible": True})
    return Candidate(run, model, costs(report, latency))


def train(ctx: Context, trial: optuna.Trial, candidate: Candidate,
          train_fn: Callable[..., Any]) -> tuple[Any, TrialCallback]:
    """Train with the pruning callback; the training result and the callback."""
    settings = ctx.settings
    monitor = next(o for o in settings.objectives if o.metric not in COST_METRICS)
    callback = TrialCallback(trial, settings.storage_url, monitor=monitor.metric,
                             multi_rule=ctx.multi_rule,
                             multi_objective=settings.multi_objective)
    run_dir = settings.study_dir / "trials" / f"{trial.number:05d}"
    result = train_fn(candidate.run, callbacks=[callback], run_dir=Path(run_dir),
                      progress=False, checkpoints=settings.checkpoints,
                      # the meta check already traced the model: no sanity-check validation
                      sanity_check=False)
    return result, callback


def score(ctx: Context, trial: optuna.Trial, costs: dict[str, float], result: Any,
          callback: TrialCallback | None = None) -> Outcome:
    """The objective values (`result.metrics`, and the candidate's `costs`), or PRUNED with
    the reason the callback gave.

    The callback's decision is also read back from the storage: under `ddp_spawn` it ran in
    another process, whose callback object never comes back; in a job the sweeper launched
    (sweeper.py) there is no callback here at all.
    """
    stored = stored_attrs(trial)
    stop_reason = (callback and callback.stop_reason) or stored.get("stop_reason")
    epochs = callback.epochs if callback is not None else 0
    trial.set_user_attr("epochs", max(epochs, int(stored.get("epochs", 0))))
    trial.set_user_attr("run_dir", str(result.run_dir))
    if stop_reason is not None:
        return Outcome(TrialState.PRUNED, reason=stop_reason)
    values = []
    for o in ctx.settings.objectives:
        v = (costs[o.metric] if o.metric in COST_METRICS
             else result.metrics.get(o.metric))
        if v is None or not math.isfinite(float(v)):
            return Outcome(TrialState.PRUNED, reason=f"{o.metric} is {v!r} after training")
        values.append(float(v))
    trial.set_user_attr("metrics", {k: float(v) for k, v in result.metrics.items()})
    return Outcome(TrialState.COMPLETE, values=values)


def stored_attrs(trial: optuna.Trial) -> dict[str, Any]:
    """The trial's user attrs as stored (written by this process or a spawned rank)."""
    for t in trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.number == trial.number:
            return dict(t.user_attrs)
    return dict(trial.user_attrs)
