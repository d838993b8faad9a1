"""`archforge experiment list` and `archforge experiment <name> [key=value ...]`.

Undotted keys are the experiment's own settings (`seeds=[0,1]`, `epochs=4`); `run_dir=`
picks the output folder; `data=<name>` (default digits) and dotted keys (`optim.lr=0.05`,
`data.batch_size=32`) are training overrides, passed to every run of an experiment that
trains.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from archforge.errors import ConfigError, describe_choices
from archforge.experiments import EXPERIMENTS
from archforge.experiments.report import Outcome, default_run_dir
from archforge.typed import from_mapping

# Why the training experiments default to one torch thread: their 8x8 digits models run ops
# far too small to split, and on a shared 2-core machine two threads spin-waiting for each
# other cost about 60x the CPU time of one thread per ResNet-20 step (measured: 1.44 s vs
# 0.025 s of CPU per step of 64 images while other jobs ran).


def load(name: str) -> ModuleType:
    if name not in EXPERIMENTS:
        raise ConfigError("experiment", f"unknown experiment {name!r}; "
                          f"{describe_choices(name, EXPERIMENTS)} (or 'list')")
    return importlib.import_module(EXPERIMENTS[name][0])


def _value(key: str, arg: str) -> Any:
    """The value of `key=value` in Hydra's grammar, the one every other command uses."""
    try:
        (parsed,) = OverridesParser.create().parse_overrides([arg])
        value = parsed.value()
    except HydraException as exc:
        raise ConfigError(key, f"cannot parse {arg!r}: {str(exc).splitlines()[0]}") from exc
    # Hydra hands back its own list/dict types; the settings check wants plain ones.
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def parse_args(name: str, args: list[str]) -> tuple[Any, list[str], Path | None]:
    """(settings, training overrides, run_dir) from `key=value` arguments."""
    module = load(name)
    own: dict[str, Any] = {}
    overrides: list[str] = []
    run_dir: Path | None = None
    path = f"experiment.{name}"
    for arg in args:
        key, sep, text = arg.partition("=")
        if not sep:
            raise ConfigError(arg, f"expected key=value; {name} takes "
                              f"{', '.join(f.name for f in fields(module.Settings))}, run_dir")
        if key == "run_dir":
            run_dir = Path(text).expanduser().resolve()
        elif "." in key.lstrip("+~") or key == "data":
            if not module.TRAINS:
                raise ConfigError(key, f"{name} trains nothing, so it takes no training "
                                  "overrides; its own keys: "
                                  f"{', '.join(f.name for f in fields(module.Settings))}")
            overrides.append(arg)
        else:
            own[key] = _value(f"{path}.{key}", arg)
    settings = from_mapping(module.Settings, own, path)
    check = getattr(settings, "check", None)
    if callable(check):
        check(path)
    return settings, overrides, run_dir


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` torch threads (None: leave the setting alone), then restore."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _prepare(run_dir: Path) -> None:
    """Create the run directory; refuse one that already holds files (never overwrite runs)."""
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError("run_dir", f"{run_dir} already exists and is not an empty folder; "
                          "choose a new one (or leave run_dir out for a dated folder)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("run_dir", f"cannot create {run_dir}: {exc.strerror}") from exc


def run_experiment(name: str, args: list[str]) -> Outcome:
    """Run one experiment, write its files and return the outcome (also the test entry)."""
    settings, overrides, run_dir = parse_args(name, args)
    module = load(name)
    run_dir = run_dir or default_run_dir(name)
    _prepare(run_dir)
    start = time.perf_counter()
    with torch_threads(getattr(settings, "threads", None)):
        outcome: Outcome = module.run(settings, overrides, run_dir)
    outcome.seconds = time.perf_counter() - start
    outcome.write()
    return outcome


def experiment(args: list[str]) -> int:
    """archforge experiment list | <name> [key=value ...]

    `list` (or no argument) shows every experiment with its keys. `<name>` runs one: its own
    settings as undotted keys (seeds=[0,1], epochs=4), run_dir= for the output folder, and
    dotted training overrides (optim.lr=0.05) for the experiments that train."""
    if not args or args[0] == "list":
        width = max(len(n) for n in EXPERIMENTS)
        print("archforge experiment <name> [key=value ...]; experiments:")
        for name, (module, text) in EXPERIMENTS.items():
            keys = ", ".join(f.name for f in fields(importlib.import_module(module).Settings))
            print(f"  {name:<{width}}  {text}\n  {'':<{width}}  keys: {keys}, run_dir")
        return 0
    outcome = run_experiment(args[0], args[1:])
    print(outcome.markdown())
    print(f"written to {outcome.run_dir}")
    return 0
