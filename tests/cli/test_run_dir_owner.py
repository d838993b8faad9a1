"""A run directory (or a sweep's) holding files archforge did not write: refused, and even
with overwrite=true archforge replaces only its own files (archforge/training/run_owner.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cli_helpers import TINY_ARGS

from archforge.cli import main
from archforge.errors import ConfigError
from archforge.training.run_owner import MARKER, check_owner


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its sha256 (folders by their names)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else "dir")
            for p in sorted(folder.rglob("*"))}


def _users_folder(folder: Path) -> None:
    (folder / "csv").mkdir(parents=True)
    (folder / "config.yaml").write_text("my: own config\n")
    (folder / "train.log").write_text("my own log\n")
    (folder / "csv" / "metrics.csv").write_text("step,loss\n0,1.5\n")


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("ConfigError: run_dir: ")
    return err


@pytest.mark.parametrize("overwrite", [[], ["overwrite=true"]])
def test_a_users_folder_is_refused_and_left_byte_identical(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], overwrite: list[str]) -> None:
    mine = tmp_path / "mine"
    _users_folder(mine)
    before = _tree(mine)
    err = _refused(["train", *TINY_ARGS, f"run_dir={mine}", *overwrite], capsys)
    assert str(mine) in err and "did not write" in err
    if overwrite:  # even then: those names are archforge's layout, these files are not its
        assert "config.yaml, csv, train.log" in err and "replaces only archforge's own" in err
    else:
        assert "overwrite=true" in err
    assert _tree(mine) == before  # no .hydra/, no marker, every byte as it was


def test_overwrite_trains_beside_the_users_other_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    (run / "notes").mkdir(parents=True)
    (run / "notes" / "plan.txt").write_text("try wider stages\n")
    (run / "data.npz").write_bytes(b"\x00\x01")
    theirs = _tree(run)
    assert "did not write" in _refused(["train", *TINY_ARGS, f"run_dir={run}"], capsys)
    assert main(["train", *TINY_ARGS, f"run_dir={run}", "overwrite=true"]) == 0
    after = _tree(run)
    assert {k: after[k] for k in theirs} == theirs  # the user's files untouched
    assert (run / MARKER).is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    capsys.readouterr()
    # now archforge's run: its checkpoints are replaced only with overwrite=true
    assert "another run's checkpoints" in _refused(["train", *TINY_ARGS, f"run_dir={run}"],
                                                   capsys)
    assert main(["train", *TINY_ARGS, f"run_dir={run}", "overwrite=true"]) == 0
    after = _tree(run)
    assert {k: after[k] for k in theirs} == theirs


def test_a_sweep_into_a_users_folder_is_refused(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sweep"
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / "results.txt").write_text("mine\n")
    (sweep / "README").write_text("my experiments\n")
    before = _tree(sweep)
    for extra in ([], ["overwrite=true"]):
        err = _refused(["train", "-m", *TINY_ARGS, "seed=0,1", f"run_dir={sweep}", *extra],
                       capsys)
        assert str(sweep) in err and "did not write" in err
        assert _tree(sweep) == before


def test_hydras_own_files_of_this_job_are_not_the_users(tmp_path: Path) -> None:
    job = tmp_path / "job"
    (job / ".hydra").mkdir(parents=True)
    (job / "train.log").write_text("")
    check_owner(job, overwrite=False, hydra_written=True)  # what Hydra wrote for this job
    with pytest.raises(ConfigError, match="did not write"):
        check_owner(job, overwrite=False)  # before Hydra ran: someone else's
    (job / MARKER).write_text("")
    check_owner(job, overwrite=False)
