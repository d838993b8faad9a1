"""The number of jobs an `-m` sweep asks for, counted from its overrides without expanding
them: `seed='range(0,1000000000)'` is refused in milliseconds instead of building a list of a
billion values (archforge/limits.py, `max_sweep_jobs`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, RangeSweep
from hydra.errors import HydraException

from archforge.errors import ConfigError
from archforge.limits import config_limits, raise_hint


def _count(value: object) -> int:
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if start is None or stop is None or not step:
            return 1
        return max(0, math.ceil((float(stop) - float(start)) / float(step)))
    if isinstance(value, ChoiceSweep):
        return len(value.list)
    return 1  # glob(...) picks among a group's files: as many as the folder holds


def check_sweep_size(overrides: Sequence[str]) -> None:
    """Refuse a sweep of more than `max_sweep_jobs` jobs, naming its largest override."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException:
        return  # Hydra reports its own grammar errors, with the override
    counts = [(_count(o.value()), o.key_or_group) for o in parsed if o.is_sweep_override()]
    limit = config_limits().max_sweep_jobs
    jobs = math.prod(n for n, _ in counts)
    if jobs > limit:
        largest = max(counts)[1]
        raise ConfigError(largest, f"this sweep asks for {jobs:,} jobs, more than "
                          f"{limit:,}; {raise_hint('max_sweep_jobs')}")
