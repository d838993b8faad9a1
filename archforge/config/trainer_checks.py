"""Range checks for Lightning Trainer arguments, before a Trainer exists.

`lightning.Trainer` refuses many values only when it is built, with a
`MisconfigurationException` (or divides by zero at the first step: `accumulate_grad_batches:
0`); a few it accepts and then misbehaves (`gradient_clip_val: -1`). Their types are checked
against Lightning's own annotations (config/run.py); the ranges are checked here, so each
bad value is one ConfigError naming `trainer.<key>` before anything is trained.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from typing import Any

from archforge.errors import ConfigError
from archforge.typed import require

PROFILERS = ("simple", "advanced", "pytorch", "xla")
TIMEDELTA_KEYS = ("days", "hours", "minutes", "seconds", "milliseconds", "microseconds",
                  "weeks")
_MAX_TIME = re.compile(r"^\d+:\d{1,2}:\d{1,2}:\d{1,2}$")  # Lightning's "DD:HH:MM:SS"


def _int(low: int) -> Callable[[Any], bool]:
    return lambda v: v is None or (isinstance(v, int) and v >= low)


def _max_time(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return bool(_MAX_TIME.match(v))
    if isinstance(v, Mapping):
        return bool(v) and all(k in TIMEDELTA_KEYS and isinstance(x, int | float) and x >= 0
                               for k, x in v.items())
    return True  # a timedelta from Python code


def _val_check_interval(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, int):
        return v >= 1
    return isinstance(v, float) and 0 < v <= 1


def _fraction_or_count(v: Any) -> bool:
    """Lightning's batch limits: a number of batches (int >= 0) or a fraction in [0, 1]."""
    if v is None or isinstance(v, bool):
        return v is None
    if isinstance(v, int):
        return v >= 0
    return isinstance(v, float) and 0.0 <= v <= 1.0


# key -> (accepts, what is accepted)
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "fast_dev_run": (_int(0), "true, false or a number of batches >= 0"),
    "max_steps": (_int(-1), "-1 (no limit) or an integer >= 0"),
    "min_steps": (_int(0), "null or an integer >= 0"),
    "min_epochs": (_int(0), "null or an integer >= 0"),
    "num_sanity_val_steps": (_int(-1), "-1 (all), 0 or a number of batches"),
    "accumulate_grad_batches": (_int(1), "an integer >= 1"),
    "val_check_interval": (_val_check_interval,
                           "null, a number of batches >= 1 or a fraction of an epoch in (0, 1]"),
    "gradient_clip_val": (lambda v: v is None or v >= 0, "null or a number >= 0"),
    "gradient_clip_algorithm": (lambda v: v is None or v in ("value", "norm"),
                                "null, 'value' or 'norm'"),
    "profiler": (lambda v: v is None or not isinstance(v, str) or v in PROFILERS,
                 f"null or one of {', '.join(PROFILERS)}"),
    "max_time": (_max_time, "null, 'DD:HH:MM:SS' or {days: .., hours: .., minutes: ..}"),
    "overfit_batches": (_fraction_or_count,
                        "a number of batches >= 0 or a fraction of the data in [0, 1]"),
    "limit_test_batches": (_fraction_or_count,
                           "null, a number of batches >= 0 or a fraction in [0, 1]"),
    "limit_predict_batches": (_fraction_or_count,
                              "null, a number of batches >= 0 or a fraction in [0, 1]"),
    "reload_dataloaders_every_n_epochs": (_int(0), "an integer >= 0 (0: never reload)"),
}
# accelerator -> the package Lightning needs for it, checked before Lightning imports it
ACCELERATOR_PACKAGES = {"tpu": "torch_xla", "hpu": "lightning_habana"}


def check_trainer_extra(extra: Mapping[str, Any], path: str = "trainer") -> None:
    for key, value in extra.items():
        rule = RULES.get(key)
        if rule is not None:
            require(rule[0](value), f"{path}.{key}", value, rule[1])


def check_accelerator(name: str, key: str = "trainer.accelerator") -> None:
    """A GPU accelerator on a machine without one fails at Trainer() otherwise; a TPU or HPU
    without its package fails deep inside Lightning with a long traceback."""
    wanted = name.lower()
    package = ACCELERATOR_PACKAGES.get(wanted)
    if package is not None and importlib.util.find_spec(package) is None:
        raise ConfigError(key, f"got {name!r}, which needs the {package} package (not "
                          "installed here); use trainer=cpu (or accelerator cpu / gpu / auto)")
    if wanted not in ("gpu", "cuda", "mps"):
        return
    import torch

    has = (torch.backends.mps.is_available() if wanted == "mps"
           else torch.cuda.is_available() or (wanted == "gpu"
                                              and torch.backends.mps.is_available()))
    if not has:
        raise ConfigError(key, f"got {name!r} but this machine has no such device; use "
                          "trainer=cpu (or accelerator cpu / auto)")
