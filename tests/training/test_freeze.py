"""Freezing for transfer learning: no gradients, and frozen BN stays in eval mode."""

from __future__ import annotations

import pytest
import torch

import archforge
from archforge.config.sections import OptimConfig
from archforge.errors import ConfigError
from archforge.training.freeze import freeze_backbone, stage_indices, unfreeze
from archforge.training.module import ClassifierModule


def tiny():
    return archforge.build("resnet20", ["model.num_classes=3", "model.in_channels=1",
                                        "model.input_size=8"])


def test_frozen_bn_stays_in_eval_and_keeps_statistics() -> None:
    net = tiny()
    chosen = freeze_backbone(net, [0, "stage1"], "finetune.freeze")
    assert chosen == [0, 1]
    module = ClassifierModule(net, OptimConfig())
    module.train()  # what Lightning calls at the start of every training epoch
    assert not net.stem.bn.training and not net.stages[0][0].bn1.training
    assert net.stages[2][0].bn1.training and net.head.training
    before = net.stages[1][0].bn1.running_mean.clone()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    loss = module(torch.randn(4, 1, 8, 8)).sum()
    loss.backward()
    opt.step()
    assert torch.equal(net.stages[1][0].bn1.running_mean, before)
    assert all(p.grad is None for p in net.stem.parameters())
    assert all(p.grad is None for p in net.stages[1].parameters())
    assert all(p.grad is not None for p in net.stages[2].parameters())
    unfreeze(net.stages[1])
    module.train()
    assert net.stages[1][0].bn1.training
    assert all(p.requires_grad for p in net.stages[1].parameters())


def test_stage_selection_errors_name_the_key() -> None:
    net = tiny()
    assert stage_indices(net, "all", "k") == [0, 1, 2]
    assert stage_indices(net, [-1], "k") == [2]
    with pytest.raises(ConfigError, match=r"finetune\.unfreeze: stage 5 does not exist"):
        stage_indices(net, [5], "finetune.unfreeze")
    with pytest.raises(ConfigError, match="stage0, stage1, stage2"):
        stage_indices(net, ["layer9"], "finetune.unfreeze")
