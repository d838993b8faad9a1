"""The `archforge` command: `archforge <command> [hydra overrides...]`.

Each command lives in its own module and takes the remaining arguments; this file only
dispatches and turns user errors into one clear line.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from archforge.errors import CheckpointError, ConfigError

COMMANDS: dict[str, tuple[str, str]] = {
    "summary": ("archforge.commands", "summary", ),
    "blocks": ("archforge.commands", "blocks"),
    "zoo": ("archforge.commands", "zoo"),
    "train": ("archforge.training.cli", "train"),
    "predict": ("archforge.training.cli", "predict"),
    "export": ("archforge.training.cli", "export"),
    "search": ("archforge.search.cli", "search"),
    "report": ("archforge.search.cli", "report"),
    "experiment": ("archforge.experiments.cli", "experiment"),
}

HELP = {
    "summary": "per-stage table of a model: archforge summary model=resnet50 [overrides]",
    "blocks": "registered plugins with their options and docstrings",
    "zoo": "every model in conf/model with params and MACs",
    "train": "train with Lightning: archforge train model=resnet20 data=digits ...",
    "predict": "classify images: archforge predict checkpoint=PATH input=IMAGE_OR_FOLDER",
    "export": "export to ONNX / TorchScript: archforge export checkpoint=PATH",
    "search": "architecture search with Optuna: archforge search search=resnet_cifar ...",
    "report": "plots and a table of a study: archforge report search=resnet_cifar ...",
    "experiment": "the articles' claims, one command each: archforge experiment list",
}


def usage() -> str:
    lines = ["usage: archforge <command> [key=value ...]", "", "commands:"]
    lines += [f"  {name:<9} {HELP[name]}" for name in COMMANDS]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"archforge: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, attr = COMMANDS[name]
    command: Callable[[list[str]], int] = getattr(importlib.import_module(module), attr)
    try:
        return command(rest)
    except (ConfigError, CheckpointError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archforge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
