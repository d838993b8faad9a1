"""The newer zoo members have exactly their reference's layers: the sorted multiset of every
parameter's shape equals the reference's (a stronger check than the total alone).

References: torchvision's `alexnet.py` and `densenet.py` (written out below as layer lists,
torchvision cannot be imported here); LeNet-5 from LeCun et al. 1998, Sec. II.B; timm 1.0.31's
`inception_v4` and `inception_resnet_v2`, whose shape multisets were counted once from
`timm.create_model(name).parameters()` and are stored in `timm_shapes.json`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

import archforge
from archforge.model.builder import build_network

Shape = tuple[int, ...]


def ours(name: str) -> Counter[Shape]:
    with torch.device("meta"):
        net = build_network(archforge.resolve(name))
    return Counter(tuple(p.shape) for p in net.parameters())


def conv(cout: int, cin: int, k: int | tuple[int, int], bias: bool = False) -> list[Shape]:
    kh, kw = (k, k) if isinstance(k, int) else k
    return [(cout, cin, kh, kw)] + ([(cout,)] if bias else [])


def linear(cout: int, cin: int) -> list[Shape]:
    return [(cout, cin), (cout,)]


def bn(c: int) -> list[Shape]:
    return [(c,), (c,)]


def lenet5() -> list[Shape]:
    # C1, C3 (full connectivity), C5 (the paper's 5x5 convolution, 16 -> 120 maps), F6, output.
    return conv(6, 1, 5, True) + conv(16, 6, 5, True) + conv(120, 16, 5, True) + \
        linear(84, 120) + linear(10, 84)


def alexnet() -> list[Shape]:
    # torchvision AlexNet: features (5 convs with bias) and classifier (3 linear layers).
    shapes = conv(64, 3, 11, True) + conv(192, 64, 5, True) + conv(384, 192, 3, True)
    shapes += conv(256, 384, 3, True) + conv(256, 256, 3, True)
    return shapes + linear(4096, 256 * 6 * 6) + linear(4096, 4096) + linear(1000, 4096)


def densenet121() -> list[Shape]:
    # torchvision DenseNet(32, (6, 12, 24, 16), 64, bn_size=4): conv0/norm0, dense layers
    # (norm1, conv1 1x1, norm2, conv2 3x3), transitions (norm, conv 1x1 halving), norm5, fc.
    shapes = conv(64, 3, 7) + bn(64)
    channels = 64
    for i, layers in enumerate((6, 12, 24, 16)):
        for j in range(layers):
            cin = channels + j * 32
            shapes += bn(cin) + conv(128, cin, 1) + bn(128) + conv(32, 128, 3)
        channels += layers * 32
        if i < 3:
            shapes += bn(channels) + conv(channels // 2, channels, 1)
            channels //= 2
    return shapes + bn(channels) + linear(1000, channels)


def _timm(name: str) -> Counter[Shape]:
    data = json.loads((Path(__file__).parent / "timm_shapes.json").read_text())
    return Counter({tuple(shape): count for shape, count in data[name]})


REFERENCES = {
    "lenet5": lambda: Counter(lenet5()),
    "alexnet": lambda: Counter(alexnet()),
    "densenet121": lambda: Counter(densenet121()),
    "inception_v4": lambda: _timm("inception_v4"),
    "inception_resnet_v2": lambda: _timm("inception_resnet_v2"),
}
TOTALS = {
    "lenet5": 61_706,
    "alexnet": 61_100_840,
    "densenet121": 7_978_856,
    "inception_v4": 42_679_816,
    "inception_resnet_v2": 55_843_464,
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_parameter_shapes_equal_the_reference(name: str) -> None:
    reference = REFERENCES[name]()
    got = ours(name)
    assert sum(c * torch.Size(s).numel() for s, c in reference.items()) == TOTALS[name]
    # Counter differences name exactly the layers that are missing or extra.
    assert (got - reference, reference - got) == (Counter(), Counter())


def test_lenet5_c5_is_a_5x5_convolution_on_the_5x5x16_map() -> None:
    rows = archforge.summary("lenet5").rows
    assert [r.out_shape for r in rows] == [(1, 32, 32), (6, 14, 14), (16, 5, 5), (120, 1, 1),
                                           (10,)]
    assert (120, 16, 5, 5) in ours("lenet5")
