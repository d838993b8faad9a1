"""The `search` config group as typed settings, validated once with errors naming the key.

Everything a search needs beyond the model/data/trainer config lives under `search.`:
where the study is stored, how many trials to reach, the objectives, sampler, pruner,
constraints and the space itself (compiled separately by `space.py`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from archforge.config.compose import to_plain
from archforge.errors import ConfigError, describe_choices

# Objectives besides the validation metrics reported by training. Cost objectives are known
# before any training (from the meta-device summary), which is why multi-objective pruning
# can look at the accuracy curve alone.
COST_METRICS = ("params", "macs", "latency_ms")
TRAIN_METRICS = ("val/acc", "val/loss", "val/acc_top5")
DIRECTIONS = ("maximize", "minimize")

KNOWN_KEYS = {
    "study_name", "storage", "root", "n_trials", "n_workers", "timeout", "seed", "objectives",
    "sampler", "pruner", "constraints", "space", "overrides", "heartbeat_interval",
    "heartbeat_grace", "checkpoints", "progress", "threads", "export", "max_retries",
    "allowed_targets",
}


@dataclass(frozen=True)
class Objective:
    metric: str
    direction: str


@dataclass(frozen=True)
class Constraints:
    max_params: int | None = None
    max_macs: int | None = None
    max_latency_ms: float | None = None
    latency_batch: int = 1

    def active(self) -> bool:
        return any(v is not None for v in (self.max_params, self.max_macs, self.max_latency_ms))


@dataclass
class SearchSettings:
    study_name: str
    storage: str | None  # None: the journal file under <root>/<study_name>/
    root: Path
    n_trials: int
    n_workers: int = 1
    timeout: float | None = None
    seed: int | None = 0
    objectives: list[Objective] = field(default_factory=list)
    sampler: Any = "tpe"
    pruner: Any = "median"
    constraints: Constraints = field(default_factory=Constraints)
    space: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    heartbeat_interval: float = 10.0
    heartbeat_grace: float = 60.0
    checkpoints: bool = False
    progress: bool = True
    threads: int | None = None  # torch threads per worker; None: cores // n_workers
    export: str = "best"  # best | pareto | none
    max_retries: int = 1  # re-runs of a trial whose worker died or was interrupted
    allowed_targets: list[str] = field(default_factory=list)  # `_target_` modules (target.py)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def study_dir(self) -> Path:
        return self.root / self.study_name

    @property
    def storage_url(self) -> str:
        return self.storage or str(self.study_dir / "journal.log")

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.objectives]


def _num(value: Any, path: str, kind: type, minimum: float | None = None) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok or (minimum is not None and value < minimum):
        what = "an integer" if kind is int else "a number"
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(path, f"got {value!r}; expected {what}{bound}")
    return kind(value)


def parse_settings(cfg: DictConfig) -> SearchSettings:
    """`cfg.search` (the composed training config's search group) as SearchSettings."""
    node = cfg.get("search") if isinstance(cfg, DictConfig) else None
    if node is None:
        raise ConfigError("search", "no search config; pass search=<name> (conf/search/) or "
                          "search=<path.yaml>")
    raw = to_plain(node, "search")
    for key in raw:
        if key not in KNOWN_KEYS:
            raise ConfigError(f"search.{key!s}",
                              f"unknown key; {describe_choices(str(key), KNOWN_KEYS)}")
    name = raw.get("study_name") or "archforge"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError("search.study_name", f"got {name!r}; expected letters, digits, _ . -")
    storage = raw.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise ConfigError("search.storage", f"got {storage!r}; expected a URL, a file or null")
    n_trials = _num(raw.get("n_trials", 20), "search.n_trials", int, 1)
    n_workers = _num(raw.get("n_workers", 1), "search.n_workers", int, 1)
    timeout = raw.get("timeout")
    if timeout is not None:
        timeout = _num(timeout, "search.timeout", float, 0)
    seed = raw.get("seed", 0)
    if seed is not None:
        seed = _num(seed, "search.seed", int)
    objectives = _objectives(raw.get("objectives", [{"metric": "val/acc"}]))
    constraints = _constraints(raw.get("constraints") or {})
    space = raw.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError("search.space", f"got {space!r}; expected a non-empty mapping of "
                          "config paths to parameter specs")
    overrides = raw.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError("search.overrides", f"got {overrides!r}; expected a list of strings")
    export = raw.get("export", "best")
    if export not in ("best", "pareto", "none"):
        raise ConfigError("search.export", f"got {export!r}; expected best, pareto or none")
    threads = raw.get("threads")
    if threads is not None:
        threads = _num(threads, "search.threads", int, 1)
    allowed = raw.get("allowed_targets") or []
    if not isinstance(allowed, list) or not all(isinstance(a, str) and a for a in allowed):
        raise ConfigError("search.allowed_targets", f"got {allowed!r}; expected a list of "
                          "module prefixes, e.g. [mypkg.samplers]")
    root = raw.get("root") or "runs/search"
    return SearchSettings(
        study_name=name,
        storage=storage,
        root=Path(str(root)).expanduser(),
        n_trials=n_trials,
        n_workers=n_workers,
        timeout=timeout,
        seed=seed,
        objectives=objectives,
        sampler=raw.get("sampler", "tpe"),
        pruner=raw.get("pruner", "median"),
        constraints=constraints,
        space=space,
        overrides=list(overrides),
        heartbeat_interval=_num(raw.get("heartbeat_interval", 10), "search.heartbeat_interval",
                                float, 0.1),
        heartbeat_grace=_num(raw.get("heartbeat_grace", 60), "search.heartbeat_grace", float, 0.5),
        checkpoints=bool(raw.get("checkpoints", False)),
        progress=bool(raw.get("progress", True)),
        threads=threads,
        export=export,
        max_retries=_num(raw.get("max_retries", 1), "search.max_retries", int, 0),
        allowed_targets=list(allowed),
    )


def _objectives(items: Any) -> list[Objective]:
    if isinstance(items, (str, dict)):
        items = [items]
    if not isinstance(items, list) or not items:
        raise ConfigError("search.objectives", f"got {items!r}; expected a list of "
                          "{metric: ..., direction: ...}")
    known = (*TRAIN_METRICS, *COST_METRICS)
    out: list[Objective] = []
    for i, item in enumerate(items):
        path = f"search.objectives[{i}]"
        if isinstance(item, str):
            item = {"metric": item}
        if not isinstance(item, dict):
            raise ConfigError(path, f"got {item!r}; expected {{metric: ..., direction: ...}}")
        metric = item.get("metric")
        if metric not in known:
            raise ConfigError(f"{path}.metric", f"unknown metric {metric!r}; "
                              f"{describe_choices(str(metric), known)}")
        default = "minimize" if metric in COST_METRICS or metric == "val/loss" else "maximize"
        direction = item.get("direction", default)
        if direction not in DIRECTIONS:
            raise ConfigError(f"{path}.direction", f"got {direction!r}; expected maximize or "
                              "minimize")
        extra = set(item) - {"metric", "direction"}
        if extra:
            raise ConfigError(f"{path}.{sorted(extra)[0]}", "unknown key; known: direction, "
                              "metric")
        out.append(Objective(metric, direction))
    if not any(o.metric in TRAIN_METRICS for o in out):
        raise ConfigError("search.objectives", "at least one objective must be a trained metric "
                          f"({', '.join(TRAIN_METRICS)})")
    if len({o.metric for o in out}) != len(out):
        raise ConfigError("search.objectives", "a metric is listed twice")
    return out


def _constraints(raw: Any) -> Constraints:
    if not isinstance(raw, dict):
        raise ConfigError("search.constraints", f"got {raw!r}; expected a mapping")
    known = ("max_params", "max_macs", "max_latency_ms", "latency_batch")
    for key in raw:
        if key not in known:
            raise ConfigError(f"search.constraints.{key}",
                              f"unknown constraint; {describe_choices(key, known)}")
    vals: dict[str, Any] = {}
    for key, kind in (("max_params", int), ("max_macs", int), ("max_latency_ms", float)):
        if raw.get(key) is not None:
            vals[key] = _num(raw[key], f"search.constraints.{key}", kind, 0)
    if raw.get("latency_batch") is not None:
        vals["latency_batch"] = _num(raw["latency_batch"], "search.constraints.latency_batch",
                                     int, 1)
    return Constraints(**vals)


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
