"""An image folder describes itself: class count, channels and size read from the images,
the same network in summary, search and train, a user's value kept and checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import archforge
from archforge.cli import main
from archforge.config.compose import compose
from archforge.config.run import Run, parse_run
from archforge.errors import ConfigError

TINY = Path(__file__).parents[1] / "cli" / "tiny.yaml"  # leaves its data keys out


def write_folder(root: Path, sizes: list[tuple[int, int]], mode: str = "L",
                 classes: int = 3) -> Path:
    """`classes` class folders, one image per size in `sizes` in each."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            shape = (h, w) if mode == "L" else (h, w, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / f"class{c}" / f"{i}.png")
    return root


def run_of(root: Path, *extra: str) -> Run:
    return parse_run(compose([f"model={TINY}", "data=image_folder", f"data.root={root}",
                              *extra]))


def _io(run: object) -> tuple[int, int, int]:
    m = run.model  # type: ignore[attr-defined]
    return m.in_channels, m.num_classes, m.input_size


def test_grey_28x28_trains_at_its_native_size(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "digits", [(28, 28)] * 2)
    run = run_of(root)
    assert _io(run) == (1, 3, 28)
    assert (run.data.channels, run.data.num_classes, run.data.image_size) == (1, 3, 28)
    # recorded in the run's config as the values used
    assert {k: run.resolved["data"][k] for k in ("channels", "num_classes", "image_size")} == \
        {"channels": 1, "num_classes": 3, "image_size": 28}
    assert run.notes[0].startswith(f"image folder {root}: 3 classes, 1x28x28 native")
    # small grey images with the photo recipe's flips: warned, with the way to turn them off
    assert run.notes[-1].startswith("warning: horizontal flips are on")
    assert "data.augment.hflip=false" in run.notes[-1]
    quiet = run_of(root, "data.augment.hflip=false")
    assert len(quiet.notes) == 1 and "flip" not in quiet.notes[0]


def test_colour_32x32(tmp_path: Path) -> None:
    run = run_of(write_folder(tmp_path / "c", [(32, 32)], mode="RGB", classes=2))
    assert _io(run) == (3, 2, 32)
    assert "3x32x32 native" in run.notes[0] and "colour" in run.notes[0]
    assert "horizontal flips on (data.augment.hflip=false turns them off)" in run.notes[0]
    assert len(run.notes) == 1  # colour: no mirror-image warning


def test_mixed_sizes_take_the_median_longer_side_and_say_so(tmp_path: Path) -> None:
    run = run_of(write_folder(tmp_path / "m", [(20, 20), (30, 24), (40, 40)]))
    assert _io(run)[2] == 30
    assert "3 sizes from 20x20 to 40x40: stretched to 30x30, the median of their longer " \
        "sides" in run.notes[0]
    big = run_of(write_folder(tmp_path / "big", [(300, 300)], mode="RGB", classes=2))
    assert _io(big)[2] == 224 and "data.image_size=300 keeps them native" in big.notes[0]


def test_a_value_the_user_gives_wins_and_is_checked(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "g", [(28, 28)])
    run = run_of(root, "data.image_size=14", "data.channels=3")
    assert _io(run) == (3, 3, 14)
    assert "data.num_classes read from the images" in run.notes[0]
    with pytest.raises(ConfigError, match=r"^data.num_classes: is 5, but .* has 3 class "
                       r"folders: class0, class1, class2"):
        build_data(root, "data.num_classes=5")


def build_data(root: Path, *extra: str) -> None:
    from archforge.training.fit import make_datamodule

    make_datamodule(run_of(root, *extra))


def test_train_prints_what_it_read_once_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_folder(tmp_path / "g", [(8, 8)] * 2)
    run_dir = tmp_path / "run"
    assert main(["train", f"model={TINY}", "data=image_folder", f"data.root={root}",
                 "data.val_fraction=0.5", "trainer.max_epochs=1", "progress=false",
                 f"run_dir={run_dir}"]) == 0
    out, err = capsys.readouterr()
    assert err.count("1x8x8 native") == 1 and "image folder" not in out
    recorded = (run_dir / "config.yaml").read_text()
    assert "in_channels: 1" in recorded and "image_size: 8" in recorded


def test_summary_search_and_train_build_the_same_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_folder(tmp_path / "g", [(12, 12)])
    args = ["data=image_folder", f"data.root={root}"]
    trained = run_of(root).summary  # train (and each search trial) parse the same way
    assert trained.input_shape == (1, 12, 12) and trained.rows[-1].out_shape == (3,)
    assert main(["summary", f"model={TINY}", *args]) == 0
    out, err = capsys.readouterr()
    assert "(input 1x12x12)" in out and f"{trained.total_params:,}" in out
    assert "1x12x12 native" in err
    assert archforge.summary(str(TINY), args).total_params == trained.total_params

    from archforge.search.runtime.prepare import prepare

    space = tmp_path / "space.yaml"
    space.write_text("study_name: s\nspace:\n  model.width: [1.0]\nconstraints: {max_params: 10}\n")
    prepared = prepare([f"search={space}", f"model={TINY}", *args])
    assert parse_run(prepared.cfg).summary.total_params == trained.total_params
    assert main(["search", f"search={space}", f"model={TINY}", *args, "search.n_trials=1",
                 f"search.root={tmp_path / 'runs'}", "search.progress=false"]) == 0
    # said once, before the trials (the one trial is over max_params: no training)
    assert capsys.readouterr().err.count("1x12x12 native") == 1
