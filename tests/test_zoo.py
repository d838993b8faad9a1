"""The model zoo builds to the published parameter counts and MACs."""

from __future__ import annotations

import pytest
import torch

import archforge
from archforge.config.compose import conf_dir, zoo_names

# Trainable parameters (BN affine counted), no auxiliary heads. Sources: torchvision's model
# tables; He et al. 2015 Table 6 (CIFAR, option A); Chollet 2017 Table 3; Howard et al. 2017.
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
}
# He et al. 2016 quote these to two decimals ("1.7M"): within 2%.
APPROX_PARAMS = {"preact_resnet110": 1.73e6, "preact_resnet164": 1.70e6}
# Published MACs (multiply-accumulates) at 224x224; within 1%.
MACS = {
    "resnet18": 1.814e9,
    "resnet50": 4.089e9,
    "resnet152": 11.514e9,
    "vgg16": 15.47e9,
    "mobilenet": 569e6,
    "googlenet": 1.50e9,
    "inception_v3": 5.71e9,
}


@pytest.mark.parametrize(("name", "params"), sorted(PARAMS.items()))
def test_exact_parameter_count(name: str, params: int) -> None:
    assert archforge.summary(name).total_params == params


@pytest.mark.parametrize(("name", "params"), sorted(APPROX_PARAMS.items()))
def test_preact_parameter_count(name: str, params: float) -> None:
    assert archforge.summary(name).total_params == pytest.approx(params, rel=0.02)


def test_projection_shortcuts_on_cifar_resnet20() -> None:
    assert archforge.summary("resnet20", ["model.shortcut=projection"]).total_params == 272_474


@pytest.mark.parametrize(("name", "macs"), sorted(MACS.items()))
def test_published_macs(name: str, macs: float) -> None:
    assert archforge.summary(name).total_macs == pytest.approx(macs, rel=0.01)


def test_googlenet_true_5x5_is_one_override() -> None:
    torchvision_layout = archforge.summary("googlenet").total_params
    paper = archforge.summary("googlenet", ["model.block_options.kernel_5x5=5"]).total_params
    assert paper > torchvision_layout


def test_every_published_model_is_in_the_table() -> None:
    # `search_*` models are starting points for search spaces, not published networks.
    published = {n for n in zoo_names() if not n.startswith("search_")}
    assert published == set(PARAMS) | set(APPROX_PARAMS)


# Small enough to run each model for real in a test, large enough for its strides.
SMALL_INPUT = {"inception_v3": 75, "xception": 71, "googlenet": 32}


@pytest.mark.parametrize("name", zoo_names())
def test_every_model_yaml_builds_and_runs(name: str) -> None:
    size = SMALL_INPUT.get(name, 32)
    overrides = [f"model.input_size={size}", "model.num_classes=3"]
    if name in ("vgg16", "vgg19"):
        overrides.append("model.head.options.hidden=64")  # 4096-wide FC layers are 120M params
    net = archforge.build(name, overrides)
    # Train mode: with fresh running statistics, eval mode overflows in the 1202-layer net.
    with torch.no_grad():
        out = net.train()(torch.randn(2, 3, size, size))
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
