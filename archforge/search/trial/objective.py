"""One trial: sample -> compose -> meta-device checks -> the study's evaluator (by default
training with the pruning callback; strategy/evaluator.py).

Every path ends in an `Outcome` (never an exception, except a stop signal), so one bad
candidate never stops the study, nor a resume:

- an invalid candidate - its own values rejected (`ConfigError`, a plugin's `OptionError`,
  an `OverflowError` such as a width of 1e308), an invalid combination (an identity
  shortcut where the shape changes) or a violated constraint: PRUNED, user attrs
  `infeasible` and `reason`;
- any other exception while sampling, composing, building or checking (a plugin's bug):
  FAIL with `reason` and `traceback`, `stage: build`;
- pruned by the pruner, or a non-finite loss/metric: PRUNED with `reason`;
- an exception in training, out of memory included: FAIL with `reason` and `traceback`
  (any evaluator's exception likewise, `stage` naming its step);
- `SystemExit` from candidate code is a failure too;
- a full disk (ENOSPC, EDQUOT) in any step is not the candidate's doing: FAIL with `retry`
  (re-queued on resume), and the worker stops once the trial is stored;
- once a stop signal came, any error of the step is the signal's (Lightning turns Ctrl-C
  into `sys.exit(1)`; a signal landing inside Hydra or OmegaConf can surface as another
  error): `Interrupted` propagates and the worker loop records the trial FAIL + `retry`,
  so a good candidate is never recorded as invalid.

Each trial stores `overrides`, the resolved `model_config`, `params`, `macs`, `epochs`, and
`threads`: the torch threads its worker trains with, which the exported `best_run.yaml`
replays (winners.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import optuna
import torch
from omegaconf import DictConfig
from optuna.trial import TrialState

from archforge.config.run import parse_run
from archforge.config.search_settings import SearchSettings
from archforge.search.repeats import repeat_index
from archforge.search.space.search_space import SearchSpace, trial_config
from archforge.search.strategy.evaluator import Evaluator
from archforge.search.trial.constraints import (
    costs,
    latency_violation,
    measure_latency_ms,
    violation,
)
from archforge.search.trial.outcome import Candidate, Outcome, guard


@dataclass
class Context:
    settings: SearchSettings
    space: SearchSpace
    base_overrides: list[str]
    evaluator: Evaluator


def _ddp_for_search(cfg: DictConfig) -> str | None:
    """Lightning's `ddp` re-runs the command line in child ranks, which would start another
    search in each; inside a search trials use `ddp_spawn`, whose ranks run only `fit`."""
    trainer = cfg.get("trainer") or {}
    if str(trainer.get("strategy", "")) == "ddp":
        cfg.trainer.strategy = "ddp_spawn"
        return "ddp_spawn"
    return None


def objective(ctx: Context, trial: optuna.Trial) -> Outcome:
    """check -> evaluate; each step's exception becomes this trial's Outcome."""
    started = time.perf_counter()
    checked = guard(lambda: check(ctx, trial), "build")
    if isinstance(checked, Outcome):
        checked.attrs.setdefault("check_s", time.perf_counter() - started)
        return checked
    return guard(lambda: ctx.evaluator.evaluate(trial, checked), "evaluate")


def check(ctx: Context, trial: optuna.Trial) -> Candidate | Outcome:
    """Sample, compose, parse the run (the model traced on the meta device) and apply the
    constraints."""
    _, overrides = ctx.space.sample(trial)
    cfg = trial_config(ctx.base_overrides, overrides)
    repeat = repeat_index(trial)
    if repeat and cfg.get("seed") is not None:  # a second measurement, not a copy (repeats.py)
        cfg.seed = int(cfg.seed) + repeat
        overrides = [*overrides, f"seed={cfg.seed}"]
        trial.set_user_attr("repeat", repeat)
    trial.set_user_attr("overrides", overrides)
    trial.set_user_attr("threads", torch.get_num_threads())  # numerics follow it (winners.py)
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
