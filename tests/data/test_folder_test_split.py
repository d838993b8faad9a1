"""An image folder's held-out test folder (`data.test_dir`): read by `archforge evaluate
split=test` and `archforge train test=true`, which name the split and the folder; never by
fitting or a search. Tiny generated class folders, a tiny network, one epoch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from sample_data import write_image_folder
from search_never_tests import search_without_test_split

from archforge.checkpoint import load_network
from archforge.cli import main
from archforge.data import ImageFolderDataModule, build_datamodule
from archforge.errors import ConfigError

TESTS = Path(__file__).parents[1]
TINY_MODEL = TESTS / "cli" / "tiny.yaml"
SEARCH_SPACE = TESTS / "search" / "tiny.yaml"


def _folders(tmp: Path) -> tuple[Path, Path, Path]:
    """train (3 per class), val (2 per class) and test (2 per class) folders of cats/dogs."""
    return (write_image_folder(tmp / "train", per_class=3, broken=False),
            write_image_folder(tmp / "val", per_class=2, broken=False),
            write_image_folder(tmp / "test", per_class=2, broken=False))


def _data(train: Path, val: Path, **extra: object) -> ImageFolderDataModule:
    dm = build_datamodule({"name": "image_folder", "train_dir": str(train),
                           "val_dir": str(val), "image_size": 8, "batch_size": 4, **extra})
    assert isinstance(dm, ImageFolderDataModule)
    return dm


def test_the_test_folder_is_labelled_by_the_training_classes(tmp_path: Path) -> None:
    train, val, test = _folders(tmp_path)
    shutil.rmtree(test / "cats")  # a test folder may lack a class
    dm = _data(train, val, test_dir=str(test))
    dm.setup("test")
    assert dm.train_set is None  # the test split alone: nothing of training is read
    assert dm.test_set is not None and dm.test_set.targets == [1, 1]  # type: ignore[attr-defined]
    images, labels = next(iter(dm.test_dataloader()))
    assert images.shape == (2, 3, 8, 8) and labels.tolist() == [1, 1]
    assert dm.split_source("test") == f"{test} (data.test_dir)"
    assert dm.split_source("val") == f"{val} (data.val_dir)"


def test_fitting_never_opens_the_test_folder(tmp_path: Path) -> None:
    train, val, _ = _folders(tmp_path)
    dm = _data(train, val, test_dir=str(tmp_path / "nowhere"))
    dm.setup("fit")
    assert len(dm.train_set) == 6 and dm.test_set is None  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="folder not found") as info:
        dm.setup("test")
    assert info.value.path == "data.test_dir"


def test_a_test_folder_with_an_unknown_class_is_refused(tmp_path: Path) -> None:
    train, val, test = _folders(tmp_path)
    write_image_folder(tmp_path / "more", per_class=1, broken=False)
    shutil.move(tmp_path / "more" / "cats", test / "birds")
    with pytest.raises(ConfigError, match=r"class folders not in .*: birds") as info:
        _data(train, val, test_dir=str(test)).setup("test")
    assert info.value.path == "data.test_dir"


def test_without_a_test_folder_the_error_says_how_to_name_one(tmp_path: Path) -> None:
    train, val, _ = _folders(tmp_path)
    with pytest.raises(ConfigError) as info:
        _data(train, val).setup("test")
    assert info.value.path == "split"
    assert "has no test split" in str(info.value) and "data.test_dir=<folder>" in str(info.value)


def _train_args(train: Path, val: Path, run: Path, *extra: str) -> list[str]:
    return ["train", f"model={TINY_MODEL}", "data=image_folder", f"data.train_dir={train}",
            f"data.val_dir={val}", "data.image_size=8", "data.batch_size=4",
            "trainer.max_epochs=1", "progress=false", f"run_dir={run}", *extra]


def test_train_test_true_and_evaluate_read_the_test_folder_and_name_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, val, test = _folders(tmp_path)
    run = tmp_path / "run"
    assert main(_train_args(train, val, run, f"data.test_dir={test}", "test=true")) == 0
    printed = capsys.readouterr().out
    saved = json.loads((run / "evaluation_test.json").read_text())
    assert f"test split: {test} (data.test_dir)" in printed
    assert f"test accuracy: {100 * saved['accuracy']:.2f}% of 4 images" in printed
    assert saved["split"] == "test" and saved["images"] == 4
    assert saved["source"] == f"{test} (data.test_dir)"
    assert (run / "confusion_test.png").stat().st_size > 0
    # The saved figure is what best.ckpt predicts on the test folder's four images.
    net, _ = load_network(run / "checkpoints" / "best.ckpt")
    dm = _data(train, val, test_dir=str(test))
    with torch.no_grad():
        pairs = [(net(x).argmax(1), y) for x, y in dm.test_dataloader()]
    correct = sum(int((p == y).sum()) for p, y in pairs)
    assert saved["accuracy"] == pytest.approx(correct / 4)
    # evaluate reads the test_dir the checkpoint recorded, and says so
    out = tmp_path / "eval"
    ckpt = run / "checkpoints" / "best.ckpt"
    assert main(["evaluate", f"checkpoint={ckpt}", "split=test", f"output={out}"]) == 0
    assert f"test split: {test} (data.test_dir)" in capsys.readouterr().out
    assert json.loads((out / "evaluation_test.json").read_text())["accuracy"] == saved["accuracy"]


def test_a_run_without_test_dir_is_evaluated_on_one_named_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, val, test = _folders(tmp_path)
    refused, run = tmp_path / "refused", tmp_path / "run"
    assert main(_train_args(train, val, refused, "test=true")) == 2  # before training
    err = capsys.readouterr().err
    assert "test: data 'image_folder' keeps no test split" in err and "data.test_dir=" in err
    assert not (refused / "checkpoints").exists()
    assert main(_train_args(train, val, run)) == 0
    ckpt = run / "checkpoints" / "best.ckpt"
    capsys.readouterr()
    assert main(["evaluate", f"checkpoint={ckpt}", "split=test"]) == 2
    err = capsys.readouterr().err
    assert "split: data 'image_folder' has no test split" in err
    assert "pass data.test_dir=<folder>" in err
    assert main(["evaluate", f"checkpoint={ckpt}", "split=test", f"data.test_dir={test}"]) == 0
    assert f"test split: {test} (data.test_dir)" in capsys.readouterr().out
    assert json.loads((run / "evaluation_test.json").read_text())["images"] == 4
    assert not (run / "evaluation_val.json").exists()


@pytest.mark.slow
def test_a_search_never_reads_the_test_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, val, _ = _folders(tmp_path)
    trials = search_without_test_split(
        monkeypatch, ImageFolderDataModule, tmp_path / "runs", "data=image_folder",
        f"data.train_dir={train}", f"data.val_dir={val}", f"data.test_dir={tmp_path / 'nowhere'}",
        "data.image_size=8", "data.batch_size=4")
    assert all(t.user_attrs["model_config"]["input_size"] == 8 for t in trials)


def test_a_study_ignores_the_test_folder_and_refuses_other_data_with_a_new_name(
    tmp_path: Path,
) -> None:
    from archforge.search.runtime.prepare import prepare

    train, val, test = _folders(tmp_path)
    other_val = write_image_folder(tmp_path / "val2", per_class=1, broken=False)

    def args(*extra: str) -> list[str]:
        return [f"search={SEARCH_SPACE}", f"search.root={tmp_path / 'runs'}",
                "data=image_folder", f"data.train_dir={train}", "data.image_size=8", *extra]

    prepare(args(f"data.val_dir={val}", f"data.test_dir={test}")).study()
    prepare(args(f"data.val_dir={val}")).study()  # the test folder is no part of the study
    with pytest.raises(ConfigError) as info:
        prepare(args(f"data.val_dir={other_val}")).study()
    assert info.value.path == "search.study_name"
    assert "differs at: data.val_dir" in str(info.value)
    assert "search.study_name=<new name> (e.g. search.study_name=tiny_2)" in str(info.value)
    prepare(args(f"data.val_dir={other_val}", "search.study_name=tiny_2")).study()
