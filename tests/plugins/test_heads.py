"""Heads: the classifier's optional hidden layers and the VGG head's layout."""

from __future__ import annotations

import torch
from archforge_plugins.heads import ClassifierHead, VGGHead
from torch import nn

import archforge


def test_transfer_learning_head_is_pool_dense_relu_dense() -> None:
    # "global average pool -> Dense(1024, relu) -> Dense(classes)".
    torch.manual_seed(0)
    head = ClassifierHead(32, 5, hidden=(1024,))
    x = torch.randn(2, 32, 4, 4)
    dense1, dense2 = [m for m in head.modules() if isinstance(m, nn.Linear)]
    expected = dense2(torch.relu(dense1(x.mean((2, 3)))))
    torch.testing.assert_close(head(x), expected)
    assert (dense1.in_features, dense1.out_features, head.fc.in_features) == (32, 1024, 1024)


def test_hidden_layers_from_yaml_change_the_count_by_the_dense_layers() -> None:
    base = archforge.summary("resnet50").total_params
    ours = archforge.summary(
        "resnet50", ["+model.head.options.hidden=[1024]", "+model.head.options.hidden_act=relu"]
    ).total_params
    assert ours - base == (2048 * 1024 + 1024) + (1024 * 1000 + 1000) - (2048 * 1000 + 1000)


def test_hidden_dropout_precedes_each_hidden_linear_and_act_is_chosen() -> None:
    head = ClassifierHead(8, 3, hidden=(6, 4), hidden_act="tanh", hidden_dropout=0.5)
    kinds = [type(m).__name__ for m in head.hidden]
    assert kinds == ["Dropout", "Linear", "Tanh", "Dropout", "Linear", "Tanh"]
    assert head.hidden[0].p == 0.5


def test_pool_size_keeps_a_spatial_grid_for_the_first_dense_layer() -> None:
    head = ClassifierHead(16, 10, pool_size=6, hidden=(64,))
    assert head.hidden[1].in_features == 16 * 36
    assert head(torch.randn(2, 16, 13, 13)).shape == (2, 10)


def test_vgg_head_keeps_torchvision_classifier_indices() -> None:
    head = VGGHead(8, 3, hidden=16, dropout=0.0, pool_size=2)
    assert [i for i, m in enumerate(head.fc) if isinstance(m, nn.Linear)] == [0, 3, 6]
