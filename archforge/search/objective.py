"""One trial: sample -> compose -> meta-device checks -> train with the pruning callback.

Every path ends in an `Outcome` (never an exception, except Ctrl-C), so one bad candidate
never stops the study:

- an invalid combination (the builder's `ConfigError`, e.g. an identity shortcut where the
  shape changes) or a violated constraint: PRUNED, user attrs `infeasible` and `reason`;
- pruned by the pruner, or a non-finite loss/metric: PRUNED with `reason`;
- an exception in training, out of memory included: FAIL with `reason` (and `traceback`).

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

from archforge.api import summary as meta_summary
from archforge.config.compose import compose, to_plain
from archforge.errors import ConfigError
from archforge.search.callback import TrialCallback
from archforge.search.constraints import costs, latency_violation, measure_latency_ms, violation
from archforge.search.mo_pruning import CurveMedianRule
from archforge.search.settings import COST_METRICS, SearchSettings
from archforge.search.space import SearchSpace


@dataclass
class Outcome:
    state: TrialState
    values: list[float] | None = None
    reason: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    settings: SearchSettings
    space: SearchSpace
    base_overrides: list[str]
    multi_rule: CurveMedianRule | None = None


def run_training(cfg: DictConfig, **kwargs: Any) -> Any:
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
    settings = ctx.settings
    t0 = time.perf_counter()
    _, overrides = ctx.space.sample(trial)
    trial.set_user_attr("overrides", overrides)
    try:
        cfg = compose([*ctx.base_overrides, *overrides], "config")
        model = to_plain(cfg.model, "model")
        report = meta_summary(model)
    except ConfigError as exc:
        return Outcome(TrialState.PRUNED, reason=f"invalid candidate: {exc}",
                       attrs={"infeasible": True, "check_s": time.perf_counter() - t0})
    trial.set_user_attr("model_config", model)
    trial.set_user_attr("params", report.total_params)
    trial.set_user_attr("macs", report.total_macs)
    reason = violation(report, settings.constraints)
    latency = None
    if reason is None and (settings.constraints.max_latency_ms is not None
                           or any(o.metric == "latency_ms" for o in settings.objectives)):
        from archforge.api import resolve

        latency = measure_latency_ms(resolve(model), settings.constraints.latency_batch)
        trial.set_user_attr("latency_ms", latency)
        reason = latency_violation(latency, settings.constraints)
    if reason is not None:
        return Outcome(TrialState.PRUNED, reason=reason,
                       attrs={"infeasible": True, "check_s": time.perf_counter() - t0})
    cost = costs(report, latency)

    strategy = _ddp_for_search(cfg)
    if strategy:
        trial.set_user_attr("strategy", strategy)
    monitor = next(o for o in settings.objectives if o.metric not in COST_METRICS)
    callback = TrialCallback(
        trial,
        settings.storage_url,
        monitor=monitor.metric,
        multi_rule=ctx.multi_rule,
        multi_objective=settings.multi_objective,
    )
    run_dir = settings.study_dir / "trials" / f"{trial.number:05d}"
    try:
        result = (train_fn or run_training)(
            cfg, callbacks=[callback], run_dir=Path(run_dir), progress=False,
            checkpoints=settings.checkpoints,
        )
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        if callback.interrupted:  # Lightning's graceful shutdown on Ctrl-C
            raise KeyboardInterrupt from exc
        return Outcome(TrialState.FAIL, reason=f"training exited (SystemExit {exc.code})")
    except Exception as exc:
        kind = "out of memory" if _is_oom(exc) else type(exc).__name__
        return Outcome(TrialState.FAIL, reason=f"{kind}: {str(exc).splitlines()[0][:300]}"
                       if str(exc) else kind,
                       attrs={"traceback": traceback.format_exc()[-4000:]})
    stored = trial.study._storage.get_trial(trial._trial_id).user_attrs
    stop = callback.stop_reason or stored.get("stop_reason")
    epochs = max(callback.epochs, int(stored.get("epochs", 0)))
    trial.set_user_attr("epochs", epochs)
    trial.set_user_attr("run_dir", str(result.run_dir))
    if stop is not None:
        return Outcome(TrialState.PRUNED, reason=stop)
    values = []
    for o in settings.objectives:
        v = cost[o.metric] if o.metric in COST_METRICS else result.metrics.get(o.metric)
        if v is None or not math.isfinite(float(v)):
            return Outcome(TrialState.PRUNED, reason=f"{o.metric} is {v!r} after training")
        values.append(float(v))
    trial.set_user_attr("metrics", {k: float(v) for k, v in result.metrics.items()})
    return Outcome(TrialState.COMPLETE, values=values)
