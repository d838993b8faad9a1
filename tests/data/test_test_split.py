"""The held-out test split: read by `archforge evaluate` and `train test=true`, never by a
search. Tiny generated Fashion-MNIST-format files, a tiny network, one or two epochs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sample_data import IDX_TEST, write_idx_set
from search_never_tests import search_without_test_split

from archforge.checkpoint import load_network
from archforge.cli import main
from archforge.data import build_datamodule
from archforge.data.mnist import IdxDataModule
from archforge.training.evaluation import evaluate

TESTS = Path(__file__).parents[1]
TINY_MODEL = TESTS / "cli" / "tiny.yaml"


def _train_args(idx: Path, run: Path, *extra: str) -> list[str]:
    return ["train", f"model={TINY_MODEL}", "data=fashion_mnist", f"data.root={idx}",
            "data.val_fraction=0.25", "data.batch_size=16", "trainer.max_epochs=1",
            "progress=false", f"run_dir={run}", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("fashion")
    idx = write_idx_set(tmp / "idx")
    run = tmp / "run"
    assert main(_train_args(idx, run, "test=true")) == 0
    return idx, run


def test_train_with_test_true_evaluates_best_ckpt_on_the_test_files(
    trained: tuple[Path, Path],
) -> None:
    idx, run = trained
    saved = json.loads((run / "evaluation_test.json").read_text())
    assert (run / "confusion_test.png").stat().st_size > 0
    assert saved["split"] == "test" and saved["images"] == IDX_TEST
    # The saved figures are what best.ckpt predicts on the t10k files.
    net, _ = load_network(run / "checkpoints" / "best.ckpt")
    dm = build_datamodule({"name": "fashion_mnist", "root": str(idx), "batch_size": 5})
    with torch.no_grad():
        predicted = torch.cat([net(x).argmax(1) for x, _ in dm.test_dataloader()])
    labels = torch.arange(IDX_TEST) % 10
    assert saved["accuracy"] == pytest.approx(float((predicted == labels).float().mean()))
    confusion = torch.tensor(saved["confusion"])
    assert confusion.sum() == IDX_TEST and confusion.sum(1).tolist() == [2, 2] + [1] * 8
    for i, name in enumerate(dm.class_names):
        assert saved["per_class"][name] == pytest.approx(
            float(confusion[i, i]) / float(confusion[i].sum()))


def test_evaluate_command_prints_and_saves_either_split(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = trained
    ckpt = run / "checkpoints" / "best.ckpt"
    out = tmp_path / "out"
    assert main(["evaluate", f"checkpoint={ckpt}", "split=val", f"output={out}"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "evaluation_val.json").read_text())
    assert saved["images"] == 10 and f"val accuracy: {100 * saved['accuracy']:.2f}%" in printed
    assert "Ankle boot" in printed and (out / "confusion_val.png").is_file()


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["split=train"], "split: got 'train'; expected test or val"),
        (["data=digits"], "data: data 'digits' gives 1x8x8 images"),
        (["data.root=/nowhere"], "data.root: no Fashion-MNIST file"),
        (["data=digits", "data.image_size=28", "split=test"], "split: data 'digits' has no test"),
    ],
)
def test_evaluate_errors_are_one_line(
    trained: tuple[Path, Path], args: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = trained[1] / "checkpoints" / "best.ckpt"
    assert main(["evaluate", f"checkpoint={ckpt}", *args]) == 2
    assert text in capsys.readouterr().err


def test_test_true_without_a_test_split_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", f"model={TINY_MODEL}", "data=digits", "progress=false",
            f"run_dir={tmp_path / 'run'}", "test=true"]
    assert main(args) == 2
    assert "test: data 'digits' keeps no test split" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_evaluate_counts_a_confusion_matrix() -> None:
    class Fixed(torch.nn.Module):  # predicts class (first pixel) for every image
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.one_hot(x[:, 0, 0, 0].long(), 3).float()

    images = torch.tensor([0, 1, 1, 2, 0]).view(-1, 1, 1, 1).float()
    labels = torch.tensor([0, 1, 2, 2, 1])
    result = evaluate(Fixed(), [(images, labels)], ["a", "b", "c"], "test")
    assert result.confusion == [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    assert result.accuracy == pytest.approx(3 / 5)
    assert result.per_class == {"a": 1.0, "b": 0.5, "c": 0.5}


@pytest.mark.slow
def test_a_search_never_reads_the_test_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = write_idx_set(tmp_path / "idx")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (idx / name).unlink()  # opening either would fail the trial

    trials = search_without_test_split(
        monkeypatch, IdxDataModule, tmp_path / "runs", "data=fashion_mnist", f"data.root={idx}",
        "data.val_fraction=0.25", "data.batch_size=16")
    assert all(t.user_attrs["model_config"]["input_size"] == 28 for t in trials)
