"""archforge.load_weights: torchvision-format ResNets, archforge checkpoints, clear errors."""

from __future__ import annotations

import pytest
import torch
from tv_resnet import TVResNet18, randomised

import archforge
from archforge.checkpoint.weights import from_torchvision
from archforge.errors import CheckpointError


@pytest.fixture(scope="module")
def tv_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[TVResNet18, object]:
    tv = randomised(TVResNet18())
    path = tmp_path_factory.mktemp("tv") / "resnet18.pth"
    torch.save(tv.state_dict(), path)
    return tv, path


def test_torchvision_resnet18_gives_identical_outputs(tv_state) -> None:
    tv, path = tv_state
    net = archforge.build("resnet18").eval()
    archforge.load_weights(net, path)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = tv(x), net(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_mapping_covers_every_key(tv_state) -> None:
    tv, _ = tv_state
    mapped = from_torchvision(tv.state_dict())
    target = archforge.build("resnet18").state_dict()
    assert set(mapped) == set(target)
    assert "stages.1.0.shortcut.conv.weight" in mapped  # layer2.0.downsample.0
    assert "head.fc.bias" in mapped


def test_other_architecture_is_one_error_listing_keys(tv_state) -> None:
    _, path = tv_state
    net = archforge.build("resnet34")
    with pytest.raises(CheckpointError) as info:
        archforge.load_weights(net, path, key="model.weights")
    text = str(info.value)
    assert text.startswith("model.weights:") and "resnet34" in text
    assert "missing in checkpoint: stages.0.2.conv1.weight" in text
    assert "... and" in text  # long lists are truncated
    assert text.count("\n") <= 14


def test_shape_mismatch_is_listed(tv_state) -> None:
    _, path = tv_state
    net = archforge.build("resnet18", ["model.num_classes=2"])
    expected = r"head\.fc\.weight: checkpoint \(1000, 512\) vs model \(2, 512\)"
    with pytest.raises(CheckpointError, match=expected):
        archforge.load_weights(net, path)
    # a new head for another class count: skip the mismatched head, load the rest
    archforge.load_weights(net, path, skip_mismatched=("head.",))
    tv_conv = torch.load(path, weights_only=True)["conv1.weight"]
    assert torch.equal(net.stem.conv.weight, tv_conv)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated"])
def test_corrupt_file_names_the_file(tmp_path, content: bytes) -> None:
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"broken\.ckpt"):
        archforge.load_weights(archforge.build("resnet20"), bad)


def test_truncated_real_checkpoint(tmp_path) -> None:
    net = archforge.build("resnet20")
    good = tmp_path / "good.pt"
    torch.save(net.state_dict(), good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt.*corrupt"):
        archforge.load_weights(net, cut)
    with pytest.raises(CheckpointError, match="file not found"):
        archforge.load_weights(net, tmp_path / "nothing.pt")


def test_refuses_pickled_code(tmp_path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "fn": print}, path)  # weights_only=True refuses callables
    with pytest.raises(CheckpointError, match=r"evil\.pt"):
        archforge.load_weights(archforge.build("resnet20"), path)


def test_wrapped_state_dicts(tmp_path) -> None:
    src = archforge.build("resnet20")
    dst = archforge.build("resnet20")
    wrapped = {"state_dict": {f"net.{k}": v for k, v in src.state_dict().items()}}
    archforge.load_weights(dst, wrapped)
    ddp = {f"module.{k}": v for k, v in src.state_dict().items()}
    archforge.load_weights(dst, ddp)
    for a, b in zip(src.state_dict().values(), dst.state_dict().values(), strict=True):
        assert torch.equal(a, b)
