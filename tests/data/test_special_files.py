"""Reading images never blocks: a FIFO, device or socket among the images is skipped with one
warning naming it (data/image_files.py); Pillow's decompression-bomb warning is one line
naming the file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sample_data import write_image_folder

from archforge.cli import main
from archforge.data.base import DataWarning
from archforge.data.folder_stats import folder_stats, list_files
from archforge.data.image_files import NotRegularFile, open_image
from archforge.data.image_folder import scan
from archforge.quiet import quiet_third_party

TINY = Path(__file__).parents[1] / "cli" / "tiny.yaml"
SECONDS = 120  # a blocked open() never returns; anything that returns is far below this


@contextlib.contextmanager
def deadline(seconds: int = SECONDS) -> Iterator[None]:
    """Fail (SIGALRM interrupts a blocked open()) instead of hanging the test run."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: blocked on a special file?")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """3 cats (png), 3 dogs (jpg) and a FIFO named cats/x.png that no one ever writes to."""
    root = write_image_folder(tmp_path / "images", broken=False)
    os.mkfifo(root / "cats" / "x.png")
    return root


def test_a_fifo_is_left_out_of_listing_stats_and_scan(folder: Path) -> None:
    fifo = folder / "cats" / "x.png"
    with deadline(), pytest.warns(DataWarning, match=r"1 entry that is not a regular file") \
            as record:
        files = list_files(folder / "cats")
        stats = folder_stats(folder, ["cats", "dogs"])
        samples = scan(folder, ["cats", "dogs"], verify=True)
    assert fifo not in files and len(files) == 3
    assert stats.images == 6 and stats.sizes == (((20, 12), 6),)
    assert sorted(label for _, label in samples) == [0, 0, 0, 1, 1, 1]
    assert any(f"{fifo} (FIFO)" in str(w.message) for w in record)
    # named directly: opened non-blocking and refused
    with deadline(), pytest.raises(NotRegularFile, match="a FIFO, not an image file"), \
            open_image(fifo):
        pass


def test_devices_and_sockets_are_named_too(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    os.symlink("/dev/zero", tmp_path / "c" / "zero.png")  # a device that never ends
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "c" / "s.png"))
        with deadline(), pytest.warns(DataWarning) as record:
            assert list_files(tmp_path / "c") == []
    finally:
        sock.close()
    text = str(record[0].message)
    assert text.startswith("skipping 2 entries that are not a regular file")
    assert "zero.png (character device)" in text and "s.png (socket)" in text


def test_train_and_predict_finish_beside_a_fifo(folder: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    args = ["train", f"model={TINY}", "data=image_folder", f"data.root={folder}",
            "data.val_fraction=0.5", "trainer.max_epochs=1", "progress=false",
            f"run_dir={run}"]
    with deadline(), pytest.warns(DataWarning, match=r"x\.png \(FIFO\)"):
        assert main(args) == 0
    ckpt = run / "checkpoints" / "best.ckpt"
    assert ckpt.is_file()
    capsys.readouterr()
    with deadline(), pytest.warns(DataWarning, match=r"x\.png \(FIFO\)"):
        assert main(["predict", f"checkpoint={ckpt}", f"input={folder}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and not any("x.png" in line for line in lines)
    with deadline():
        assert main(["predict", f"checkpoint={ckpt}", f"input={folder / 'cats' / 'x.png'}"]) == 2
    assert "is a FIFO, not an image file" in capsys.readouterr().err


def test_a_decompression_bomb_warning_is_one_line_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (20, 12)).save(path)
    # 240 pixels over a limit of 200: Pillow's warning band is (limit, 2 * limit]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)
    with pytest.warns(DataWarning) as record, open_image(path) as image:
        assert image.size == (20, 12)
    assert [w.category for w in record] == [DataWarning]  # Pillow's own warning replaced
    assert str(record[0].message) == (
        f"image {path} is 20x12 (240 pixels), more than Pillow's decompression-bomb limit of "
        "200: it is decoded, but check that it is what you meant to train on")
    quiet_third_party()  # archforge's warnings print as one line, without a source line
    w = record[0]
    printed = warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
    assert printed == f"DataWarning: {w.message}\n"
