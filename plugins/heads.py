"""Heads: `Head(in_channels, num_classes, **options)` -> logits.

- `classifier`: global average pool -> dropout -> linear (Lin et al. 2014, "Network in
  Network"; used by ResNet, GoogLeNet, Inception, Xception, MobileNet, DenseNet). `pre_norm`
  adds the final norm + activation that pre-activation ResNets and DenseNet need (He et al.
  2016; Huang et al. 2017). `hidden` inserts fully connected layers before the classifier:
  the transfer-learning head "pool -> Dense(1024, relu) -> Dense(classes)" is `hidden:
  [1024]`; with `pool_size` > 1 the same head is AlexNet's (Krizhevsky et al. 2012) fully
  connected part, and LeNet-5's F6 (LeCun et al. 1998) is `hidden: [84]` after its C5
  convolution stage.
- `vgg`: the fully connected head of Simonyan & Zisserman 2015 (two hidden layers of 4096,
  dropout after each).
"""

from __future__ import annotations

import torch
from torch import nn

from archforge import HEADS, make_act, make_norm

from .checks import at_least, probability


def _hidden_layers(
    in_features: int, widths: tuple[int, ...], act: str, dropout: float, dropout_first: bool
) -> tuple[nn.Sequential, int]:
    """[dropout] -> linear -> act [-> dropout] per width; returns the layers and their output
    width. AlexNet drops before each hidden linear, VGG after each activation. The dropout
    modules stay even at p = 0, so layer indices (checkpoint keys) do not depend on p."""
    layers: list[nn.Module] = []
    features = in_features
    for width in widths:
        if dropout_first:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(features, width), make_act(act, "hidden_act")]
        if not dropout_first:
            layers.append(nn.Dropout(dropout))
        features = width
    return nn.Sequential(*layers), features


@HEADS.register("classifier")
class ClassifierHead(nn.Module):
    """Average pool, optional hidden fully connected layers (`hidden`), dropout, linear.

    In full: [norm -> act] -> avg-pool -> [dropout -> linear -> act] per hidden -> dropout ->
    linear. pool_size: side of the adaptive average pool (1 = global pooling; AlexNet uses 6).
    hidden: widths of fully connected layers before the classifier, e.g. [1024].
    hidden_act: their activation; hidden_dropout: dropout before each of them.
    dropout: dropout before the final linear layer.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        dropout: float = 0.0,
        pre_norm: bool = False,
        norm: str = "batch",
        act: str = "relu",
        pool_size: int = 1,
        hidden: tuple[int, ...] = (),
        hidden_act: str = "relu",
        hidden_dropout: float = 0.0,
    ):
        super().__init__()
        probability("dropout", dropout)
        probability("hidden_dropout", hidden_dropout)
        at_least("pool_size", pool_size)
        for width in hidden:
            at_least("hidden", width)
        self.norm = make_norm(norm, in_channels) if pre_norm else nn.Identity()
        self.act = make_act(act) if pre_norm else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.hidden, features = _hidden_layers(
            in_channels * pool_size * pool_size, tuple(hidden), hidden_act, hidden_dropout, True
        )
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(features, num_classes)
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.norm(x))).flatten(1)
        return self.fc(self.drop(self.hidden(x)))


@HEADS.register("vgg")
class VGGHead(nn.Module):
    """adaptive avg-pool to pool_size^2 -> [linear -> ReLU -> dropout] x2 -> linear."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: int = 4096,
        dropout: float = 0.5,
        pool_size: int = 7,
    ):
        super().__init__()
        at_least("hidden", hidden)
        probability("dropout", dropout)
        at_least("pool_size", pool_size)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        layers, _ = _hidden_layers(
            in_channels * pool_size * pool_size, (hidden, hidden), "relu", dropout, False
        )
        # One Sequential named `fc` whose indices match torchvision's `classifier`.
        self.fc = nn.Sequential(*layers, nn.Linear(hidden, num_classes))
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1))
