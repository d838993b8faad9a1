"""`archforge --shell-completion ...`: Hydra's shell completion behind a sub-command.

Hydra's completion scripts call the program as `archforge -sc query=bash` with the command
line in COMP_LINE. The command word (train, search, ...) is taken out of COMP_LINE so Hydra
completes that command's config; while it is still being typed, command names complete.
"""

from __future__ import annotations

import os
import sys

from archforge.cli.table import COMMANDS


def complete(args: list[str], commands: list[str]) -> int:
    line = os.environ.get("COMP_LINE", "")
    words = line.split()
    typing_command = len(words) < 2 or (len(words) == 2 and not line.endswith(" "))
    if any(a.startswith("query=") for a in args) and typing_command:
        prefix = words[1] if len(words) == 2 else ""
        print(" ".join(c for c in commands if c.startswith(prefix)))
        return 0
    apps = [name for name, c in COMMANDS.items() if c.hydra is not None]
    command = words[1] if len(words) >= 2 and words[1] in apps else "train"
    if len(words) >= 2 and words[1] in apps:
        os.environ["COMP_LINE"] = line.replace(f" {command}", "", 1)
        if "COMP_POINT" in os.environ:
            point = int(os.environ["COMP_POINT"]) - len(command) - 1
            os.environ["COMP_POINT"] = str(max(point, 0))
    from archforge.cli.hydra_app import run

    code = run(command, args)
    sys.stdout.flush()
    return code
