"""Transfer learning from a torchvision-format ResNet-18 state dict, in one `train()` call:
phase 1 trains a new 2-class head on the frozen backbone, phase 2 unfreezes the last stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tv_resnet import TVResNet18, randomised

from archforge.checkpoint import load_network
from archforge.config.compose import compose
from archforge.training.fit import train


@pytest.mark.slow
def test_two_phase_finetune_from_torchvision_weights(tmp_path: Path) -> None:
    tv = randomised(TVResNet18())
    weights = tmp_path / "resnet18_tv.pth"
    torch.save(tv.state_dict(), weights)
    cfg = compose([
        "model=resnet18",
        f"model.weights={weights}",
        "data=synthetic", "data.num_classes=2", "data.image_size=32", "data.num_samples=40",
        "data.batch_size=8",
        "trainer.max_epochs=2", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
        "finetune.enabled=true", "finetune.head_epochs=1", "finetune.unfreeze=[-1]",
        "finetune.lr_factor=0.1", "progress=false", f"run_dir={tmp_path / 'run'}",
    ])
    result = train(cfg)
    net, _ = load_network(result.last_checkpoint)
    assert net.head.fc.weight.shape == (2, 512)  # new head for the new class count
    before = tv.state_dict()
    # stem and stages 1-3 frozen throughout: weights *and* BN running statistics unchanged
    torch.testing.assert_close(net.stem.conv.weight, before["conv1.weight"], atol=0, rtol=0)
    torch.testing.assert_close(net.stem.bn.running_mean, before["bn1.running_mean"], atol=0, rtol=0)
    for i in range(3):
        key = f"layer{i + 1}.0.bn1.running_var"
        torch.testing.assert_close(net.stages[i][0].bn1.running_var, before[key], atol=0, rtol=0)
        torch.testing.assert_close(
            net.stages[i][0].conv1.weight, before[f"layer{i + 1}.0.conv1.weight"], atol=0, rtol=0
        )
    # phase 2 fine-tuned the last stage
    assert not torch.equal(net.stages[3][0].conv1.weight, before["layer4.0.conv1.weight"])
    assert result.epochs == 2
