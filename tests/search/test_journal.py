"""Torn journal writes (a full disk, a crash mid-write): the resume repairs and goes on."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from optuna.trial import TrialState
from search_helpers import assert_accounted, load, tiny_args

from archforge.cli.search import report, search
from archforge.errors import ConfigError
from archforge.search.runtime import journal as journal_module
from archforge.search.runtime import study as study_module
from archforge.search.runtime.journal import SafeJournalFileBackend, repair, scan
from archforge.search.strategy import training as training_module


def _fake_train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
    return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir)


@pytest.fixture
def journal(root: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The bytes of a real journal written by a 2-trial search (training faked)."""
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    assert search(tiny_args(root, "search.n_trials=2")) == 0
    study_module._storages.clear()  # the next open reads the file again, as a new run would
    return (root / "tiny" / "journal.log").read_bytes()


def _resume(root: Path, n_trials: int) -> None:
    # a cut can fall before the first trial's worker attrs were written: such an orphan is
    # known only by its age, so the resume waits past a short heartbeat_grace
    time.sleep(1.1)
    study_module._storages.clear()
    assert search(tiny_args(root, f"search.n_trials={n_trials}",
                            "search.heartbeat_grace=1")) == 0
    study_module._storages.clear()


@pytest.mark.parametrize("cut", [0.05, 0.3, 0.5, 0.77, 0.999])
def test_a_journal_cut_mid_record_is_repaired(root: Path, journal: bytes, cut: float) -> None:
    path = root / "tiny" / "journal.log"
    at = int(len(journal) * cut)
    if journal[at - 1:at] == b"\n":
        at -= 1  # mid-record, never on a boundary
    path.write_bytes(journal[:at])  # what a full disk leaves: the write stopped at `at`
    good = journal[: journal[:at].rfind(b"\n") + 1]
    _resume(root, 3)
    backups = list(path.parent.glob("journal.log.torn-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == journal[:at]
    study = load(root)
    assert_accounted(study, 3)
    assert path.read_bytes().startswith(good)  # every complete record kept, in place
    # a trial whose finishing write was lost is failed and re-run, never left RUNNING
    lost = [t for t in study.trials if t.state == TrialState.FAIL]
    assert all(t.user_attrs["retry"] for t in lost)


def test_trailing_garbage_is_cut_and_complete_records_kept(root: Path, journal: bytes) -> None:
    path = root / "tiny" / "journal.log"
    path.write_bytes(journal + b'{"op_code": 5, "worker_id"\x00\x00\n\x00garbage\n')
    _resume(root, 3)
    assert path.read_bytes().startswith(journal)
    study = load(root)
    assert_accounted(study, 3)
    assert [t.state for t in study.trials[:2]] == [TrialState.COMPLETE] * 2


def test_a_bad_record_in_the_middle_is_refused_untouched(root: Path, journal: bytes) -> None:
    path = root / "tiny" / "journal.log"
    lines = journal.splitlines(keepends=True)
    broken = b"".join([*lines[:3], b'{"op_code": 5, "tru\n', *lines[3:]])
    path.write_bytes(broken)
    with pytest.raises(ConfigError) as info:
        _resume(root, 3)
    assert info.value.path == "search.storage"
    assert f"{path}: line 4 " in str(info.value)
    assert path.read_bytes() == broken
    assert not list(path.parent.glob("journal.log.torn-*"))
    study_module._storages.clear()
    with pytest.raises(ConfigError) as info:  # report names the same line as search
        report(tiny_args(root))
    assert f"{path}: line 4 " in str(info.value) and "column" not in str(info.value)
    assert path.read_bytes() == broken


def test_scan_counts_records_and_finds_the_good_end() -> None:
    ok = b'{"op_code":0,"worker_id":"a"}\n'
    assert scan(ok * 2) == (2, 2 * len(ok), None)
    assert scan(ok + b'{"op_code":1') == (1, len(ok), None)
    assert scan(ok + b"[1]\n" + ok) == (1, len(ok), 2)  # JSON, but not an operation
    assert scan(b"") == (0, 0, None)


def test_append_after_a_failed_writer_and_on_a_full_disk(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "journal.log"
    backend = SafeJournalFileBackend(str(path))
    backend.append_logs([{"op_code": 0, "worker_id": "a"}])
    good = path.read_bytes()
    # another writer died mid-record after this one opened the file
    with open(path, "ab") as f:
        f.write(b'{"op_code":4,"wor')
    backend.append_logs([{"op_code": 1, "worker_id": "a"}])
    assert path.read_bytes() == good + b'{"op_code":1,"worker_id":"a"}\n'
    assert [r["op_code"] for r in backend.read_logs(0)] == [0, 1]
    assert len(list(tmp_path.glob("journal.log.torn-*"))) == 1

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = path.read_bytes()
    monkeypatch.setattr(journal_module.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        backend.append_logs([{"op_code": 2, "worker_id": "a"}])
    assert path.read_bytes() == before  # the failed write left nothing behind
    assert repair(path) is None


def test_a_full_disk_stops_the_search_cleanly_and_the_resume_finishes(
        root: Path, journal: bytes, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    real_fsync, writes = os.fsync, []

    def fills_up(fd: int) -> None:  # the disk is full from the 6th write of the resume on
        writes.append(fd)
        if len(writes) > 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", fills_up)
    study_module._storages.clear()
    assert search(tiny_args(root, "search.n_trials=4")) == 1
    err = capsys.readouterr().err
    assert f"No space left on device: {root / 'tiny' / 'journal.log'}; the study is intact " \
           "and resumable" in err and "Traceback" not in err
    monkeypatch.setattr(journal_module.os, "fsync", real_fsync)
    data = (root / "tiny" / "journal.log").read_bytes()
    assert data.startswith(journal) and data.endswith(b"\n")
    _resume(root, 4)
    study = load(root)
    assert_accounted(study, 4)
    assert [t.state for t in study.trials[:2]] == [TrialState.COMPLETE] * 2


@pytest.mark.parametrize("content", [b"SQLite format 3\x00" + b"\x00" * 200,
                                     b"root:x:0:0:root:/root:/bin/bash\n", b"{}\n"])
@pytest.mark.parametrize("command", [search, report])
def test_a_file_that_is_not_a_journal_is_refused_untouched(
        tmp_path: Path, content: bytes, command: Any) -> None:
    path = tmp_path / "study.db"
    path.write_bytes(content)
    study_module._storages.clear()
    with pytest.raises(ConfigError) as info:
        command(tiny_args(tmp_path / "runs", f"search.storage={path}"))
    assert info.value.path == "search.storage" and str(path) in str(info.value)
    assert f"sqlite:///{path}" in str(info.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]  # no copy, no lock


def test_report_opens_the_journal_read_only(root: Path, journal: bytes) -> None:
    path = root / "tiny" / "journal.log"
    path.write_bytes(journal + b'{"op_code":4,"wor')  # a torn tail: only a search repairs it
    assert report(tiny_args(root)) == 0
    assert path.read_bytes() == journal + b'{"op_code":4,"wor'
    assert not list(path.parent.glob("journal.log.torn-*"))
    study_module._storages.clear()
    with pytest.raises(ConfigError, match="no journal at"):
        report(tiny_args(root, "search.study_name=other"))
    assert not (root / "other").exists()


def test_a_last_record_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    ok = b'{"op_code":0,"worker_id":"a"}\n'
    assert scan(ok + ok[:-1]) == (2, 2 * len(ok) - 1, None)
    path = tmp_path / "journal.log"
    path.write_bytes(ok + ok[:-1])
    assert repair(path) is None
    assert path.read_bytes() == ok * 2
    path.write_bytes(ok + ok[:-1])  # a writer that opened the file before the newline went
    backend = SafeJournalFileBackend(str(path))
    backend.append_logs([{"op_code": 1, "worker_id": "a"}])
    assert [r["op_code"] for r in backend.read_logs(0)] == [0, 0, 1]
    assert not list(tmp_path.glob("journal.log.torn-*"))
