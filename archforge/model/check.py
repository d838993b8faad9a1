"""Validation before weights: build on the meta device and push a meta tensor through.

Nothing is allocated, so checking even a 60M-parameter network is cheap. Every failure is
reported as a `ConfigError` naming the stage (or stem/head) it happened in.
"""

from __future__ import annotations

import torch
from torch import nn

from archforge.errors import ConfigError
from archforge.model.builder import block_path, build_network
from archforge.model.macs import count_macs
from archforge.model.network import Network
from archforge.model.schema import ModelConfig
from archforge.model.summary import ModelSummary, Row
from archforge.typed import join


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# What a network built from a bad config raises when it runs: the trace turns these into
# config errors; the proxy pre-screen, which runs the real network untraced, into a reject.
RUN_ERRORS = (RuntimeError, ValueError, TypeError, IndexError, ArithmeticError)


def _run(module: nn.Module, x: torch.Tensor, path: str, hint: str) -> torch.Tensor:
    try:
        y = module(x)
    except RUN_ERRORS as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            path, f"fails on input of shape {tuple(x.shape[1:])}: {first}{hint}"
        ) from exc
    if not isinstance(y, torch.Tensor):
        raise ConfigError(path, f"returned {type(y).__name__}, expected a tensor")
    if y.dim() == 4 and min(y.shape[2:]) < 1:
        raise ConfigError(
            path,
            f"spatial size collapses to {tuple(y.shape[2:])} from {tuple(x.shape[2:])}; "
            "use a larger model.input_size or fewer stride-2 stages",
        )
    return y


def trace(net: Network, cfg: ModelConfig) -> ModelSummary:
    """Run a meta tensor stage by stage; return the summary, or raise ConfigError."""
    h, w = cfg.spatial_size
    device = next((p.device for p in net.parameters()), torch.device("meta"))
    x = torch.empty(1, cfg.in_channels, h, w, device=device)
    summary = ModelSummary(cfg.name, (cfg.in_channels, h, w))
    small = "; the input may be too small (model.input_size)"
    net = net.eval()
    with torch.no_grad(), count_macs(net) as macs:
        x = _run(net.stem, x, "model.stem", small)
        summary.rows.append(_row("stem", cfg.stem.type, x, net.stem, macs, "stem."))
        for i, stage in enumerate(net.stages):
            sp = join("model.stages", i)
            for j, block in enumerate(stage):
                x = _run(block, x, block_path(sp, j, len(stage)), small)
            kind = f"{cfg.stages[i].block or cfg.block} x{len(stage)}"
            summary.rows.append(_row(net.stage_names[i], kind, x, stage, macs, f"stages.{i}."))
        y = _run(net.head, x, "model.head", "")
        if tuple(y.shape) != (1, cfg.num_classes):
            raise ConfigError("model.head", f"produces shape {tuple(y.shape[1:])}, "
                              f"expected ({cfg.num_classes},) for model.num_classes")
        summary.rows.append(_row("head", cfg.head.type, y, net.head, macs, "head."))
    return summary


def _row(
    name: str, kind: str, y: torch.Tensor, module: nn.Module, macs: dict[str, int], prefix: str
) -> Row:
    total = sum(v for k, v in macs.items() if k.startswith(prefix))
    return Row(name, kind, tuple(y.shape[1:]), _params(module), total)


def _shape_only_norms(net: nn.Module) -> None:
    """On meta tensors batch norm runs a slow Python decomposition (70% of a ResNet-152 check)
    for an answer known in advance: the input's shape. Keep only its channel check."""
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):

            def forward(x: torch.Tensor, expected: int = module.num_features) -> torch.Tensor:
                if x.dim() != 4 or x.shape[1] != expected:
                    raise RuntimeError(
                        f"batch norm over {expected} channels got input of shape {tuple(x.shape)}"
                    )
                return x

            module.forward = forward  # type: ignore[method-assign,assignment]


# Elementwise activations: any input shape is valid and the output has it. On meta tensors
# most run Python decompositions (a ReLU that is not in place: about 5 ms per call, a
# convolution 25 us), for an answer known in advance. Exact types: a subclass may differ.
_ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.GELU,
                nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Mish, nn.Softplus, nn.SiLU,
                nn.Sigmoid, nn.Tanh)


def _shape_only_activations(net: nn.Module) -> None:
    for module in net.modules():
        if type(module) in _ELEMENTWISE:
            module.forward = torch.empty_like


def check(cfg: ModelConfig) -> ModelSummary:
    """Build `cfg` on the meta device and trace it: config errors surface with no weights."""
    with torch.device("meta"):
        net = build_network(cfg)
    _shape_only_norms(net)  # a throwaway network: patching its instances changes nothing else
    _shape_only_activations(net)
    return trace(net, cfg)
