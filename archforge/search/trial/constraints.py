"""Hard constraints checked before any weights exist.

`max_params` and `max_macs` come from `archforge.summary`, which traces the network on the
meta device: a violating candidate costs one config composition and one meta trace (well
under a second) and is recorded as PRUNED with `infeasible` and its `reason`. The optional
`max_latency_ms` builds the real network once (no training) and times forward passes on the
CPU, only for candidates that already passed the cheap checks.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from archforge.config.search_settings import Constraints
from archforge.model.schema import ModelConfig
from archforge.model.summary import ModelSummary, human


def violation(summary: ModelSummary, limits: Constraints) -> str | None:
    if limits.max_params is not None and summary.total_params > limits.max_params:
        return (f"constraint max_params: {summary.total_params:,} params "
                f"({human(summary.total_params)}) > {limits.max_params:,}")
    if limits.max_macs is not None and summary.total_macs > limits.max_macs:
        return (f"constraint max_macs: {summary.total_macs:,} MACs "
                f"({human(summary.total_macs)}) > {limits.max_macs:,}")
    return None


def measure_latency_ms(model: ModelConfig, batch: int = 1, repeats: int = 10) -> float:
    """Median forward time of the real network in eval mode, after two warm-up passes."""
    from archforge.model.builder import build_network

    net = build_network(model).eval()
    h, w = model.spatial_size
    x = torch.randn(batch, model.in_channels, h, w)
    times: list[float] = []
    with torch.inference_mode():
        for i in range(repeats + 2):
            t0 = time.perf_counter()
            net(x)
            if i >= 2:
                times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def latency_violation(latency_ms: float, limits: Constraints) -> str | None:
    if limits.max_latency_ms is not None and latency_ms > limits.max_latency_ms:
        return f"constraint max_latency_ms: {latency_ms:.2f} ms > {limits.max_latency_ms} ms"
    return None


def costs(summary: ModelSummary, latency_ms: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"params": summary.total_params, "macs": summary.total_macs}
    if latency_ms is not None:
        out["latency_ms"] = latency_ms
    return out
