"""Composition: zoo names, YAML paths, mappings and command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import archforge
from archforge.config.compose import compose, model_mapping


def test_list_index_override_changes_one_stage() -> None:
    base = archforge.resolve("resnet50")
    cfg = archforge.resolve("resnet50", ["model.stages.1.depth=2"])
    assert [s.depth for s in cfg.stages] == [3, 2, 6, 3]
    assert base.stages[1].depth == 4


def test_family_form_overrides() -> None:
    cfg = archforge.resolve(
        "resnet20", ["model.block=bottleneck", "model.shortcut=projection", "model.width=2"]
    )
    assert (cfg.block, cfg.shortcut, cfg.width) == ("bottleneck", "projection", 2.0)
    summary = archforge.summary(cfg)
    assert summary.rows[1].out_shape[0] == 32  # 16 channels x width 2


def test_append_and_delete_overrides() -> None:
    cfg = archforge.resolve("resnet20", ["+model.block_options.zero_init_residual=true"])
    assert cfg.block_options == {"zero_init_residual": True}
    data = model_mapping("resnet20", ["~model.head"])
    assert "head" not in data


def test_yaml_path_and_mapping_build_the_same_network(tmp_path: Path) -> None:
    data = model_mapping("resnet20")
    path = tmp_path / "mine.yaml"
    OmegaConf.save(OmegaConf.create(data), path)
    from_path = archforge.summary(str(path), ["model.num_classes=7"])
    from_dict = archforge.summary(data, ["model.num_classes=7"])
    assert from_path.total_params == from_dict.total_params
    assert from_path.rows[-1].out_shape == (7,)


def test_file_saved_under_a_model_key_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.yaml"
    OmegaConf.save(OmegaConf.create({"model": model_mapping("resnet20")}), path)
    assert archforge.summary(path).total_params == 269_722


def test_build_returns_a_trainable_network_with_its_config() -> None:
    net = archforge.build("resnet20", ["model.stages.0.depth=1", "model.stages.1.depth=1",
                                       "model.stages.2.depth=1"])
    assert isinstance(net, archforge.Network)
    assert net.config.stages[0].depth == 1
    x = torch.randn(2, 3, 32, 32)
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_overrides_must_target_the_model() -> None:
    with pytest.raises(archforge.ConfigError):
        archforge.resolve("resnet20", ["trainer.max_epochs=3"])


def test_build_is_deterministic_under_a_seed() -> None:
    torch.manual_seed(0)
    a = archforge.build("resnet20")
    torch.manual_seed(0)
    b = archforge.build("resnet20")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_zero_init_residual_starts_blocks_as_identity() -> None:
    net = archforge.build("resnet20", ["+model.block_options.zero_init_residual=true"])
    block = net.stages[0][0]
    assert torch.count_nonzero(block.bn2.weight) == 0


def test_compose_uses_hydra_group_options() -> None:
    cfg = compose(["model=resnet18"], config_name="build")
    assert cfg.model.name == "resnet18"
