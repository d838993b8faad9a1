"""Export a trained network to ONNX and TorchScript.

ONNX uses torch's TorchScript-based exporter (`dynamo=False`) by default: on these
convolutional networks it is quick, needs no extra packages at export time and its outputs
match onnxruntime within 1e-5 here; `to_onnx(..., dynamo=True)` uses the `torch.export`-based
one. The batch dimension is dynamic in both formats. An edge module: it uses
`archforge.checkpoint`; nothing imports it but the command line (archforge/cli/export.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from archforge.checkpoint import load_network
from archforge.errors import ConfigError

FORMATS = ("onnx", "torchscript", "both")
DEFAULT_OPSET = 17  # the TorchScript-based exporter's; the dynamo exporter starts at 18
DYNAMO_MIN_OPSET = 18


def opset_range(dynamo: bool = False) -> tuple[int, int]:
    """The ONNX opsets the installed torch exporter can write (inclusive)."""
    # torch publishes its bounds only in a private module; the fallbacks are torch 2.9's.
    constants = getattr(torch.onnx, "_constants", None)
    if dynamo:
        return DYNAMO_MIN_OPSET, int(getattr(constants, "ONNX_MAX_OPSET", 23))
    low = int(getattr(constants, "ONNX_MIN_OPSET", 7))
    return low, int(getattr(constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def check_opset(opset: object, dynamo: bool = False) -> int:
    low, high = opset_range(dynamo)
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        kind = "torch.export-based" if dynamo else "TorchScript-based"
        raise ConfigError(
            "opset",
            f"got {opset!r}; expected an integer from {low} to {high} (what torch "
            f"{torch.__version__}'s {kind} ONNX exporter writes)",
        )
    return opset


def example_input(net: nn.Module, batch: int = 1) -> torch.Tensor:
    cfg = getattr(net, "config", None)
    if cfg is None:
        raise TypeError("export needs an archforge Network (it reads net.config)")
    h, w = cfg.spatial_size
    return torch.randn(batch, cfg.in_channels, h, w)


def _folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("output", f"cannot create folder {path.parent}: {exc.strerror}") from exc


def to_onnx(
    net: nn.Module, path: str | Path, opset: int | None = None, dynamo: bool = False
) -> Path:
    """Write `net` as ONNX at `opset` (default 17, or 18 with `dynamo`)."""
    opset = check_opset(
        opset if opset is not None else (DYNAMO_MIN_OPSET if dynamo else DEFAULT_OPSET), dynamo
    )
    path = Path(path)
    _folder(path)
    net = net.eval()
    x = example_input(net, 2)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            if dynamo:
                batch = torch.export.Dim("batch")
                torch.onnx.export(
                    net, (x,), str(path), input_names=["input"], output_names=["logits"],
                    dynamic_shapes={"x": {0: batch}}, opset_version=opset, dynamo=True,
                )
            else:
                torch.onnx.export(
                    net, (x,), str(path), input_names=["input"], output_names=["logits"],
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                    opset_version=opset, dynamo=False,
                )
    except OSError as exc:
        raise ConfigError("output", f"cannot write {path}: {exc.strerror or exc}") from exc
    except torch.onnx.errors.OnnxExporterError as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            "opset", f"ONNX export at opset {opset} failed: {first}; try another opset"
        ) from exc
    return path


def to_torchscript(net: nn.Module, path: str | Path) -> Path:
    """Traced (not scripted): plugin blocks need not be TorchScript-compatible Python."""
    path = Path(path)
    _folder(path)
    net = net.eval()
    with torch.no_grad():
        traced = torch.jit.trace(net, example_input(net, 2))
    try:
        traced.save(str(path))
    except (OSError, RuntimeError) as exc:
        raise ConfigError("output", f"cannot write {path}: {exc}") from exc
    return path


def export_checkpoint(
    checkpoint: str | Path,
    fmt: str = "both",
    output: Path | None = None,
    opset: int | None = None,
) -> list[Path]:
    """Write `<stem>.onnx` and/or `<stem>.torchscript.pt` next to the checkpoint or in
    `output`. Every argument is checked before the checkpoint is read."""
    if fmt not in FORMATS:
        raise ConfigError("format", f"got {fmt!r}; expected one of {', '.join(FORMATS)}")
    if opset is not None:
        if fmt == "torchscript":
            raise ConfigError("opset", "applies to ONNX only; format=torchscript writes none")
        check_opset(opset)
    net, _ = load_network(checkpoint)
    ckpt = Path(checkpoint)
    folder = output or ckpt.parent
    written = []
    if fmt in ("onnx", "both"):
        written.append(to_onnx(net, folder / f"{ckpt.stem}.onnx", opset))
    if fmt in ("torchscript", "both"):
        written.append(to_torchscript(net, folder / f"{ckpt.stem}.torchscript.pt"))
    return written
