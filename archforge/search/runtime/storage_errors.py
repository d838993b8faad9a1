"""A storage that stops answering (a database outage, a full disk) ends a search with one
line per process: what failed, and that the study is intact and resumable.

Nothing is lost in such a stop: finished trials are already stored, and a trial that was
running is found as an orphan and re-queued by the next run (study.py). A traceback, or
Optuna's generic "e.g. exceeding max length" wrapper around a lost connection, would only
hide that.
"""

from __future__ import annotations

import errno
import sys

import optuna

from archforge.errors import ConfigError

# A full disk or quota: the only OSErrors that stop a storage mid-search with the study intact.
FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
RESUMABLE = ("the study is intact and resumable: every finished trial is kept, and the "
             "same command resumes (a trial that was running is re-queued)")


def _storage_kinds() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [optuna.exceptions.StorageInternalError]
    sa = sys.modules.get("sqlalchemy.exc")  # imported by any RDB storage that was opened
    if sa is not None:
        kinds += [sa.OperationalError, sa.InterfaceError, sa.DatabaseError]
    redis = sys.modules.get("redis.exceptions")
    if redis is not None:
        kinds += [redis.ConnectionError, redis.TimeoutError]
    return tuple(kinds)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in out:
        out.append(node)
        node = node.__cause__ or node.__context__
    return out


def is_storage_failure(exc: BaseException) -> bool:
    kinds = _storage_kinds()
    return any(isinstance(e, kinds) for e in _chain(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def failure_line(exc: BaseException, who: str) -> str | None:
    """The one line for a storage failure or a full disk, or None for any other error."""
    if is_storage_failure(exc):
        kinds = _storage_kinds()
        # the deepest error in the chain says what happened (the lost connection), not
        # Optuna's wrapper around it
        cause = [e for e in _chain(exc) if isinstance(e, kinds)][-1]
        return f"{who}: the storage failed ({_first_line(cause)}); {RESUMABLE}"
    if isinstance(exc, ConfigError):  # a bad setting, even one caused by an OSError
        return None
    os_error = next((e for e in _chain(exc) if isinstance(e, OSError)), None)
    if os_error is None:
        return None
    where = f": {os_error.filename}" if os_error.filename else ""
    line = f"{who}: {os_error.strerror or os_error}{where}"
    if os_error.errno in FULL:
        return f"{line}; {RESUMABLE} (after freeing space)"
    # a path that cannot be created or read (search.root=/proc/x, /dev/null): not a storage
    # that stopped answering, so no advice about resuming or freeing space
    return line
