"""The `archforge` command: `archforge <command> [hydra overrides and flags...]`.

Each command lives in its own module and takes the remaining arguments (train, search,
report and summary are Hydra applications, see archforge/cli/hydra_app.py); this file only
dispatches and turns user errors into one clear line and exit status 2.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from archforge.errors import CheckpointError, ConfigError, closest
from archforge.quiet import quiet_third_party


class Command(NamedTuple):
    module: str
    attr: str  # a function taking the remaining arguments, returning the exit status
    help: str


COMMANDS: dict[str, Command] = {
    "summary": Command("archforge.cli.inspection", "summary",
                       "per-stage table of a model: archforge summary model=resnet50 [overrides]"),
    "blocks": Command("archforge.cli.inspection", "blocks",
                      "registered plugins with their options and docstrings"),
    "zoo": Command("archforge.cli.inspection", "zoo",
                   "every model in conf/model with params and MACs"),
    "train": Command("archforge.cli.train", "train",
                     "train with Lightning: archforge train model=resnet20 data=digits ..."),
    "predict": Command("archforge.cli.train", "predict",
                       "classify images: archforge predict checkpoint=PATH input=IMAGE_OR_FOLDER"),
    "evaluate": Command("archforge.cli.evaluate", "evaluate",
                        "accuracy, per-class accuracy, confusion matrix: archforge evaluate "
                        "checkpoint=PATH split=test"),
    "export": Command("archforge.cli.train", "export",
                      "export to ONNX / TorchScript: archforge export checkpoint=PATH"),
    "search": Command("archforge.cli.search", "search",
                      "architecture search with Optuna: archforge search search=resnet_cifar ..."),
    "report": Command("archforge.cli.search", "report",
                      "plots and a table of a study: archforge report search=resnet_cifar ..."),
    "experiment": Command("archforge.cli.experiment", "experiment",
                          "the papers' claims, one command each: archforge experiment list"),
}


def usage() -> str:
    lines = ["usage: archforge <command> [key=value ...] [--help]", "", "commands:"]
    lines += [f"  {name:<10} {command.help}" for name, command in COMMANDS.items()]
    lines += ["", "archforge <command> --help lists the config groups and keys of a command.",
              "archforge --version prints the version."]
    return "\n".join(lines)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("archforge")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _dispatch(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # `archforge zoo | head`: the reader left, nothing to report
        # keep the interpreter's final flush of stdout from raising again at exit
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version", "version"):
        print(f"archforge {version()}")
        return 0
    if args[0] in ("-sc", "--shell-completion"):
        from archforge.cli.completion import complete

        return complete(args, list(COMMANDS))
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        hint = closest(name, COMMANDS)
        did = f"; did you mean {hint!r}?" if hint else ""
        print(f"archforge: unknown command {name!r}{did}\n\n{usage()}", file=sys.stderr)
        return 2
    module, attr, _ = COMMANDS[name]
    quiet_third_party()
    command: Callable[[list[str]], int] = getattr(importlib.import_module(module), attr)
    try:
        return command(rest)
    except (ConfigError, CheckpointError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # a path the user named (a run directory, a data folder) cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"archforge: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archforge: interrupted", file=sys.stderr)
        return 130

