"""load_network: a stored model config is plain data, validated before any real weight."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ckpt_helpers import tiny_model, tiny_net, write_checkpoint

from archforge.checkpoint import load_network
from archforge.checkpoint import network as network_module
from archforge.errors import CheckpointError

SECRET = "ARCHFORGE_TEST_SECRET"


def test_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    net = tiny_net()
    path = write_checkpoint(tmp_path / "best.ckpt", net)
    loaded, meta = load_network(path)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x), atol=0, rtol=0)
    assert not loaded.training
    assert meta["class_names"] == ["a", "b", "c"]


def test_interpolation_is_never_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET, "7")  # a valid num_classes, were it ever read
    model = tiny_model(num_classes="${oc.env:" + SECRET + "}")
    path = write_checkpoint(tmp_path / "crafted.ckpt", tiny_net(), model)
    with pytest.raises(CheckpointError) as info:
        load_network(path)
    text = str(info.value)
    assert "crafted.ckpt" in text and "model.num_classes" in text
    assert "${oc.env:ARCHFORGE_TEST_SECRET}" in text and "expected an integer" in text


def test_interpolation_in_a_free_string_stays_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, "leaked")
    literal = "${oc.env:" + SECRET + "}"
    path = write_checkpoint(tmp_path / "named.ckpt", tiny_net(), tiny_model(name=literal))
    net, _ = load_network(path)
    assert net.config.name == literal


def test_huge_depth_is_refused_at_once(tmp_path: Path) -> None:
    stages = [{"depth": 10**23, "out_channels": 4, "stride": 1}]
    path = write_checkpoint(tmp_path / "deep.ckpt", tiny_net(), tiny_model(stages=stages))
    with pytest.raises(CheckpointError, match=r"deep\.ckpt.*model\.stages\[0\]\.depth"):
        load_network(path)  # the schema's size bound, not a build that never ends


def test_config_larger_than_its_tensors_allocates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wide = [{"depth": 4, "out_channels": 2048, "stride": 1}]  # ~300M params, within bounds
    path = write_checkpoint(tmp_path / "wide.ckpt", tiny_net(), tiny_model(stages=wide))

    def no_build(cfg: object) -> None:
        raise AssertionError("real weights were allocated")

    monkeypatch.setattr(network_module, "build_network", no_build)
    with pytest.raises(CheckpointError, match=r"wide\.ckpt.*parameters but only"):
        load_network(path)


def test_checkpoint_not_written_by_archforge(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save(tiny_net().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"plain\.pt was not written by `archforge train`"):
        load_network(path)


def test_weights_that_do_not_fit_the_stored_config(tmp_path: Path) -> None:
    net = tiny_net()
    state_model = tiny_model(num_classes=5)  # stored config says 5 classes, tensors say 3
    path = write_checkpoint(tmp_path / "mixed.ckpt", net, state_model)
    expected = r"(?s)mixed\.ckpt does not fit model 'tiny'.*head\.fc\.weight"
    with pytest.raises(CheckpointError, match=expected):
        load_network(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04truncated"])
def test_corrupt_file_is_one_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"checkpoint: cannot read .*broken\.ckpt.*corrupt"):
        load_network(path)


def test_truncated_checkpoint(tmp_path: Path) -> None:
    good = write_checkpoint(tmp_path / "good.ckpt", tiny_net())
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size - 100])
    with pytest.raises(CheckpointError, match=r"cut\.ckpt.*corrupt, truncated"):
        load_network(cut)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "best.ckpt").mkdir()
    with pytest.raises(CheckpointError, match=r"best\.ckpt is a directory"):
        load_network(tmp_path / "best.ckpt")
