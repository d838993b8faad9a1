"""A journal file that survives torn writes (a full disk, a crash in the middle of a write).

Optuna's `JournalFileBackend` stores one JSON operation per line. A write cut short leaves
a partial last line; Optuna skips it when reading, but the next append goes after it, the
two fuse into one undecodable line in the middle, and from then on every read fails.

- `check_journal(path)`, before a journal file is opened at all: a path that is a symbolic
  link (a write would go through it into its target), or an existing file that does not
  start with a journal record (a SQLite database named without `sqlite:///`, a text file, a
  system file) is refused with a `ConfigError` naming the path; archforge never truncates,
  rewrites or appends to a file that is not its journal.
- `check_records(path)`, before a journal file is opened (for writing or reading): every
  line is a journal record, except a *torn tail* - what a write cut short leaves after the
  last complete record: a prefix of a record, or the zero bytes a file system fills a lost
  block with. Any other line (a JSON line of another program, text, a broken record with
  complete records after it) means the file is not archforge's journal, or was changed by
  something else than a torn write: refused with a `ConfigError` naming the file and line,
  and nothing is written.
- `repair(path)`, before a study is opened for writing: a torn tail is cut off, after
  copying the original file beside it as `journal.log.torn-<time>`; every complete record
  is kept. A last record that lacks only its final newline is complete: the newline is
  added.
- `ReadOnlyJournalFileBackend`, for `archforge report` and every reader: never creates,
  repairs or appends.
- `SafeJournalFileBackend.append_logs` never appends after a partial line (a writer that
  failed since the file was opened) and, when its own write fails (ENOSPC), cuts the file
  back to where it was, so the failure costs that one operation and not the file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock

from archforge.errors import ConfigError
from archforge.search.runtime.signals import stop


@dataclass(frozen=True)
class Repaired:
    """A torn tail that was cut off: where the original went and what was dropped."""

    backup: Path
    kept_records: int
    dropped_bytes: int


# Optuna writes `json.dumps({"op_code": ..., ...}, separators=(",", ":"))` per line, so every
# journal, ours or Optuna's own, starts with these bytes.
RECORD_START = b'{"op_code":'
SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_record(line: bytes, final: bool = False) -> bool:
    """A complete journal operation: a JSON object with Optuna's `op_code`, newline-ended
    (`final`: the file's last line, whose newline alone may be missing)."""
    if not line.endswith(b"\n") and not final:
        return False
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
    return isinstance(record, dict) and "op_code" in record


def _torn(line: bytes) -> bool:
    """Whether a line that is not a record is what a write cut short leaves: a prefix of a
    record, or zero bytes (a block the file system allocated but never wrote)."""
    body = line.rstrip(b"\n")
    return b"\x00" in body or body.startswith(RECORD_START) or RECORD_START.startswith(body)


def check_journal(path: Path, key: str = "search.storage") -> None:
    """Refuse a symbolic link, or an existing path that is not an archforge/Optuna journal
    file (nothing is written to it). A missing or empty file is a new journal."""
    if path.is_symlink():
        raise ConfigError(key, f"{path} is a symbolic link (to {os.readlink(path)}); archforge "
                          "writes a journal only to the file named, never through a link; name "
                          "the file itself")
    if not path.exists():
        return
    if not path.is_file():
        raise ConfigError(key, f"{path} is not a file; name a journal file (journal.log) or a "
                          "database URL (sqlite:///study.db)")
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror or exc}") from exc
    if not head or head.startswith(RECORD_START):
        return
    url = f"sqlite:///{path.resolve()}"
    what = ("is a SQLite database; name it as a URL: search.storage=" + url
            if head.startswith(SQLITE_MAGIC) else
            "exists and is not an Optuna journal (it does not start with a journal record); "
            f"archforge does not write to it. Name a database as a URL (e.g. {url}) or a "
            "journal file that does not exist yet")
    raise ConfigError(key, f"{path} {what}")


def scan(data: bytes) -> tuple[int, int, int | None]:
    """(records, byte length of the good prefix, 1-based line of a bad line that is not part
    of a torn tail).

    The good prefix ends after the last complete record; a bad line before it is corruption,
    and so is a line after it that a torn write cannot leave (`_torn`). A final record that
    lacks only its newline counts (its length excludes the newline).
    """
    records = good_end = offset = 0
    first_bad: int | None = None
    lines = data.split(b"\n")
    for number, chunk in enumerate(lines, start=1):
        line = chunk + b"\n" if number < len(lines) else chunk  # the last: partial or b""
        if not line:
            break
        offset += len(line)
        if not _is_record(line, final=number == len(lines)):
            first_bad = first_bad or number
            if not _torn(line):
                return records, good_end, first_bad
        elif first_bad is not None:
            return records, good_end, first_bad
        else:
            records += 1
            good_end = offset
    return records, good_end, None


def _refuse(path: Path, bad_line: int) -> ConfigError:
    return ConfigError("search.storage", f"{path}: line {bad_line} is neither a complete "
                       "Optuna journal record nor the torn end of one: the file is not an "
                       "Optuna journal, or was changed by something else than a torn write. It "
                       "was left untouched; restore it from a copy, or use another "
                       "search.storage or search.study_name")


def check_records(path: Path) -> None:
    """Refuse (nothing written) a journal file holding a line that is neither a record nor
    part of a torn tail."""
    check_journal(path)
    if path.is_file():
        bad_line = scan(path.read_bytes())[2]
        if bad_line is not None:
            raise _refuse(path, bad_line)


def repair(path: Path) -> Repaired | None:
    """Cut a torn tail off the journal at `path` (a copy of the original kept beside it)."""
    if not path.exists():
        return None
    check_records(path)  # before the lock: a refused file gets not even a lock beside it
    with locked(path):
        data = path.read_bytes()
        records, good_end, bad_line = scan(data)
        if bad_line is not None:
            raise _refuse(path, bad_line)
        if good_end == len(data):
            if data and not data.endswith(b"\n"):  # a complete last record lacks its newline
                with open(path, "ab") as f:
                    f.write(b"\n")
                    f.flush()
                    os.fsync(f.fileno())
            return None
        backup = _backup(path)
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
        return Repaired(backup, records, len(data) - good_end)


def _lock(path: Path) -> JournalFileSymlinkLock:
    # the same lock file (`<journal>.lock`) Optuna's own writers take
    return JournalFileSymlinkLock(str(path))


@contextmanager
def locked(path: Path) -> Iterator[None]:
    lock = _lock(path)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


class SafeJournalFileBackend(JournalFileBackend):
    """`JournalFileBackend` whose appends neither follow a partial line nor leave one."""

    def __init__(self, file_path: str) -> None:
        self.path = Path(file_path)
        super().__init__(file_path, lock_obj=_lock(self.path))

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode()
        with stop.shielded(), locked(self.path):
            end = self._clean_end()
            with open(self.path, "r+b", buffering=0) as f:
                f.seek(end)
                try:
                    view = memoryview(data)
                    while view:  # an unbuffered write may be partial
                        written = f.write(view)
                        if not written:
                            raise OSError(errno.EIO, f"short write to {self.path}")
                        view = view[written:]
                    os.fsync(f.fileno())
                except OSError as exc:
                    f.truncate(end)  # as it was: the failure costs one operation, not the file
                    if exc.filename is None:  # a full disk names the file it could not grow
                        raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
                    raise

    def _clean_end(self) -> int:
        """The size to append at, after cutting a partial last line (lock held)."""
        with open(self.path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0 or (f.seek(size - 1) >= 0 and f.read(1) == b"\n"):
                return size  # the usual case costs one byte read, not the whole file
        check_journal(self.path)
        data = self.path.read_bytes()
        good_end = data.rfind(b"\n") + 1
        if _is_record(data[good_end:], final=True):  # complete but for its newline: keep it
            with open(self.path, "ab") as f:
                f.write(b"\n")
                os.fsync(f.fileno())
            return size + 1
        if not _torn(data[good_end:]):  # another program's line: not ours to cut
            raise _refuse(self.path, data.count(b"\n") + 1)
        _backup(self.path)
        with open(self.path, "r+b") as f:
            f.truncate(good_end)
            os.fsync(f.fileno())
        return good_end


def _backup(path: Path) -> Path:
    backup = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while backup.exists():  # two repairs within one second keep both originals
        backup = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    shutil.copy2(path, backup)
    return backup


class ReadOnlyJournalFileBackend(JournalFileBackend):
    """A journal file opened for reading only (`archforge report`): never created, repaired
    or appended to."""

    def __init__(self, file_path: str) -> None:
        path = Path(file_path)
        check_journal(path)
        if not path.is_file():
            raise ConfigError("search.storage", f"no journal at {path}; run archforge search "
                              "first (or name the study's search.storage)")
        check_records(path)
        super().__init__(file_path, lock_obj=_lock(path))

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        raise ConfigError("search.storage", f"{self._file_path} is open read-only")
