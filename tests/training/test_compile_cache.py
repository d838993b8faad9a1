"""`compile=true` compiles every new network, however many one process builds (a search)."""

from __future__ import annotations

import functools

import pytest
import torch
from torch._dynamo.utils import counters

import archforge
from archforge.config.sections import OptimConfig
from archforge.training.module import ClassifierModule


def test_each_new_network_is_compiled_past_the_recompile_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # dynamo's eager backend traces exactly like Inductor but generates no code: fast
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    # every archforge network shares Network.forward; with a limit of 2 compilations per
    # code object, the third network would run uncompiled without a fresh cache
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 2)
    torch.compiler.reset()
    graphs = []
    try:
        for width in (0.25, 0.5, 0.75, 1.0):
            net = archforge.build("resnet20", [f"model.width={width}"])
            module = ClassifierModule(net, OptimConfig(), compile=True)
            before = counters["stats"]["unique_graphs"]
            module(torch.zeros(2, 3, 32, 32))
            graphs.append(counters["stats"]["unique_graphs"] - before)
    finally:
        torch.compiler.reset()
    assert graphs == [1, 1, 1, 1]
