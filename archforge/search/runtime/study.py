"""Where a study lives: storage URLs, the config fingerprint, orphaned trials, the trial count.

- `search.storage: null` keeps the study in an Optuna journal file at
  `<search.root>/<study_name>/journal.log`: a deterministic path, so re-running the same
  command resumes. A `*.log`/`*.journal` path (or `journal:PATH`) is a journal file too;
  `redis://` a journal in Redis; anything else with `://` (sqlite, postgresql, mysql) is
  SQLAlchemy's RDB storage. `optuna.load_study` and optuna-dashboard read all of them.
- The study stores a fingerprint of the resolved base config and space; a run whose
  fingerprint differs is refused, because its trials would not be comparable.
- Orphans: every running trial carries its worker's host, pid and a heartbeat time. A
  RUNNING trial whose process is gone (same host) or whose heartbeat is older than
  `search.heartbeat_grace` is marked FAIL with `reason` and `retry`, and its parameters are
  enqueued again (up to `search.max_retries` times).
- The count toward `search.n_trials` is every finished trial that reached training
  (COMPLETE, PRUNED by the pruner, FAIL), except failures that were re-queued for another
  try. An infeasible candidate (refused before training: invalid values, a violated
  constraint) is stored PRUNED with `infeasible`, so the sampler learns from it, but does
  not use up the budget; `search.max_infeasible` of them in a row end the search instead.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import random
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from archforge.config.search_settings import SearchSettings, short_hash
from archforge.errors import ConfigError
from archforge.pids import pid_alive
from archforge.search.runtime.journal import (
    ReadOnlyJournalFileBackend,
    Repaired,
    SafeJournalFileBackend,
    check_journal,
    repair,
)
from archforge.search.runtime.optuna_private import set_attr_of
from archforge.search.runtime.rdb_check import check_database, read_only_url

FINGERPRINT = "archforge:fingerprint"
BASE_CONFIG = "archforge:base_config"
SPACE = "archforge:space"
HOST = socket.gethostname()

_storages: dict[str, BaseStorage] = {}
# torn journal tails cut off by open_storage in this process, by URL (the CLI reports them)
repairs: dict[str, Repaired] = {}


def _forget_storages() -> None:
    """In a forked child: open storages afresh. A journal storage's in-memory state names
    the trials its own process created (by an id the child would share with its parent), and
    a database engine's pooled connections belong to the parent: the child drops them
    without closing them (SQLAlchemy's `dispose(close=False)`)."""
    for storage in _storages.values():
        engine = getattr(storage, "engine", None)
        if engine is not None:
            engine.dispose(close=False)
    _storages.clear()
    repairs.clear()


os.register_at_fork(after_in_child=_forget_storages)


def is_journal_path(url: str) -> bool:
    return url.startswith("journal:") or "://" not in url


def open_storage(url: str, read_only: bool = False) -> BaseStorage:
    """An Optuna storage for a URL or journal file path (one object per URL and process).

    `read_only` (`archforge report`, anything that only reads): a journal file is neither
    created nor repaired; a database must already be an Optuna storage, and a SQLite file is
    opened read-only. A database of another application is refused (rdb_check.py)."""
    cache_key = f"read-only:{url}" if read_only else url
    if cache_key in _storages:
        return _storages[cache_key]
    storage: BaseStorage
    try:
        if url.startswith("redis://"):
            from optuna.storages.journal import JournalRedisBackend

            storage = optuna.storages.JournalStorage(JournalRedisBackend(url))
        elif is_journal_path(url):
            path = Path(url.removeprefix("journal:")).expanduser()
            if read_only:
                storage = optuna.storages.JournalStorage(ReadOnlyJournalFileBackend(str(path)))
            else:
                check_journal(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                repaired = repair(path)
                if repaired is not None:
                    repairs[url] = repaired
                storage = optuna.storages.JournalStorage(SafeJournalFileBackend(str(path)))
        else:
            # another application's database is refused before Optuna adds its tables
            check_database(driver_url(url), read_only)
            storage = _rdb(read_only_url(url) if read_only else url, read_only)
    except ConfigError:
        raise
    except (ImportError, ValueError, OSError) as exc:
        raise ConfigError("search.storage", f"cannot open {url!r}: {exc}") from exc
    except Exception as exc:  # SQLAlchemy's connection errors are not ValueError
        raise ConfigError("search.storage", f"cannot open {url!r}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0]}") from exc
    _storages[cache_key] = storage
    return storage


def driver_url(url: str) -> str:
    """`postgresql://` (and `postgres://`) with the driver that is installed: SQLAlchemy 2.1
    reads a bare `postgresql://` as psycopg 3, while the `[postgres]` extra installs
    psycopg2. A URL naming its driver (`postgresql+psycopg://`) is kept as written."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return url
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return f"postgresql+psycopg2://{rest}"
    return f"postgresql://{rest}"


def _rdb(url: str, read_only: bool = False, attempts: int = 5) -> BaseStorage:
    """RDBStorage, retrying a lost race: two processes creating the schema of an empty
    database at once make one of them fail with a duplicate-key error. A reader
    (`read_only`, checked to be an Optuna storage already) creates no table."""
    url = driver_url(url)
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True},
                                              skip_table_creation=read_only)
        except Exception as exc:
            text = str(exc).lower()
            if attempt == attempts - 1 or not any(w in text for w in ("duplicate", "exists",
                                                                     "unique")):
                raise
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def fingerprint(base: dict[str, Any], space: dict[str, Any], settings: SearchSettings) -> str:
    return short_hash(json.dumps(_comparable(base, space, settings), sort_keys=True,
                                 default=str))


# search.* keys that do not change what a trial measures: they may differ between runs
VOLATILE_SEARCH_KEYS = {
    "study_name", "storage", "root", "n_trials", "max_infeasible", "n_workers", "timeout",
    "progress", "threads", "heartbeat_interval", "heartbeat_grace", "export", "max_retries",
    "sampler", "pruner", "seed", "checkpoints", "allowed_targets", "start_method",
    "min_completed", "winner",
}
VOLATILE_KEYS = {"run_dir", "progress", "test"}


def _comparable(base: dict[str, Any], space: dict[str, Any],
                settings: SearchSettings) -> dict[str, Any]:
    cfg = {k: v for k, v in base.items() if k not in VOLATILE_KEYS}
    if isinstance(cfg.get("data"), dict):  # a search never reads the held-out test folder
        cfg["data"] = {k: v for k, v in cfg["data"].items() if k != "test_dir"}
    search = cfg.get("search") or {}
    cfg["search"] = {k: v for k, v in search.items() if k not in VOLATILE_SEARCH_KEYS}
    cfg["search"]["space"] = space  # compiled: `*` expanded, paths normalized
    cfg["search"]["objectives"] = [[o.metric, o.direction] for o in settings.objectives]
    return cfg


def open_study(
    settings: SearchSettings,
    base: dict[str, Any],
    space: dict[str, Any],
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create or join the study; refuse one made from another space or base config.

    An existing study is loaded, not "created if missing": Optuna's journal storage appends
    a create-study record before it finds the name taken, so a refused resume would still
    have written to the other study's journal."""
    storage = open_storage(settings.storage_url)
    try:
        study = optuna.load_study(study_name=settings.study_name, storage=storage,
                                  sampler=sampler, pruner=pruner)
    except KeyError:  # a new study (load_if_exists: another worker may create it meanwhile)
        study = optuna.create_study(
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            study_name=settings.study_name,
            directions=settings.directions,  # type: ignore[arg-type]
            load_if_exists=True,
        )
    where = f"study {settings.study_name!r} in {settings.storage_url}"
    wanted = [optuna.study.StudyDirection[d.upper()] for d in settings.directions]
    if list(study.directions) != wanted:
        raise ConfigError("search.objectives", f"{where} has directions "
                          f"{[d.name.lower() for d in study.directions]}, not "
                          f"{settings.directions}; use another search.study_name")
    fp = fingerprint(base, space, settings)
    attrs = study.user_attrs
    if FINGERPRINT not in attrs:
        study.set_user_attr(FINGERPRINT, fp)
        study.set_user_attr(BASE_CONFIG, _comparable(base, space, settings))
        study.set_user_attr(SPACE, space)
    elif attrs[FINGERPRINT] != fp:
        old = attrs.get(BASE_CONFIG) or {}
        new = json.loads(json.dumps(_comparable(base, space, settings), default=str))
        diff = ", ".join(differences(old, new)[:6]) or "(unknown)"
        raise ConfigError("search.study_name", f"{where} was created from a different search "
                          f"space or base config (fingerprint {attrs[FINGERPRINT]} != {fp}; "
                          f"differs at: {diff}). Resume with the original settings, or start "
                          "a new study: search.study_name=<new name> (e.g. search.study_name="
                          f"{settings.study_name}_2) or another search.storage")
    return study


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(sub)
            else:
                out.extend(differences(old[key], new[key], sub))
        return out
    return [] if old == new else [path or "(root)"]


# ---- trial bookkeeping -------------------------------------------------------------------

def requeued_numbers(trials: Iterable[FrozenTrial]) -> set[int]:
    return {int(t.user_attrs["retry_of"]) for t in trials if "retry_of" in t.user_attrs}


def verdict(t: FrozenTrial) -> str:
    """What happened to a trial, as reported: its state's name, except that a candidate
    refused before training (invalid values, a violated constraint) is INFEASIBLE, not
    PRUNED (Optuna has no such state; the trial is stored PRUNED with `infeasible`)."""
    if t.state == TrialState.PRUNED and t.user_attrs.get("infeasible"):
        return "INFEASIBLE"
    return t.state.name


def verdict_counts(trials: Iterable[FrozenTrial]) -> dict[str, int]:
    """Trials per verdict, in a fixed order (zero counts included)."""
    counts = dict.fromkeys(("COMPLETE", "PRUNED", "INFEASIBLE", "FAIL", "RUNNING", "WAITING"), 0)
    for t in trials:
        counts[verdict(t)] += 1
    return counts


def counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Finished trials that count toward n_trials (infeasible candidates and re-queued
    failures do not)."""
    again = requeued_numbers(trials)
    return [t for t in trials if t.state.is_finished() and verdict(t) != "INFEASIBLE"
            and not (t.state == TrialState.FAIL and t.number in again)]


def infeasible_streak(trials: list[FrozenTrial]) -> int:
    """Infeasible candidates in a row at the end of the study (by trial number, finished
    trials only; a re-queued failure neither breaks nor extends the row)."""
    again = requeued_numbers(trials)
    streak = 0
    for t in sorted(trials, key=lambda t: t.number, reverse=True):
        if not t.state.is_finished() or (t.state == TrialState.FAIL and t.number in again):
            continue
        if verdict(t) != "INFEASIBLE":
            break
        streak += 1
    return streak


def orphan_reason(t: FrozenTrial, grace: float, now: float | None = None,
                  idle: bool = False) -> str | None:
    """Why a RUNNING trial has no live worker, or None. `idle`: this process runs no trial
    now, so one carrying its own pid was left by an earlier search in this process."""
    now = time.time() if now is None else now
    host, pid = t.user_attrs.get("worker_host"), t.user_attrs.get("worker_pid")
    beat = t.user_attrs.get("heartbeat")
    if idle and host == HOST and pid == os.getpid():
        return f"worker lost: left running by an earlier search in process {pid}"
    if host == HOST and isinstance(pid, int) and pid != os.getpid() and not pid_alive(pid):
        return f"worker lost: process {pid} on {host} is gone"
    if isinstance(beat, (int, float)) and now - beat > grace:
        return f"worker lost: no heartbeat from {host}:{pid} for {now - beat:.0f} s"
    if beat is None and t.datetime_start is not None:
        age = (datetime.datetime.now() - t.datetime_start).total_seconds()
        if age > grace:
            return f"worker lost: running {age:.0f} s without a heartbeat"
    return None


def reap_orphans(study: optuna.Study, grace: float, idle: bool = False) -> list[int]:
    """Mark RUNNING trials whose worker is gone as FAIL (reason, retry); their numbers."""
    reaped = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = orphan_reason(t, grace, idle=idle)
        if reason is None:
            continue
        try:
            set_attr_of(study, t, "reason", reason)
            set_attr_of(study, t, "retry", True)
            study.tell(t.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another process got there first
        reaped.append(t.number)
    return reaped


def requeue_failed(study: optuna.Study, max_retries: int) -> list[int]:
    """Enqueue the parameters of retryable failures (lost worker, Ctrl-C) once more."""
    trials = study.get_trials(deepcopy=False)
    again = requeued_numbers(trials)
    out = []
    for t in trials:
        if t.state != TrialState.FAIL or not t.user_attrs.get("retry") or t.number in again:
            continue
        attempt = int(t.user_attrs.get("attempt", 0))
        if attempt >= max_retries:
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, "attempt": attempt + 1},
                            skip_if_exists=False)
        out.append(t.number)
    return out
