"""Export a trained network to ONNX and TorchScript.

ONNX uses torch's legacy TorchScript-based exporter (`dynamo=False`): on these convolutional
networks it is quick, needs no extra packages at export time and its outputs match
onnxruntime within 1e-5 here; `dynamo=True` is available through `to_onnx(..., dynamo=True)`.
The batch dimension is dynamic in both formats.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from archforge.errors import ConfigError

FORMATS = ("onnx", "torchscript", "both")


def example_input(net: nn.Module, batch: int = 1) -> torch.Tensor:
    cfg = getattr(net, "config", None)
    if cfg is None:
        raise TypeError("export needs an archforge Network (it reads net.config)")
    h, w = cfg.spatial_size
    return torch.randn(batch, cfg.in_channels, h, w)


def to_onnx(net: nn.Module, path: str | Path, opset: int = 17, dynamo: bool = False) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    x = example_input(net, 2)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        if dynamo:
            batch = torch.export.Dim("batch")
            torch.onnx.export(
                net, (x,), str(path), input_names=["input"], output_names=["logits"],
                dynamic_shapes={"x": {0: batch}}, dynamo=True,
            )
        else:
            torch.onnx.export(
                net, (x,), str(path), input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=opset, dynamo=False,
            )
    return path


def to_torchscript(net: nn.Module, path: str | Path) -> Path:
    """Traced (not scripted): plugin blocks need not be TorchScript-compatible Python."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = net.eval()
    with torch.no_grad():
        traced = torch.jit.trace(net, example_input(net, 2))
    traced.save(str(path))
    return path


def export_checkpoint(
    checkpoint: str | Path, fmt: str = "both", output: Path | None = None
) -> list[Path]:
    """Write `<stem>.onnx` and/or `<stem>.pt` (TorchScript) next to the checkpoint or in
    `output`."""
    if fmt not in FORMATS:
        raise ConfigError("format", f"got {fmt!r}; expected one of {', '.join(FORMATS)}")
    from archforge.training.predict import load_network

    net, _ = load_network(checkpoint)
    ckpt = Path(checkpoint)
    folder = output or ckpt.parent
    written = []
    if fmt in ("onnx", "both"):
        written.append(to_onnx(net, folder / f"{ckpt.stem}.onnx"))
    if fmt in ("torchscript", "both"):
        written.append(to_torchscript(net, folder / f"{ckpt.stem}.torchscript.pt"))
    return written
