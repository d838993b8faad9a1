"""`archforge export checkpoint=PATH [format=onnx|torchscript|both] [output=DIR] [opset=N]`."""

from __future__ import annotations

from pathlib import Path

from archforge.cli.command_args import parse_key_values

KEYS = {"checkpoint": Path, "format": str, "output": Path, "opset": int}


def export(args: list[str]) -> int:
    """archforge export checkpoint=PATH [format=onnx|torchscript|both] [output=DIR] [opset=N]

    Write the checkpoint's network as ONNX and/or TorchScript next to the checkpoint (or
    into output=DIR), with a dynamic batch dimension; each written file is printed."""
    from archforge.export import export_checkpoint

    opts = parse_key_values(args, KEYS, "export", required=("checkpoint",))
    written = export_checkpoint(
        opts["checkpoint"], opts.get("format", "both"), opts.get("output"), opts.get("opset")
    )
    for path in written:
        print(f"wrote {path}")
    return 0
