"""The `search` config group as typed settings, validated once with errors naming the key.

Everything a search needs beyond the model/data/trainer config lives under `search.`:
where the study is stored, how many trials to reach, the objectives, sampler, pruner,
constraints and the space itself (compiled separately by `space.py`).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from archforge.config.strategy_options import (
    PRUNER_OPTIONS,
    SAMPLER_OPTIONS,
    check_strategy_options,
)
from archforge.config.supernet_settings import SupernetSettings
from archforge.errors import ConfigError, describe_choices
from archforge.plain import to_plain
from archforge.typed import from_mapping, require

# Objectives besides the validation metrics reported by training. Cost objectives are known
# before any training (from the meta-device summary), which is why multi-objective pruning
# can look at the accuracy curve alone.
COST_METRICS = ("params", "macs", "latency_ms")
TRAIN_METRICS = ("val/acc", "val/loss", "val/acc_top5")
DIRECTIONS = ("maximize", "minimize")
START_METHODS = ("auto", "fork", "spawn")
WINNER_RULES = ("best_run", "mean")
DEFAULT_PRUNER = {"name": "hyperband", "min_resource": 1, "reduction_factor": 3,
                  "bootstrap_count": 1}
MAX_THREADS = 1024  # torch threads per worker: more than any machine has cores



@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str | None = None  # None: minimize costs and val/loss, maximize the rest

    def check(self, path: str) -> None:
        known = (*TRAIN_METRICS, *COST_METRICS)
        require(self.metric in known, f"{path}.metric", self.metric,
                f"a metric; {describe_choices(self.metric, known)}")
        if self.direction is not None:
            require(self.direction in DIRECTIONS, f"{path}.direction", self.direction,
                    "maximize or minimize")
        else:  # frozen: set the resolved default through object.__setattr__
            default = ("minimize" if self.metric in COST_METRICS or self.metric == "val/loss"
                       else "maximize")
            object.__setattr__(self, "direction", default)


@dataclass(frozen=True)
class Constraints:
    max_params: int | None = None
    max_macs: int | None = None
    max_latency_ms: float | None = None
    latency_batch: int = 1

    def check(self, path: str) -> None:
        for key in ("max_params", "max_macs", "max_latency_ms"):
            value = getattr(self, key)
            require(value is None or value >= 0, f"{path}.{key}", value, "a number >= 0 or null")
        require(self.latency_batch >= 1, f"{path}.latency_batch", self.latency_batch,
                "an integer >= 1")

    def active(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_macs, self.max_latency_ms))


@dataclass(frozen=True)
class Prescreen:
    """Warm-start a new study with the `top` of `samples` random candidates by a zero-cost
    proxy (strategy/prescreen.py); `samples: 0` is off."""

    samples: int = 0
    top: int = 10
    proxy: str = "synflow"
    batch: int = 64  # images for a data-dependent proxy

    def check(self, path: str) -> None:
        require(self.samples >= 0, f"{path}.samples", self.samples, "an integer >= 0 (0: off)")
        require(self.top >= 1 and (self.samples == 0 or self.top <= self.samples),
                f"{path}.top", self.top, "an integer from 1 to search.prescreen.samples")
        require(self.batch >= 1, f"{path}.batch", self.batch, "an integer >= 1")


@dataclass
class SearchSettings:
    """The `search` section (conf/search/*.yaml), typed; defaults live here."""

    space: dict[str, Any]
    study_name: str = "archforge"
    storage: str | None = None  # None: the journal file under <root>/<study_name>/
    root: str = "runs/search"
    n_trials: int = 20  # trials to train; infeasible candidates do not count (study.py)
    # The search stops after this many infeasible candidates in a row (none trained
    # between): a space or constraints that leave (almost) nothing feasible ends, not loops.
    max_infeasible: int = 50
    n_workers: int = 1
    timeout: float | None = None
    seed: int | None = 0
    objectives: list[Objective] = field(
        default_factory=lambda: [Objective("val/acc", "maximize")])
    sampler: Any = "tpe"
    evaluator: Any = "training"  # how a candidate is scored: training | table | supernet
    prescreen: Prescreen = field(default_factory=Prescreen)
    # the weight-sharing supernet of `evaluator: supernet` (config/supernet_settings.py)
    supernet: SupernetSettings = field(default_factory=SupernetSettings)
    # Hyperband (Li et al. 2018), a rung's first arrival stopped (bootstrap_count 1): on a
    # fixed Fashion-MNIST subset it kept the unpruned search's winner with the fewest epochs,
    # where median stopping pruned it (bench/bench_pruners.py, bench/RESULTS.md).
    pruner: Any = field(default_factory=lambda: dict(DEFAULT_PRUNER))
    # The pruner prunes nothing until this many trials completed (first_winner.py): a short
    # search always ends with a winner. 0 lets the pruner judge from the first trial on.
    min_completed: int = 1
    constraints: Constraints = field(default_factory=Constraints)
    overrides: list[str] = field(default_factory=list)
    heartbeat_interval: float = 10.0
    heartbeat_grace: float = 60.0
    checkpoints: bool = False
    progress: bool = True
    threads: int | None = None  # torch threads per worker; None: cores // n_workers
    start_method: str = "auto"  # how worker children start: auto | fork | spawn (workers.py)
    export: str = "best"  # best | pareto | none
    # The single-objective winner: the candidate with the best mean over its runs (a
    # repeated candidate trains with the next seed; search/repeats.py), or the best single
    # run (Optuna's best trial). They differ only where a candidate ran more than once; on
    # NAS-Bench-201 the mean chose better on CIFAR-100 and ImageNet16-120 (e.g. TPE, 300
    # evaluations: regret 0.21 -> 0.00 and 0.35 -> 0.11) and slightly worse on CIFAR-10
    # (bench/bench_search_quality.py; bench/RESULTS.md).
    winner: str = "mean"  # mean | best_run
    max_retries: int = 1  # re-runs of a trial whose worker died or was interrupted
    allowed_targets: list[str] = field(default_factory=list)  # `_target_` modules (target.py)

    def check(self, path: str = "search") -> None:
        # a folder name under search.root: `.` and `..` would put the study beside it
        require(bool(re.fullmatch(r"[A-Za-z0-9_.-]+", self.study_name))
                and self.study_name not in (".", ".."), f"{path}.study_name", self.study_name,
                "a plain name: letters, digits, _ . - (no path separator, not . or ..)")
        require(bool(self.space), f"{path}.space", self.space,
                "a non-empty mapping of config paths to parameter specs")
        for key, low in (("n_trials", 1), ("n_workers", 1), ("max_retries", 0),
                         ("min_completed", 0), ("max_infeasible", 1)):
            require(getattr(self, key) >= low, f"{path}.{key}", getattr(self, key),
                    f"an integer >= {low}")
        require(self.threads is None or 1 <= self.threads <= MAX_THREADS, f"{path}.threads",
                self.threads, f"an integer in [1, {MAX_THREADS}] or null")
        # the sampler's seed adds 100003 per worker and the trials stored: stay below 2**32
        require(self.seed is None or 0 <= self.seed < 2**31, f"{path}.seed", self.seed,
                "an integer in [0, 2**31) or null")
        require(self.timeout is None or self.timeout > 0, f"{path}.timeout", self.timeout,
                "seconds > 0 or null")
        require(self.heartbeat_interval >= 0.1, f"{path}.heartbeat_interval",
                self.heartbeat_interval, "seconds >= 0.1")
        require(self.heartbeat_grace >= 0.5, f"{path}.heartbeat_grace", self.heartbeat_grace,
                "seconds >= 0.5")
        require(self.start_method in START_METHODS, f"{path}.start_method", self.start_method,
                describe_choices(self.start_method, START_METHODS))
        if self.start_method == "fork":
            require("fork" in multiprocessing.get_all_start_methods(), f"{path}.start_method",
                    self.start_method, "auto or spawn (this platform cannot fork)")
        require(self.export in ("best", "pareto", "none"), f"{path}.export", self.export,
                "best, pareto or none")
        require(self.winner in WINNER_RULES, f"{path}.winner", self.winner,
                describe_choices(self.winner, WINNER_RULES))
        check_strategy_options(self.sampler, f"{path}.sampler", SAMPLER_OPTIONS)
        check_strategy_options(self.pruner, f"{path}.pruner", PRUNER_OPTIONS)
        for i, target in enumerate(self.allowed_targets):
            require(bool(re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", target)),
                    f"{path}.allowed_targets[{i}]", target, "a module path such as mypkg.samplers")
        metrics = [o.metric for o in self.objectives]
        require(bool(metrics), f"{path}.objectives", metrics, "at least one objective")
        require(any(m in TRAIN_METRICS for m in metrics), f"{path}.objectives", metrics,
                f"at least one trained metric ({', '.join(TRAIN_METRICS)})")
        require(len(set(metrics)) == len(metrics), f"{path}.objectives", metrics,
                "each metric once")

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def study_dir(self) -> Path:
        return Path(self.root).expanduser() / self.study_name

    @property
    def storage_url(self) -> str:
        return self.storage or str(self.study_dir / "journal.log")

    @property
    def directions(self) -> list[str]:
        return [str(o.direction) for o in self.objectives]


def parse_settings(cfg: DictConfig | Mapping[str, Any]) -> SearchSettings:
    """The composed config's `search` section as SearchSettings (one ConfigError per
    mistake, naming the `search.*` key)."""
    node = cfg.get("search")
    if node is None:
        raise ConfigError("search", "no search config; pass search=<name> (conf/search/) or "
                          "search=<path.yaml>")
    raw = to_plain(node, "search") if isinstance(node, DictConfig) else dict(node)
    objectives = raw.get("objectives")
    if isinstance(objectives, str | dict):  # one objective may be written without a list
        raw["objectives"] = [objectives]
    if isinstance(raw.get("objectives"), list):
        raw["objectives"] = [{"metric": o} if isinstance(o, str) else o
                             for o in raw["objectives"]]
    if raw.get("constraints") is None:
        raw.pop("constraints", None)
    return from_mapping(SearchSettings, raw, "search")


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
