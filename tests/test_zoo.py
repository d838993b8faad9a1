"""The model zoo builds to the published parameter counts and MACs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import archforge
from archforge.config.compose import conf_dir, group_options, zoo_names

# Trainable parameters (BN affine counted), no auxiliary heads. Sources: torchvision's model
# tables (and its alexnet.py / densenet.py); He et al. 2015 Table 6 (CIFAR, option A); the
# authors' pre-activation code (He et al. 2016, resnet-1k-layers); Chollet 2017 Table 3;
# Howard et al. 2017; LeCun et al. 1998 (LeNet-5 with full C3 connectivity); timm 1.0.31's
# inception_v4 and inception_resnet_v2 (tests/plugins/test_zoo_layouts.py checks every layer).
PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    "plain20": 269_722,
    "plain56": 853_018,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "googlenet": 6_624_904,
    "inception_v3": 23_834_568,
    "xception": 22_855_952,
    "mobilenet": 4_231_976,
    "preact_resnet110": 1_730_522,
    "preact_resnet164": 1_703_258,
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "densenet121": 7_978_856,
    "inception_v4": 42_679_816,
    "inception_resnet_v2": 55_843_464,
    # NAS-Bench-201's table (model size x 1e6) for the default cell at 10 classes; every
    # other cell: tests/plugins/test_nb201.py
    "nb201": 1_288_506,
}
# Published MACs (multiply-accumulates) at the native input size (224, 299 for the Inception
# family); within 1%. torchvision's tables (AlexNet 0.714G, DenseNet-121 2.83G) and timm's
# (Inception-v4 12.3G, Inception-ResNet-v2 13.2G) count convolutions and linear layers only,
# as archforge.model.macs does.
MACS = {
    "resnet18": 1.814e9,
    "resnet50": 4.089e9,
    "resnet152": 11.514e9,
    "vgg16": 15.47e9,
    "mobilenet": 569e6,
    "googlenet": 1.50e9,
    "inception_v3": 5.71e9,
    "alexnet": 0.714e9,
    "densenet121": 2.83e9,
    "inception_v4": 12.3e9,
    "inception_resnet_v2": 13.2e9,
}
# Our exact counts where the published figure is rounded; any change to these layouts shows.
EXACT_MACS = {
    "lenet5": 416_520,
    "alexnet": 714_188_480,
    "densenet121": 2_834_161_664,
    "inception_v4": 12_253_974_624,
    "inception_resnet_v2": 13_155_794_016,
}


@pytest.mark.parametrize(("name", "params"), sorted(PARAMS.items()))
def test_exact_parameter_count(name: str, params: int) -> None:
    assert archforge.summary(name).total_params == params


def test_projection_shortcuts_on_cifar_resnet20() -> None:
    assert archforge.summary("resnet20", ["model.shortcut=projection"]).total_params == 272_474


@pytest.mark.parametrize(("name", "macs"), sorted(MACS.items()))
def test_published_macs(name: str, macs: float) -> None:
    assert archforge.summary(name).total_macs == pytest.approx(macs, rel=0.01)


@pytest.mark.parametrize(("name", "macs"), sorted(EXACT_MACS.items()))
def test_exact_macs(name: str, macs: int) -> None:
    assert archforge.summary(name).total_macs == macs


def test_preact_resnet164_strides_on_the_first_1x1() -> None:
    # The authors' code: a dimension-increasing unit strides on its first 1x1, so the 3x3
    # runs at the reduced resolution (fewer MACs than striding on the 3x3, same parameters).
    paper = archforge.summary("preact_resnet164")
    v15 = archforge.summary("preact_resnet164", ["model.block_options.stride_on=3x3"])
    assert paper.total_params == v15.total_params
    assert paper.total_macs < v15.total_macs


def test_googlenet_true_5x5_is_one_override() -> None:
    torchvision_layout = archforge.summary("googlenet").total_params
    paper = archforge.summary("googlenet", ["model.block_options.kernel_5x5=5"]).total_params
    assert paper > torchvision_layout


def test_every_published_model_is_in_the_table() -> None:
    # `search_*` models are starting points for search spaces, not published networks: the
    # zoo leaves them out, and every other model file is in the table.
    assert "search_mixed" in group_options("model") and "search_mixed" not in zoo_names()
    assert set(zoo_names()) == set(PARAMS)


# Small enough to run each model for real in a test, large enough for its strides.
SMALL_INPUT = {"inception_v3": 75, "xception": 71, "googlenet": 32, "alexnet": 63,
               "inception_v4": 75, "inception_resnet_v2": 75}
# 40-55M real weights and a slow first forward: these are checked on the meta device here;
# their blocks run for real in the conformance and reference-output tests.
META_ONLY = {"inception_v4", "inception_resnet_v2"}


@pytest.mark.parametrize("name", group_options("model"))
def test_every_model_yaml_builds_and_runs(name: str) -> None:
    size = SMALL_INPUT.get(name, 32)
    overrides = [f"model.input_size={size}", "model.num_classes=3"]
    if name in ("vgg16", "vgg19"):
        overrides.append("model.head.options.hidden=64")  # 4096-wide FC layers are 120M params
    if name == "alexnet":
        overrides.append("model.head.options.hidden=[64,64]")
    if name in META_ONLY:
        summary = archforge.summary(name, overrides)
        assert summary.rows[-1].out_shape == (3,)
        return
    net = archforge.build(name, overrides)
    channels = archforge.resolve(name).in_channels
    # Train mode: with fresh running statistics, eval mode overflows in the 1202-layer net.
    with torch.no_grad():
        out = net.train()(torch.randn(2, channels, size, size))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(conf_dir()) for p in conf_dir().glob("*/*.yaml")), ids=str
)
def test_every_group_yaml_composes(path: object) -> None:
    from archforge.config.compose import compose

    group, option = str(path).split("/")[0], str(path).split("/")[1].removesuffix(".yaml")
    primary = "build" if group == "model" else "config"
    cfg = compose([f"{group}={option}"], config_name=primary)
    assert group in cfg and cfg[group] is not None
    if group == "model":
        archforge.summary(option)


README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_zoo() -> list[tuple[str, list[str], str, str, str]]:
    """(model, overrides, input cell, params, MACs) for every network the README's zoo table
    names: `resnet18 / 34` is resnet18 and resnet34, `mobilenet (width 1.0 / 0.5)` one row
    per width, `resnet20 with \\`model.shortcut=projection\\`` resnet20 with that override."""
    section = README.read_text(encoding="utf-8").split("\n## The model zoo\n", 1)[1]
    lines = [ln for ln in section.split("\n## ", 1)[0].splitlines() if ln.startswith("| ")]
    out = []
    for line in lines[1:]:  # the header row is first; the |---| rule does not start "| "
        model, size, params, macs = [c.strip() for c in line.strip("| ").split(" | ")][:4]
        counts, flops = params.split(" / "), macs.split(" / ")
        if " with `" in model:
            name, override = model.split(" with `")
            variants = [(name, [override.strip("`")])]
        elif " (width " in model:
            name, widths = model.removesuffix(")").split(" (width ")
            variants = [(name, [f"model.width={w}"]) for w in widths.split(" / ")]
        else:
            names = model.split(" / ")
            stem = names[0].rstrip("0123456789")
            variants = [(stem + n if n.isdigit() else n, []) for n in names]
        assert len(counts) == len(flops) == len(variants), line
        out += [(n, o, size, p, m) for (n, o), p, m in zip(variants, counts, flops, strict=True)]
    return out


def test_the_readme_zoo_table_is_what_archforge_zoo_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from archforge.cli import main
    from archforge.model.summary import human

    assert main(["zoo"]) == 0
    printed = {}
    for line in capsys.readouterr().out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 5 and cells[0] in PARAMS:
            printed[cells[0]] = cells[1:]  # input, classes, params, MACs
    assert set(printed) == set(PARAMS)
    rows = _readme_zoo()
    assert {name for name, *_ in rows} == set(printed)  # every zoo model, nothing else
    for name, overrides, size, params, macs in rows:
        shape, _, zoo_params, zoo_macs = printed[name]
        if overrides:  # a variant the zoo does not list: the same numbers, as zoo formats them
            report = archforge.summary(name, overrides)
            zoo_params, zoo_macs = f"{report.total_params:,}", human(report.total_macs)
        assert (params, macs) == (zoo_params, zoo_macs), (name, overrides)
        channels, side = shape.split("x")[0], shape.split("x")[-1]
        assert size == (f"{side} (grey)" if channels == "1" else side), name
