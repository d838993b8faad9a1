"""A data folder named by a checkpoint is read only within a bound (data/stored_folders.py):
a crafted checkpoint whose stored image folder is `/` is refused by `evaluate` without the
tree being listed, and `predict` falls back to the stored normalisation."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from ckpt_helpers import tiny_net, write_checkpoint

from archforge.cli import main
from archforge.data import stored_folders
from archforge.data.stored_folders import count_entries
from archforge.predict import Predictor

LIMIT = 500  # low, so refusing `/` stops after 501 entries


def _crafted(tmp_path: Path, root: str) -> Path:
    data = {"name": "image_folder", "root": root, "num_classes": None, "channels": None,
            "image_size": None, "val_fraction": 0.5}
    return write_checkpoint(tmp_path / "best.ckpt", tiny_net(), config={"data": data},
                            mean=[0.5], std=[0.25])


def _tree(folder: Path, files: int) -> Path:
    for i in range(files):
        sub = folder / f"class{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i}.png").write_bytes(b"not an image")
    return folder


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The entry counts `check_stored_folders` took, to show no walk went past the bound."""
    monkeypatch.setenv("ARCHFORGE_MAX_STORED_FOLDER_FILES", str(LIMIT))
    seen: list[int] = []

    def spy(folder: Path, limit: int) -> int:
        seen.append(count_entries(folder, limit))
        return seen[-1]

    monkeypatch.setattr(stored_folders, "count_entries", spy)
    return seen


def test_a_checkpoint_naming_slash_is_refused_by_evaluate(
        tmp_path: Path, counted: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _crafted(tmp_path, "/")
    start = time.perf_counter()
    assert main(["evaluate", f"checkpoint={ckpt}", "split=val", f"output={tmp_path}"]) == 2
    assert time.perf_counter() - start < 30
    err = capsys.readouterr().err.strip()
    assert err.startswith("ConfigError: data.root: / comes from the checkpoint and holds more "
                          f"than {LIMIT} files")
    assert "pass data.root=<folder> on the command line" in err
    assert len(err.splitlines()) == 1
    assert counted == [LIMIT + 1]  # the count stopped at the first entry past the bound
    assert not list(tmp_path.glob("evaluation_*"))


def test_a_big_stored_tree_is_refused_and_a_named_one_is_read(
        tmp_path: Path, counted: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    big = _tree(tmp_path / "big", LIMIT)  # 500 files + 3 folders: over the bound
    ckpt = _crafted(tmp_path, str(big))
    assert main(["evaluate", f"checkpoint={ckpt}", "split=val"]) == 2
    assert "data.root: " in capsys.readouterr().err
    # named on the command line: no bound; its three class folders are read (and then found
    # not to fit this 8x8 network)
    assert main(["evaluate", f"checkpoint={ckpt}", "split=val", f"data.root={big}"]) == 2
    err = capsys.readouterr().err
    assert "comes from the checkpoint" not in err
    assert "data 'image_folder' gives 1x224x224 images of 3 classes" in err
    assert counted == [LIMIT + 1]  # the named folder was not counted


def test_predict_falls_back_to_stored_statistics(tmp_path: Path, counted: list[int]) -> None:
    predictor = Predictor.from_checkpoint(_crafted(tmp_path, "/"))
    assert counted == [LIMIT + 1]
    from PIL import Image

    x = predictor.preprocess(Image.new("L", (5, 5), 255))
    assert tuple(x.shape) == (1, 8, 8) and float(x.max()) == pytest.approx(2.0)


def test_count_entries_does_not_follow_links(tmp_path: Path) -> None:
    _tree(tmp_path / "t", 6)
    os.symlink("/", tmp_path / "t" / "class0" / "to_root")
    counts: dict[str, Any] = {"all": count_entries(tmp_path / "t", 100),
                              "capped": count_entries(tmp_path / "t", 4)}
    assert counts == {"all": 3 + 6 + 1, "capped": 5}
