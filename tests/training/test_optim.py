"""Optimizer groups and LR schedules from the optim config group."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

import archforge
from archforge.config.compose import conf_dir
from archforge.config.sections import OptimConfig
from archforge.errors import ConfigError
from archforge.training.optim import Schedule, build_optimizer, param_groups
from archforge.typed import from_mapping


def parse_optim(data: dict) -> OptimConfig:
    return from_mapping(OptimConfig, data, "optim")


def load(name: str):
    data = OmegaConf.to_container(OmegaConf.load(conf_dir() / "optim" / f"{name}.yaml"))
    return parse_optim(data)


def test_resnet_paper_recipe_divides_by_ten_at_half_and_three_quarters() -> None:
    cfg = load("resnet_paper")
    assert (cfg.name, cfg.lr, cfg.momentum, cfg.weight_decay) == ("sgd", 0.1, 0.9, 1e-4)
    s = Schedule(cfg, total_steps=1000, steps_per_epoch=10)
    lrs = [cfg.lr * s(i) for i in (0, 499, 500, 749, 750, 999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_warmup_then_cosine() -> None:
    cfg = load("sgd")
    s = Schedule(cfg, total_steps=110, steps_per_epoch=10)  # warmup_epochs 1 -> 10 steps
    assert s(0) == pytest.approx(1 / 11)
    assert s(9) == pytest.approx(10 / 11)
    assert s(10) == pytest.approx(1.0)
    assert s(60) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(109) < 0.01
    s.scale = 0.1  # fine-tuning's phase 2
    assert s(10) == pytest.approx(0.1)


def test_no_decay_for_norms_and_biases() -> None:
    net = archforge.build("resnet20")
    groups = param_groups(net, 5e-4, decay_norm_and_bias=False)
    decay, no_decay = groups
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() > 1 for p in decay["params"])  # conv and linear weights only
    assert all(p.dim() == 1 for p in no_decay["params"])
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(
        p.numel() for p in net.parameters()
    )


def test_adamw_and_sgd_nesterov() -> None:
    net = archforge.build("resnet20")
    assert isinstance(build_optimizer(net, load("adamw")), torch.optim.AdamW)
    sgd = build_optimizer(net, load("sgd"))
    assert sgd.defaults["nesterov"] is True and sgd.defaults["momentum"] == 0.9


@pytest.mark.parametrize(
    ("patch", "key"),
    [({"name": "lbfgs"}, "optim.name"), ({"lr": -1}, "optim.lr"),
     ({"schedule": "poly"}, "optim.schedule"), ({"milestones": [1.5]}, "optim.milestones"),
     ({"betas2": 1}, "optim.betas2")],
)
def test_bad_values_name_the_key(patch: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_optim({"name": "sgd", "lr": 0.1, **patch})
    assert info.value.path == key
