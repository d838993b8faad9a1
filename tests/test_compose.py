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


# --- model files follow the data ------------------------------------------------------------

BARE = """\
name: bare
block: basic
shortcut: projection
stem: {type: cifar, out_channels: 8}
stages:
  - {depth: 1, out_channels: 8, stride: 1}
  - {depth: 1, out_channels: 16, stride: 2}
head: {type: classifier}
"""
SMALL_DATA = ["data=synthetic", "data.channels=2", "data.image_size=12", "data.num_classes=5"]


def _bare(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "bare.yaml"
    path.write_text(BARE + extra)
    return path


def _io(model: object) -> tuple[int, int, int]:
    return (model.in_channels, model.num_classes, model.input_size)  # type: ignore[attr-defined]


def test_model_file_without_io_keys_follows_the_data(tmp_path: Path) -> None:
    path = _bare(tmp_path)
    assert _io(compose([f"model={path}", *SMALL_DATA]).model) == (2, 5, 12)
    assert _io(compose([f"model={path}"]).model) == (1, 10, 8)  # the default data: digits


def test_summary_config_follows_the_data_like_train(tmp_path: Path) -> None:
    path = _bare(tmp_path)
    built = compose([f"model={path}", *SMALL_DATA], config_name="build")
    report = archforge.summary(to_plain_model(built))
    assert report.input_shape == (2, 12, 12) and report.rows[-1].out_shape == (5,)
    # no data selected: train's default data (digits), as `archforge train` builds it
    assert _io(compose([f"model={path}"], config_name="build").model) == (1, 10, 8)


def test_summary_train_and_api_agree_on_a_model_file_without_data_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from archforge.cli import main
    from archforge.config.run import parse_run

    path = _bare(tmp_path)
    for data, shape in (([], (1, 8, 8)), (["data=cifar10"], (3, 32, 32))):
        trained = parse_run(compose([f"model={path}", *data])).summary  # what train builds
        assert trained.input_shape == shape
        assert archforge.summary(str(path), data).input_shape == shape
        net = archforge.build(str(path), data)
        assert net.summary.total_params == trained.total_params  # type: ignore[union-attr]
        assert main(["summary", f"model={path}", *data]) == 0
        assert f"(input {'x'.join(map(str, shape))})" in capsys.readouterr().out
    assert archforge.summary(str(path), ["data=digits", "data.image_size=16"]).input_shape == \
        (1, 16, 16)


def test_builds_default_data_is_trains() -> None:
    from archforge.config.compose import conf_dir

    train = OmegaConf.load(conf_dir() / "config.yaml").defaults
    build = OmegaConf.load(conf_dir() / "build.yaml").defaults
    assert {"data": "digits"} in list(train)
    assert {"data@train_default_data": "digits"} in list(build)


def to_plain_model(cfg: object) -> dict:
    from archforge.plain import to_plain

    return to_plain(cfg.model, "model")  # type: ignore[attr-defined]


def test_zoo_files_adapt_to_the_data_and_keep_their_native_shape() -> None:
    assert _io(compose(["model=resnet50"], config_name="build").model) == (3, 1000, 224)
    assert _io(compose(["model=resnet50", "data=digits"], config_name="build").model) == (1, 10, 8)
    assert archforge.summary("resnet50").total_params == 25_557_032


def test_every_zoo_file_links_its_io_keys_to_the_data() -> None:
    from archforge.config.compose import conf_dir

    links = {"num_classes": "num_classes", "in_channels": "channels", "input_size": "image_size"}
    for path in sorted((conf_dir() / "model").glob("*.yaml")):
        raw = OmegaConf.load(path)
        for key, data_key in links.items():
            value = OmegaConf.to_container(raw, resolve=False)[key]  # type: ignore[index]
            assert str(value).startswith(f"${{oc.select:data.{data_key},"), (path.name, key)


def test_a_value_the_file_states_wins_and_a_mismatch_is_refused(tmp_path: Path) -> None:
    from archforge.config.run import parse_run

    path = _bare(tmp_path, "in_channels: 3\n")
    cfg = compose([f"model={path}", *SMALL_DATA])
    assert _io(cfg.model) == (3, 5, 12)
    with pytest.raises(archforge.ConfigError, match="in_channels"):
        parse_run(cfg)


def test_relative_model_path_and_file_sweeps_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archforge.config.file_source import absolute_file_overrides

    _bare(tmp_path)
    (tmp_path / "other.yaml").write_text(BARE)
    monkeypatch.chdir(tmp_path)
    assert compose(["model=bare.yaml"]).model.name == "bare"
    swept = absolute_file_overrides(["model=bare.yaml,resnet20,./other.yaml", "seed=1"])
    assert swept == [f"model={tmp_path / 'bare.yaml'},resnet20,{tmp_path / 'other.yaml'}",
                     "seed=1"]


def test_a_missing_or_malformed_model_file_is_one_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages: [1, 2\nblock: basic\n")
    with pytest.raises(archforge.ConfigError, match=r"bad\.yaml, line 3, column 6"):
        compose([f"model={bad}"])
    with pytest.raises(archforge.ConfigError, match="file not found"):
        compose([f"model={tmp_path / 'absent.yaml'}"])
