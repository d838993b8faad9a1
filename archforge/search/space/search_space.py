"""A search space declared in YAML over config paths, validated up front, sampled by run.

```yaml
space:
  model.block: [basic, bottleneck]                      # a list is a categorical
  model.shortcut: {type: categorical, choices: [identity, projection, zero_pad]}
  model.width: {type: float, low: 0.5, high: 2.0, log: true}
  model.stages.*.depth: {type: int, low: 1, high: 5}    # one parameter per stage
  model.block_options.expansion:                        # exists only for bottlenecks
    {type: int, low: 2, high: 4, when: {model.block: bottleneck}}
  model.stages.2.out_channels: {value: null, when: {model.stages.2.block: inception}}
```

Keys are config paths (`model.stages[0].depth` and `model.stages.0.depth` are the same), or
nested mappings of them. Every path must exist in the composed base config or be an option
that every block it can meet accepts. `when:` makes a parameter conditional on parents'
values; `value:` sets a constant (usually conditional). Each trial becomes a list of
`++path=value` override strings applied on top of the base overrides.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from omegaconf import DictConfig, OmegaConf

from archforge.config.compose import LATE_GROUPS, apply_overrides, compose
from archforge.errors import ConfigError, describe_choices
from archforge.model.discovery import load_plugins
from archforge.model.registry import BLOCKS, SHORTCUTS
from archforge.search.space.paths import MISSING, check, lookup, schema_default

SPEC_KEYS = {"type", "choices", "low", "high", "step", "log", "value", "when"}
TYPES = ("int", "float", "categorical", "fixed")
# Top-level keys a space may not search: where a trial writes and whether it may replace
# files (run_dir, overwrite), whether it reads the held-out test split (test), and the
# search's own and Hydra's settings (storage, root, allowed_targets, callbacks ...). A trial
# changes what is trained, never where results go or what the search itself does.
UNSEARCHABLE = {"run_dir": "where a trial writes is the search's choice (search.root)",
                "overwrite": "a trial never replaces another run's files",
                "test": "a search never reads the test split",
                "search": "the search's own settings are not a trial's",
                "hydra": "Hydra's settings are not a trial's"}
# Optuna stores every parameter value as a float: integers past 2**53 lose digits.
MAX_INT_BOUND = 2**53


@dataclass(frozen=True)
class Param:
    path: str  # normalized dotted config path; also the Optuna parameter name
    key: str  # where it was declared: search.space.<key>
    type: str  # int | float | categorical | fixed
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def spec(self) -> dict[str, Any]:
        """A JSON-able description (for the fingerprint and the study's user attrs)."""
        out: dict[str, Any] = {"type": self.type}
        if self.type in ("int", "float"):
            out.update(low=self.low, high=self.high, step=self.step, log=self.log)
        elif self.type == "categorical":
            out["choices"] = list(self.choices)
        else:
            out["value"] = self.value
        if self.when:
            out["when"] = {p: list(v) for p, v in self.when}
        return out

    def values(self) -> list[Any]:
        """Every value this parameter can take (for checks and the grid sampler)."""
        if self.type == "categorical":
            return list(self.choices)
        if self.type == "fixed":
            return [self.value]
        if self.type == "int":
            assert self.low is not None and self.high is not None
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        raise ConfigError(self.key, "a float range has no finite list of values; use a "
                          "categorical (or int) for the grid sampler")


@dataclass
class SearchSpace:
    params: list[Param] = field(default_factory=list)  # in sampling order (parents first)

    def spec(self) -> dict[str, Any]:
        return {p.path: p.spec() for p in self.params}

    def by_path(self) -> dict[str, Param]:
        return {p.path: p for p in self.params}

    def sample(self, trial: optuna.Trial) -> tuple[dict[str, Any], list[str]]:
        """Suggest every active parameter; return ({path: value}, override strings)."""
        chosen: dict[str, Any] = {}
        for p in self.params:
            if not all(parent in chosen and chosen[parent] in ok for parent, ok in p.when):
                continue
            if p.type == "int":
                chosen[p.path] = trial.suggest_int(
                    p.path, int(p.low or 0), int(p.high or 0), step=int(p.step or 1), log=p.log
                )
            elif p.type == "float":
                chosen[p.path] = trial.suggest_float(
                    p.path, float(p.low or 0), float(p.high or 0), step=p.step, log=p.log
                )
            elif p.type == "categorical":
                chosen[p.path] = trial.suggest_categorical(p.path, list(p.choices))
            else:
                chosen[p.path] = p.value
        return chosen, [override(path, value) for path, value in chosen.items()]

    def grid(self) -> dict[str, list[Any]]:
        return {p.path: p.values() for p in self.params if p.type != "fixed"}


# Composed base configs by their overrides: a search composes the same base for every trial.
_BASES: dict[tuple[str, ...], DictConfig] = {}


def trial_config(base_overrides: Sequence[str], overrides: Sequence[str]) -> DictConfig:
    """`compose([*base_overrides, *overrides])`, with the base composed once per process.

    Hydra composition costs about 0.1 s (more on a busy machine) and is the same for every
    trial. Overrides under `model.` and `search.` are applied after Hydra by `compose`
    itself, in order, so applying the trial's to a copy of the composed base gives the same
    config; any other trial override (`++optim.lr=...`) goes through a full composition.
    """
    if not all(o.lstrip("+~").startswith(LATE_GROUPS) for o in overrides):
        return compose([*base_overrides, *overrides], "config")
    key = tuple(base_overrides)
    if key not in _BASES:
        if len(_BASES) >= 8:  # several studies in one process (tests): keep a few
            _BASES.clear()
        _BASES[key] = compose(list(key), "config")
    cfg = copy.deepcopy(_BASES[key])
    apply_overrides(cfg, overrides)
    return cfg


def override(path: str, value: Any) -> str:
    """A Hydra override that sets `path` whether or not the base config has the key."""
    return f"++{path}={format_value(value)}"


def format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else
                                                           ("inf" if value > 0 else "-inf"))
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    text = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", text) and text.lower() not in (
        "null", "true", "false", "nan", "inf"
    ):
        return text
    return json.dumps(text).replace("\\\\", "\\\\")  # double-quoted, Hydra's quoting


def normalize_path(key: str) -> str:
    return re.sub(r"\[(\d+|\*)\]", r".\1", key.strip())


def _is_spec(node: Any) -> bool:
    return isinstance(node, list) or (isinstance(node, Mapping) and bool(SPEC_KEYS & set(node)))


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in raw.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if _is_spec(v) or not isinstance(v, Mapping):
            out.append((key, v))
        else:
            out.extend(_flatten(v, key))
    return out


def compile_space(raw: Mapping[str, Any], base: Any) -> SearchSpace:
    """Validate the YAML space against the composed base config and order it for sampling."""
    load_plugins()
    if isinstance(base, DictConfig):
        base = OmegaConf.to_container(base, resolve=True)
    declared: list[Param] = []
    for key, spec in _flatten(raw):
        top = normalize_path(key).split(".")[0]
        if top in UNSEARCHABLE:
            raise ConfigError(f"search.space.{key}", f"{top!r} cannot be searched: "
                              f"{UNSEARCHABLE[top]}; a space searches model, data, trainer, "
                              "optim, seed and the like")
        declared.extend(_parse_param(key, spec, base))
    params = {p.path: p for p in declared}
    if len(params) != len(declared):
        seen: set[str] = set()
        for p in declared:
            if p.path in seen:
                raise ConfigError(p.key, f"config path {p.path!r} is declared twice")
            seen.add(p.path)
    for p in declared:
        for parent, ok in p.when:
            where = f"{p.key}.when.{parent}"
            if parent not in params:
                raise ConfigError(where, f"condition on {parent!r}, which is not a parameter of "
                                  f"this space; {describe_choices(parent, params)}")
            parent_values = params[parent].values() if params[parent].type != "float" else None
            for v in ok:
                if parent_values is not None and v not in parent_values:
                    raise ConfigError(where, f"{v!r} is never chosen; {parent} takes "
                                      f"{parent_values}")
    ordered = _topological(declared, params)
    for p in ordered:
        _check_path(p, params, base)
    return SearchSpace(ordered)


def _parse_param(key: str, spec: Any, base: Any) -> list[Param]:
    where = f"search.space.{key}"
    path = normalize_path(key)
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(where, f"got {spec!r}; expected a list of choices or a mapping with "
                          "type/low/high, choices, or value")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        bad = sorted(unknown)[0]
        raise ConfigError(f"{where}.{bad}", f"unknown field; {describe_choices(bad, SPEC_KEYS)}")
    kind = spec.get("type")
    if kind is None:
        kind = "fixed" if "value" in spec else "categorical" if "choices" in spec else (
            "float" if isinstance(spec.get("low"), float) or isinstance(spec.get("high"), float)
            else "int")
    if kind not in TYPES:
        raise ConfigError(f"{where}.type", f"got {kind!r}; {describe_choices(str(kind), TYPES)}")
    fields: dict[str, Any] = {}
    if kind in ("int", "float"):
        fields = _range(where, kind, spec)
    elif kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}.choices", f"got {choices!r}; expected a non-empty list")
        for c in choices:
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ConfigError(f"{where}.choices", f"{c!r} is not a scalar; Optuna "
                                  "categoricals hold null, bool, int, float or str")
        if len({json.dumps(c) for c in choices}) != len(choices):
            raise ConfigError(f"{where}.choices", f"{choices} has duplicates")
        fields = {"choices": tuple(choices)}
    else:
        if "value" not in spec:
            raise ConfigError(f"{where}.value", "missing; a fixed parameter needs a value")
        fields = {"value": spec["value"]}
    when = _when(where, spec.get("when"))
    if "*" not in path.split("."):
        return [Param(path, where, kind, when=when, **fields)]
    # `*` expands over a list in the base config: one parameter per element
    head, _, tail = path.partition(".*")
    seq = lookup(base, head)
    if not isinstance(seq, list) or len(seq) == 0:
        raise ConfigError(where, f"{head!r} is not a non-empty list in the base config, so "
                          "'*' has nothing to expand over")
    out = []
    for i in range(len(seq)):
        sub = {p.replace(f"{head}.*", f"{head}.{i}"): v for p, v in when}
        out.append(Param(f"{head}.{i}{tail}", where, kind, when=tuple(sub.items()), **fields))
    return out


def _range(where: str, kind: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    number = int if kind == "int" else (int, float)
    vals: dict[str, Any] = {}
    for name in ("low", "high"):
        v = spec.get(name)
        if isinstance(v, bool) or not isinstance(v, number) or not math.isfinite(v):
            raise ConfigError(f"{where}.{name}", f"got {v!r}; expected a finite "
                              f"{'integer' if kind == 'int' else 'number'}")
        if kind == "int" and abs(v) > MAX_INT_BOUND:
            raise ConfigError(f"{where}.{name}", f"got {v}; expected an integer within "
                              "+-2**53 (Optuna stores parameters as floats: larger integers "
                              "lose digits)")
        vals[name] = v
    low, high = vals["low"], vals["high"]
    if low > high:
        raise ConfigError(f"{where}.low", f"empty range: low {low} > high {high}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log", f"got {log!r}; expected true or false")
    if log and low <= 0:
        raise ConfigError(f"{where}.low", f"got {low}; a log scale needs low > 0")
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, number) or not step > 0 \
                or not math.isfinite(step):
            raise ConfigError(f"{where}.step", f"got {step!r}; expected a positive "
                              f"{'integer' if kind == 'int' else 'number'}")
        if log:
            raise ConfigError(f"{where}.step", "step and log cannot be combined")
    return {"low": low, "high": high, "log": log, "step": step}


def _when(where: str, raw: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}.when", f"got {raw!r}; expected a mapping "
                          "{parent.path: value or [values]}")
    out = []
    for parent, ok in raw.items():
        values = tuple(ok) if isinstance(ok, list) else (ok,)
        if not values:
            raise ConfigError(f"{where}.when.{parent}", "empty list of values: never active")
        out.append((normalize_path(str(parent)), values))
    return tuple(out)


def _topological(declared: list[Param], params: dict[str, Param]) -> list[Param]:
    ordered: list[Param] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(p: Param, chain: list[str]) -> None:
        if state.get(p.path) == 2:
            return
        if state.get(p.path) == 1:
            raise ConfigError(f"{p.key}.when", f"conditions form a cycle: "
                              f"{' -> '.join([*chain, p.path])}")
        state[p.path] = 1
        for parent, _ in p.when:
            visit(params[parent], [*chain, p.path])
        state[p.path] = 2
        ordered.append(p)

    for p in declared:
        visit(p, [])
    return ordered


def _possible(path: str, params: dict[str, Param], base: Any, under: Param) -> list[Any]:
    """The values `path` can hold when `under` is active (its conditions narrow them)."""
    for parent, ok in under.when:
        if parent == path:
            return list(ok)
    if path in params:
        return params[path].values() if params[path].type != "float" else []
    value = lookup(base, path)
    if value is MISSING:
        value = schema_default(path, base)
    return [] if value is MISSING else [value]


def _check_path(p: Param, params: dict[str, Param], base: Any) -> None:
    if p.path in ("model.block",) or re.fullmatch(r"model\.stages\.\d+\.block", p.path):
        for v in p.values():
            if v is not None:
                BLOCKS.get(str(v), f"{p.key}.choices")
    if p.path == "model.shortcut" or re.fullmatch(r"model\.stages\.\d+\.shortcut", p.path):
        for v in p.values():
            if v is not None:
                SHORTCUTS.get(str(v), f"{p.key}.choices")
    problem = check(p.path, base, lambda path: _possible(path, params, base, p))
    if problem is not None:
        raise ConfigError(p.key, problem)
