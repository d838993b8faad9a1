"""What a trial ends in (`Outcome`), what passed the checks (`Candidate`), and `guard`, which
turns a step's exception into the trial's Outcome (see objective.py for every path)."""

from __future__ import annotations

import errno
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import TrialState

from archforge.config.run import Run
from archforge.errors import ConfigError, OptionError
from archforge.search.runtime.signals import Interrupted, stop
from archforge.search.runtime.storage_errors import is_storage_failure


@dataclass
class Outcome:
    state: TrialState
    values: list[float] | None = None
    reason: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    # an error that ends the search once this trial is stored (a full disk)
    stop: BaseException | None = None


@dataclass
class Candidate:
    """A candidate that passed every check before evaluation: its run is parsed, its model
    traced on the meta device, once; the evaluator receives the same `Run`."""

    run: Run
    model: dict[str, Any]
    costs: dict[str, float]


FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # no space left, quota
# Exceptions raised by a candidate's own values: the candidate is invalid, not broken code.
INVALID = (ConfigError, OptionError, OverflowError)


def guard(step: Callable[[], Any], stage: str) -> Any:
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
        if is_storage_failure(exc):  # not the candidate's doing: the search stops
            raise
        full = disk_full(exc)
        if full is not None:  # nor this: stored FAIL + retry, then the search stops
            where = f": {full.filename}" if full.filename else ""
            out = failed(exc, stage, f"disk full ({full.strerror or full}{where}); re-queued "
                         "on resume")
            out.attrs["retry"] = True
            out.stop = full
            return out
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


def disk_full(exc: BaseException) -> OSError | None:
    """The ENOSPC/EDQUOT error behind `exc`, if any (a checkpoint's CheckpointError, torch's
    "enforce fail" RuntimeError and a journal write all keep it in their chain)."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        if isinstance(node, OSError) and node.errno in FULL:
            return node
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else ""


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
