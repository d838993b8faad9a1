"""`archforge train | predict | export` end to end on a tiny run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image
from train_helpers import tiny_overrides

from archforge.checkpoint import load_network
from archforge.cli import main
from archforge.export import to_onnx


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    assert main(["train", *tiny_overrides(tmp, "trainer.max_epochs=1")]) == 0
    return tmp / "run" / "checkpoints" / "best.ckpt"


def test_train_prints_metrics_and_checkpoint(trained: Path, capsys) -> None:
    # the module fixture's output was captured earlier; run a second, one-batch command
    out_dir = trained.parent.parent.parent / "again"
    args = tiny_overrides(out_dir, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    assert main(["train", *args]) == 0
    out = capsys.readouterr().out
    # both the epoch kept in best.ckpt and the last epoch, labelled
    assert "best (epoch 1, best.ckpt): val/acc " in out and "%" in out
    assert "last (epoch 1, last.ckpt): val/acc " in out
    assert f"best checkpoint: {out_dir / 'run' / 'checkpoints' / 'best.ckpt'}" in out


def test_predict_prints_label_and_probability(trained: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")  # ignored by suffix
    assert main(["predict", f"checkpoint={trained}", f"input={folder}"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        path, _, rest = line.partition(": ")
        label, prob = rest.split(" (")
        assert Path(path).suffix == ".png"
        assert label.startswith("class") or label.isdigit() or label
        assert 0.0 < float(prob.rstrip(")")) <= 1.0


def test_cli_errors_are_one_line(trained: Path, tmp_path: Path, capsys) -> None:
    assert main(["predict", f"checkpoint={trained}", f"input={tmp_path / 'missing.png'}"]) == 2
    assert main(["export", f"checkpoint={tmp_path / 'nope.ckpt'}"]) == 2
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x00" * 10)
    assert main(["export", f"checkpoint={bad}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("ConfigError: input: file or folder not found")
    assert err[1].startswith("CheckpointError: checkpoint: file not found")
    assert "bad.ckpt" in err[2] and "corrupt" in err[2]


def test_export_onnx_and_torchscript_match(trained: Path, tmp_path: Path) -> None:
    assert main(["export", f"checkpoint={trained}", "format=both", f"output={tmp_path}"]) == 0
    net, _ = load_network(trained)
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = net(x).numpy()
    session = ort.InferenceSession(str(tmp_path / "best.onnx"))
    got = session.run(None, {"input": x.numpy()})[0]  # batch 3: the batch axis is dynamic
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    scripted = torch.jit.load(str(tmp_path / "best.torchscript.pt"))
    torch.testing.assert_close(scripted(x), torch.from_numpy(expected), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_resnet20_dynamo_onnx_export(tmp_path: Path) -> None:
    import archforge

    net = archforge.build("resnet20").eval()
    path = to_onnx(net, tmp_path / "r20.onnx", dynamo=True)
    x = torch.randn(2, 3, 32, 32)
    got = ort.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, net(x).numpy(), atol=1e-4, rtol=0)


def test_export_honours_opset(trained: Path, tmp_path: Path) -> None:
    import onnx

    args = ["export", f"checkpoint={trained}", "format=onnx", f"output={tmp_path}", "opset=13"]
    assert main(args) == 0
    model = onnx.load(str(tmp_path / "best.onnx"))
    assert {o.domain: o.version for o in model.opset_import}[""] == 13
    net, _ = load_network(trained)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    got = ort.InferenceSession(str(tmp_path / "best.onnx")).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, net(x).numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("export C opset=99", "ConfigError: opset: got 99; expected an integer from 7 to 20"),
        ("export C opset=6", "ConfigError: opset: got 6; expected an integer from 7 to 20"),
        ("export C opset=x", "ConfigError: opset: got 'x'; expected an integer"),
        ("export C format=torchscript opset=13", "ConfigError: opset: applies to ONNX only"),
        ("export C format=tflite", "ConfigError: format: got 'tflite'; expected one of"),
        ("export C opsett=13", "ConfigError: opsett: unknown key for `archforge export`; "
         "known: checkpoint, format, opset, output; did you mean 'opset'?"),
        ("export C C", "ConfigError: checkpoint: given twice"),
        ("predict chekpoint=a.ckpt", "ConfigError: chekpoint: unknown key for `archforge "
         "predict`; known: checkpoint, input, top_k; did you mean 'checkpoint'?"),
        ("predict I", "ConfigError: checkpoint: missing; archforge predict checkpoint=..."),
        ("predict C I top_k=0", "ConfigError: top_k: got 0; expected an integer >= 1"),
        ("predict C I top_k=two", "ConfigError: top_k: got 'two'; expected an integer"),
    ],
)
def test_argument_errors_name_the_key(
    trained: Path, tmp_path: Path, capsys, args: str, expected: str
) -> None:
    fill = {"C": f"checkpoint={trained}", "I": f"input={trained}"}
    argv = [fill.get(a, a) for a in args.split()]
    if argv[0] == "export":
        argv.append(f"output={tmp_path}")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected)
    assert len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing was exported


def test_best_checkpoint_being_a_directory_is_one_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "run" / "checkpoints" / "best.ckpt").mkdir(parents=True)
    args = tiny_overrides(tmp_path, "trainer.max_epochs=1", "trainer.limit_train_batches=1")
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    # found by the run-directory check, before any training
    assert err[-1].startswith("ConfigError: ") and f"{best} is a directory" in err[-1]
    assert list(best.iterdir()) == []
