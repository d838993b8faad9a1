"""NAS-Bench-201's cell and reduction block: arch strings, the table's parameter counts and
the structure of the paper's network (Dong & Yang, ICLR 2020)."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch
from archforge_plugins.nb201 import DEFAULT_ARCH, EDGE_OPTIONS, NB201Cell, format_arch, parse_arch
from torch import nn

import archforge
from archforge import ConfigError, OptionError
from archforge.model.builder import build_network
from archforge.search.strategy.nb201_table import ANOMALIES, OPS, load_table

BEST_C10 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
            "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")


def test_arch_string_round_trip_and_edge_order() -> None:
    ops = parse_arch(BEST_C10)
    assert ops == ("nor_conv_3x3",) * 3 + ("skip_connect", "nor_conv_3x3", "nor_conv_1x1")
    assert format_arch(ops) == BEST_C10
    assert EDGE_OPTIONS == ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1",
                            "edge_3_2")


@pytest.mark.parametrize("bad", [
    "|nor_conv_3x3~0|",
    "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|none~0|+|none~0|+|none~0|none~1|none~2|",
])
def test_bad_arch_strings_are_refused(bad: str) -> None:
    with pytest.raises(OptionError):
        parse_arch(bad)


def test_arch_and_edges_are_one_choice() -> None:
    with pytest.raises(OptionError, match="not both"):
        NB201Cell(16, arch=DEFAULT_ARCH, edge_3_2="none")
    cell = NB201Cell(16, edge_3_2="none")  # the other edges keep the default's operations
    assert cell.ops == (*parse_arch(DEFAULT_ARCH)[:5], "none")
    with pytest.raises(ConfigError, match=r"model.block_options.edge_1_0"):
        archforge.summary("nb201", ["+model.block_options.edge_1_0=conv_5x5"])


def test_summary_shows_the_arch_given_on_the_command_line() -> None:
    arch = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    net = archforge.build("nb201", [f"+model.block_options.arch='{arch}'"])
    cells = [m for m in net.modules() if isinstance(m, NB201Cell)]
    assert len(cells) == 15 and {c.arch for c in cells} == {arch}


def _params(cfg: archforge.ModelConfig, ops: tuple[str, ...], classes: int) -> int:
    c = dataclasses.replace(cfg, num_classes=classes, block_options={"arch": format_arch(ops)})
    with torch.device("meta"):
        net = build_network(c)
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


# One edge's convolution over the 15 cells: 5 cells at each of 16, 32 and 64 channels.
ONE_CONV = {"nor_conv_3x3": 5 * sum(c * c * 9 + 2 * c for c in (16, 32, 64)),
            "nor_conv_1x1": 5 * sum(c * c + 2 * c for c in (16, 32, 64))}


def test_parameter_counts_equal_the_table_on_a_seeded_sample() -> None:
    # 2,000 of the 15,625 cells, half counted at CIFAR-10's 10 classes, half at CIFAR-100's
    # 100, on the meta device; bench/bench_nb201_params.py counts all of them for both.
    cfg = archforge.resolve("nb201", ["model.in_channels=3", "model.input_size=32"])
    tables = {10: load_table("cifar10"), 100: load_table("cifar100")}
    rng = random.Random(201)
    sample = rng.sample(sorted(tables[10].entries), 2000)
    for i, key in enumerate(sample):
        classes = 10 if i % 2 == 0 else 100
        ops = tuple(OPS[int(c)] for c in key)
        ours, table = _params(cfg, ops, classes), tables[classes].entries[key].params
        if key in ANOMALIES:  # the table's own inconsistency (nb201_table.py)
            assert abs(ours - table) in set(ONE_CONV.values()), key
        else:
            assert ours == table, key
    assert 10 <= len(ANOMALIES & set(sample)) <= 30  # about 1% of any sample


# --- the paper's network written out, independently of the plugins -------------------------
class _RefOp(nn.Module):
    def __init__(self, name: str, c: int) -> None:
        super().__init__()
        self.name = name
        self.body = (nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3 if name == "nor_conv_3x3" else 1,
                                                        padding=1 if name == "nor_conv_3x3" else 0,
                                                        bias=False), nn.BatchNorm2d(c))
                     if name.startswith("nor_conv") else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.name == "none":
            return torch.zeros_like(x)
        if self.name == "skip_connect":
            return x
        if self.name == "avg_pool_3x3":
            return nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        assert self.body is not None
        return self.body(x)


class _RefNet(nn.Module):
    """Sec. 2: stem conv3x3+BN (16), 5 cells, ResBlock/2, 5 cells, ResBlock/2, 5 cells,
    BN-ReLU-pool-linear. Node i = sum_j<i op_ij(node j); the output is node 3."""

    def __init__(self, ops: tuple[str, ...], classes: int) -> None:
        super().__init__()
        self.ops = ops
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        layers: list[nn.Module] = []
        c = 16
        for stage, width in enumerate((16, 32, 64)):
            if stage:
                layers.append(self._res(c, width))
                c = width
            layers += [nn.ModuleList(_RefOp(op, c) for op in ops) for _ in range(5)]
        self.layers = nn.ModuleList(layers)
        self.last = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    @staticmethod
    def _res(cin: int, cout: int) -> nn.Module:
        def rcb(a: int, b: int, s: int) -> nn.Sequential:
            return nn.Sequential(nn.ReLU(), nn.Conv2d(a, b, 3, s, 1, bias=False), nn.BatchNorm2d(b))
        m = nn.Module()
        m.a, m.b = rcb(cin, cout, 2), rcb(cout, cout, 1)
        m.down = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))
        return m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            if isinstance(layer, nn.ModuleList):
                n = [x]
                n.append(layer[0](n[0]))
                n.append(layer[1](n[0]) + layer[2](n[1]))
                n.append(layer[3](n[0]) + layer[4](n[1]) + layer[5](n[2]))
                x = n[3]
            else:
                x = layer.b(layer.a(x)) + layer.down(x)
        x = torch.relu(self.last(x)).mean((2, 3))
        return self.fc(x)


@pytest.mark.parametrize("key", ["333132", "410001", "214302", "022431"])
def test_structure_matches_the_paper(key: str) -> None:
    ops = tuple(OPS[int(c)] for c in key)
    torch.manual_seed(0)
    ref = _RefNet(ops, 10).eval()
    net = archforge.build("nb201", ["model.in_channels=3", "model.input_size=32",
                                    "model.num_classes=10",
                                    f"+model.block_options.arch='{format_arch(ops)}'"]).eval()
    shapes = sorted(tuple(p.shape) for p in net.parameters())
    assert shapes == sorted(tuple(p.shape) for p in ref.parameters())
    # Same registration order in both: copy the reference's tensors over one by one.
    ours, theirs = list(net.state_dict().values()), list(ref.state_dict().values())
    assert [t.shape for t in ours] == [t.shape for t in theirs]
    net.load_state_dict(dict(zip(net.state_dict(), theirs, strict=True)))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x), ref(x), rtol=1e-5, atol=1e-5)
