"""A shipped search space runs on the data the person names (issue #29 item 3):
`archforge search search=fashion data=image_folder data.train_dir=... data.val_dir=...`
drops the space's Fashion-MNIST-only `data.train_subset` with a one-line notice, keeps the
keys the chosen data has, and an error a space's override causes names the file and line."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState
from sample_data import write_image_folder

from archforge.cli import main
from archforge.config.compose import conf_dir, group_options
from archforge.config.search_file import SearchFile, search_file
from archforge.config.space_data import follow_user_data
from archforge.search.runtime.prepare import prepare, split_args
from archforge.search.runtime.study import open_storage

FASHION = ["model=resnet20", "data=fashion_mnist", "data.train_subset=12000",
           "trainer.max_epochs=6", "optim.lr=0.1"]


def _folders(tmp_path: Path) -> list[str]:
    train = write_image_folder(tmp_path / "train", per_class=4, broken=False)
    val = write_image_folder(tmp_path / "val", per_class=2, broken=False)
    return ["data=image_folder", f"data.train_dir={train}", f"data.val_dir={val}"]


def test_data_keys_the_chosen_data_lacks_are_dropped_with_one_notice_each() -> None:
    source = SearchFile(Path("/s.yaml"), (3, 4, 5, 6, 7, 8, 9, 10)).holding(
        [*FASHION, "data.augment.hflip=false", "+data.bogus=1", "~data.mean"])
    kept, notes = follow_user_data(source.items, ["search=x", "data=image_folder"], source)
    assert kept == ["model=resnet20", "data=fashion_mnist", "trainer.max_epochs=6",
                    "optim.lr=0.1", "data.augment.hflip=false", "~data.mean"]
    assert notes == [
        "note: /s.yaml, line 5: overrides item 'data.train_subset=12000' is not a key of "
        "data=image_folder; dropped (the space follows the data you named)",
        "note: /s.yaml, line 9: overrides item '+data.bogus=1' is not a key of "
        "data=image_folder; dropped (the space follows the data you named)"]
    # a key the chosen data has is kept (mnist has train_subset too)
    assert follow_user_data(source.items, ["data=mnist"], source)[0] == [
        *FASHION, "data.augment.hflip=false", "~data.mean"]
    # no data of the person's own, or the file's own choice again: nothing dropped
    for args in (["search=x"], ["data=fashion_mnist"], [*FASHION, "seed=1"]):
        assert follow_user_data(source.items, args, source) == (list(source.items), [])


@pytest.mark.parametrize("space", group_options("search"))
def test_every_shipped_space_prepares_on_an_image_folder(tmp_path: Path, space: str) -> None:
    prep = prepare([f"search={space}", *_folders(tmp_path), f"search.root={tmp_path / 'r'}"])
    assert prep.base["data"]["name"] == "image_folder"
    assert "train_subset" not in prep.base["data"]
    dropped = [n for n in prep.notes if "train_subset" in n]
    assert len(dropped) == (1 if space == "fashion" else 0), prep.notes
    # a resumed job (the file's overrides already in front) splits to the same
    again = split_args(prep.base_overrides)
    assert again.all == prep.base_overrides and again.notes == prep.notes


def test_an_error_a_space_override_causes_names_the_file_and_the_override(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fashion = conf_dir() / "search" / "fashion.yaml"
    space = tmp_path / "mine.yaml"
    space.write_text(fashion.read_text().replace("- trainer.max_epochs=6",
                                                 "- trainer.max_epoch=6"))
    line = search_file([f"search={space}"]).lines[3]
    assert main(["search", f"search={space}", f"search.root={tmp_path / 'r'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ConfigError: trainer.max_epoch: no such key; did you mean "
                          "trainer.max_epochs?")
    assert err.endswith(f"(set by {space}, line {line}: overrides item "
                        "'trainer.max_epoch=6')")


@pytest.mark.slow
def test_search_fashion_runs_on_an_image_folder_named_on_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    args = ["search", "search=fashion", *_folders(tmp_path), "data.image_size=8",
            f"search.root={root}", "search.n_trials=1", "search.progress=false",
            "trainer.max_epochs=1", "optim.warmup_epochs=0"]
    assert main(args) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if "dropped" in line]
    assert notes == [f"note: {conf_dir() / 'search' / 'fashion.yaml'}, line 30: overrides "
                     "item 'data.train_subset=12000' is not a key of data=image_folder; "
                     "dropped (the space follows the data you named)"]
    best = yaml.safe_load((root / "fashion" / "best_run.yaml").read_text())
    assert best["data"]["name"] == "image_folder" and "train_subset" not in best["data"]
    assert best["data"]["train_dir"] == str(tmp_path / "train")
    assert best["trainer"]["max_epochs"] == 1
    study = optuna.load_study(study_name="fashion",
                              storage=open_storage(str(root / "fashion" / "journal.log")))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]
