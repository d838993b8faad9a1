"""Each zero-cost proxy on a tiny network against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import archforge
from archforge.search.proxies import DATA_FREE, PROXIES, score
from archforge.search.proxies.base import disposable


def _linear(weight: list[list[float]], bias: list[float] | None = None) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight), bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias))
    return layer


def test_synflow_by_hand() -> None:
    # |W1| = [[1, 2], [3, 4]], |W2| = [[1, 2]]; input ones: h = [3, 7], R = 3 + 14 = 17.
    # Layer 2: sum |W2| * h = 17; layer 1: dR/dW1[i, j] = |W2|_i -> sum = 1+2+2*3+2*4 = 17.
    net = nn.Sequential(_linear([[1, -2], [3, 4]]), nn.BatchNorm1d(2), _linear([[-1, 2]]))
    before = [p.clone() for p in net.parameters()]
    assert PROXIES.get("synflow")(net, (torch.randn(5, 2), torch.zeros(5))) == 34.0
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_naswot_by_hand() -> None:
    # x = 1, -1, 2 through units (x, -x, x - 1.5): codes 100, 010, 101; agreements
    # K = [[3, 1, 2], [1, 3, 0], [2, 0, 3]], det K = 27 - 3 - 12 = 12.
    net = nn.Sequential(_linear([[1], [-1], [1]], [0, 0, -1.5]), nn.ReLU())
    batch = (torch.tensor([[1.0], [-1.0], [2.0]]), torch.zeros(3, dtype=torch.long))
    assert PROXIES.get("naswot")(net, batch) == pytest.approx(math.log(12))


def test_snip_and_grad_norm_by_hand() -> None:
    # logits = W [1, 1] = [3, 7]; dL/dlogits = softmax - onehot(0) = [-q, q], q = 1/(1+e^-4);
    # dL/dW = [[-q, -q], [q, q]]: snip = q * (1 + 2 + 3 + 4), grad_norm = 2q.
    net = nn.Sequential(_linear([[1, 2], [3, 4]]))
    batch = (torch.tensor([[1.0, 1.0]]), torch.tensor([0]))
    q = 1 / (1 + math.exp(-4))
    assert PROXIES.get("snip")(net, batch) == pytest.approx(10 * q)
    assert PROXIES.get("grad_norm")(net, batch) == pytest.approx(2 * q)


def test_params_and_macs_by_hand() -> None:
    # conv 1->2, 3x3 on 4x4 ("same"): 18 weights + 2 biases, 2 * 16 * 9 = 288 MACs; linear
    # 32 -> 3: 99 parameters, 96 MACs.
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(32, 3))
    batch = (torch.randn(4, 1, 4, 4), torch.zeros(4, dtype=torch.long))
    assert PROXIES.get("params")(net, batch) == 20 + 99
    assert PROXIES.get("macs")(net, batch) == 288 + 96


def test_every_proxy_scores_an_archforge_network() -> None:
    net = archforge.build("nb201", ["model.input_size=8", "model.in_channels=3",
                                    "model.num_classes=4"])
    batch = (torch.randn(8, 3, 8, 8), torch.arange(8) % 4)
    scores = score(net, batch)
    assert set(scores) == {"synflow", "naswot", "snip", "grad_norm", "params", "macs"}
    assert all(math.isfinite(v) and v > 0 for v in scores.values()), scores
    assert set(DATA_FREE) <= set(scores)
    # no data needed: the same score for any batch of that shape
    other = (torch.randn(8, 3, 8, 8), torch.zeros(8, dtype=torch.long))
    assert score(net, other, DATA_FREE) == {k: scores[k] for k in DATA_FREE}


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_a_disposable_network_scores_the_same_and_only_it_is_changed(name: str) -> None:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return archforge.build("nb201", ["model.input_size=8", "model.in_channels=3",
                                         "model.num_classes=4"])

    batch = (torch.randn(8, 3, 8, 8), torch.arange(8) % 4)
    kept, handed = build(), build()
    before = {k: v.clone() for k, v in kept.state_dict().items()}
    assert PROXIES.get(name)(kept, batch) == pytest.approx(
        PROXIES.get(name)(disposable(handed), batch), rel=1e-9)
    after = kept.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the kept one is untouched
    assert all(p.grad is None for p in kept.parameters())


def test_summary_prints_the_proxies(capsys: pytest.CaptureFixture[str]) -> None:
    from archforge.cli import main

    assert main(["summary", "model=nb201", "data=digits", "proxies=[synflow,naswot]",
                 "proxy_batch=8"]) == 0
    out = capsys.readouterr().out
    assert "batch of 8 from data=digits" in out
    assert "synflow" in out and "naswot" in out and "snip" not in out
