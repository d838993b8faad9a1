"""The `archforge` command: `archforge <command> [hydra overrides and flags...]`.

The commands are the table in archforge/cli/table.py (train, search, report and summary are
Hydra applications, see archforge/cli/hydra_app.py); this file only dispatches, answers
`--help` for the commands that are not Hydra applications, and turns user errors into one
clear line and exit status 2.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence

from archforge.cli.table import COMMANDS
from archforge.errors import CheckpointError, ConfigError, closest
from archforge.quiet import quiet_third_party

HELP_FLAGS = ("-h", "--help")


def usage() -> str:
    lines = ["usage: archforge <command> [key=value ...] [--help]", "", "commands:"]
    lines += [f"  {name:<10} {command.help}" for name, command in COMMANDS.items()]
    lines += ["", "archforge <command> --help: the command's usage (a Hydra application's also "
              "lists its config groups and keys).",
              "archforge --version prints the version."]
    return "\n".join(lines)


def command_help(name: str, handler: object) -> str:
    """`archforge <name> --help` of a command that is not a Hydra application: its handler's
    docstring, whose first line is the usage."""
    doc = inspect.getdoc(handler) or f"archforge {name}"
    return f"usage: {doc}"


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
    command = COMMANDS[name]
    quiet_third_party()
    try:
        if command.hydra is not None:
            from archforge.cli.hydra_app import run

            return run(name, rest)
        handler = command.load()
        if any(arg in HELP_FLAGS for arg in rest):
            print(command_help(name, handler))
            return 0
        code: int = handler(rest)
        return code
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

