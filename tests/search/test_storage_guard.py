"""What archforge refuses to write a study into: another application's database, a path
that is a symbolic link, a file that is not a journal, a study of another fingerprint, a
study name that is a path. Each refusal is one ConfigError and leaves every byte as it was.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from optuna.storages._rdb import models
from search_helpers import TINY, load, tiny_args
from sqlalchemy.engine import make_url

from archforge.cli.search import report, search
from archforge.errors import ConfigError
from archforge.search.runtime import study as study_module
from archforge.search.runtime.prepare import prepare
from archforge.search.runtime.rdb_check import OPTUNA_TABLES, read_only_url
from archforge.search.strategy import training as training_module


def _fake_train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
    return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _app_db(path: Path, alembic: bool, own_table: bool = True) -> None:
    """Another application's SQLite database: a table of its own and/or its own alembic
    revision."""
    with sqlite3.connect(path) as db:
        if own_table:
            db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
            db.execute("INSERT INTO accounts (name) VALUES ('ann')")
        if alembic:
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            db.execute("INSERT INTO alembic_version VALUES ('1f2e3d4c5b6a')")
    db.close()


@pytest.fixture(autouse=True)
def _fresh_storages() -> None:
    study_module._storages.clear()


def test_the_table_list_is_optunas() -> None:
    assert set(models.BaseModel.metadata.tables) | {"alembic_version"} == OPTUNA_TABLES


@pytest.mark.parametrize(("alembic", "own_table"), [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize("command", [search, report])
def test_another_applications_database_is_refused_untouched(
        tmp_path: Path, alembic: bool, own_table: bool, command: Any) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    db = folder / "app.db"
    _app_db(db, alembic, own_table)
    before = _sha(db)
    with pytest.raises(ConfigError) as info:
        command(tiny_args(tmp_path / "runs", f"search.storage=sqlite:///{db}"))
    assert info.value.path == "search.storage" and str(db) in str(info.value)
    assert ("accounts" if own_table else "alembic_version") in str(info.value)
    assert _sha(db) == before  # not one byte written
    assert sorted(p.name for p in folder.iterdir()) == ["app.db"]  # no journal, no -wal
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as ro:
        tables = {r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    ro.close()
    assert tables == {"accounts", "alembic_version"} - ({"accounts"} if not own_table else set()
                                                        ) - (set() if alembic else
                                                             {"alembic_version"})


def test_report_never_writes_to_a_database(root: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    assert search(tiny_args(root, f"search.storage={url}", "search.n_trials=1")) == 0
    study_module._storages.clear()
    before = _sha(db)
    assert report(tiny_args(root, f"search.storage={url}")) == 0
    assert _sha(db) == before
    opened = make_url(read_only_url(url))  # SQLite's own read-only mode
    assert opened.database == f"file:{db}" and opened.query == {"mode": "ro", "uri": "true"}
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(ConfigError, match="holds no Optuna study"):
        report(tiny_args(root, f"search.storage=sqlite:///{empty}"))
    assert empty.read_bytes() == b""
    with pytest.raises(ConfigError, match="no database at"):
        report(tiny_args(root, f"search.storage=sqlite:///{tmp_path / 'missing.db'}"))
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("command", [search, report])
def test_a_storage_path_that_is_a_symlink_is_refused(tmp_path: Path, command: Any) -> None:
    target = tmp_path / "target.log"
    target.write_bytes(b'{"op_code":0,"worker_id":"w","study_name":"x","directions":[1]}\n')
    link = tmp_path / "journal.log"
    link.symlink_to(target)
    before = target.read_bytes()
    with pytest.raises(ConfigError) as info:
        command(tiny_args(tmp_path / "runs", f"search.storage={link}"))
    assert info.value.path == "search.storage" and "symbolic link" in str(info.value)
    assert target.read_bytes() == before and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.log", "target.log"]


@pytest.mark.parametrize("command", [search, report])
def test_json_lines_that_only_start_like_a_journal_are_refused_untouched(
        tmp_path: Path, command: Any) -> None:
    path = tmp_path / "events.log"  # another program's JSON lines; the first looks like ours
    data = (b'{"op_code":0,"worker_id":"w","study_name":"x","directions":[1]}\n'
            b'{"event": "login"}\n')
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        command(tiny_args(tmp_path / "runs", f"search.storage={path}"))
    assert info.value.path == "search.storage" and f"{path}: line 2 " in str(info.value)
    assert path.read_bytes() == data  # once, 84 bytes were cut to 52 here
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.log"]  # no backup, no lock


def test_a_refused_resume_writes_nothing(root: Path, tmp_path: Path) -> None:
    prepare(tiny_args(root)).study()
    journal = root / "tiny" / "journal.log"
    before = journal.read_bytes()
    other = tmp_path / "other_space.yaml"
    other.write_text(TINY.read_text().replace("high: 1.0}", "high: 0.9}"))
    study_module._storages.clear()
    with pytest.raises(ConfigError) as info:
        prepare([f"search={other}", f"search.root={root}"]).study()
    assert info.value.path == "search.study_name" and "fingerprint" in str(info.value)
    assert journal.read_bytes() == before  # no create-study record appended
    assert len(load(root).trials) == 0


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "../x"])
def test_study_name_is_a_plain_name(root: Path, name: str) -> None:
    with pytest.raises(ConfigError) as info:
        prepare(tiny_args(root, f"search.study_name='{name}'"))
    assert info.value.path == "search.study_name"
    assert not root.exists()
