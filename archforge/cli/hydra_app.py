"""archforge as a Hydra application: `archforge <command> [Hydra's arguments]`.

Every command the table (archforge/cli/table.py) marks as a Hydra application (train,
search, report, summary) runs through Hydra's own entry point (the function `hydra.main`
calls) with archforge's `conf/` as the config directory and the arguments after the command
name, so every Hydra convention works: `--help`, `--cfg job|hydra|all`, `--info`,
`-m/--multirun` with comma and range sweeps, `hydra.run.dir`, `hydra.sweep.dir`,
`-cd/--config-dir`, `-cn/--config-name`, `--shell-completion` and launcher plugins
(`hydra/launcher=submitit_slurm`). A task's return value is the job's value (what a sweeper
reads); a task that ends the command with another exit status raises `SystemExit`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra import version
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from archforge.cli.sweeper_plugin import register_sweeper
from archforge.cli.table import COMMANDS, load
from archforge.config.compose import (
    check_group_values,
    conf_dir,
    explain,
    nesting_guard,
    schema_overrides,
)
from archforge.config.file_source import absolute_file_overrides
from archforge.config.hydra_private import args_parser, run_hydra
from archforge.config.sweep_size import check_sweep_size
from archforge.errors import CheckpointError, ConfigError, describe_choices


@contextlib.contextmanager
def _hydra_errors_raise() -> Iterator[None]:
    # Hydra prints its own message and exits 1 on any error unless HYDRA_FULL_ERROR is set;
    # archforge turns user errors into one ConfigError line and exit status 2 instead.
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


def _reporting(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """The task, with a user error reported as its one line and exit status 2.

    Hydra's job runner catches `Exception`s from the task and prints "Error executing job
    with overrides: [...]" before re-raising; a `SystemExit` passes through it untouched,
    so the user sees only archforge's line (and a sweep stops at the first bad job, as
    Hydra's own default does)."""

    @functools.wraps(task)
    def job(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except (ConfigError, CheckpointError) as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            raise SystemExit(2) from exc

    return job


def check_primary_config(config_dir: str | None, name: str) -> None:
    """`-cd DIR -cn NAME` names DIR/NAME.yaml: a missing file is one line naming the flag and
    the file (Hydra's own message trails off into its search path). A search exports
    best_run.yaml only once a trial completes: that case says so."""
    folder = Path(config_dir).expanduser() if config_dir else conf_dir()
    path = folder / (name if name.endswith(".yaml") else f"{name}.yaml")
    if path.is_file():
        return
    message = f"no config {path}"
    if Path(name).stem == "best_run" or Path(name).stem.startswith("run_trial_"):
        message += ("; archforge search writes it when it ends with a completed trial: "
                    "if it has none, its last lines and `archforge report search=...` say how "
                    "its trials ended; if it stopped before writing it, running the same "
                    "search command again writes it (a search that reached n_trials trains "
                    "nothing more)")
    elif folder.is_dir():
        found = sorted(p.stem for p in folder.glob("*.yaml"))
        message += f"; {describe_choices(name, found)}" if found else "; the folder has no .yaml"
    else:
        message += f" (the folder {folder} does not exist)"
    raise ConfigError("--config-name", message)


def run(command: str, args: list[str]) -> int:
    """Run `command` as a Hydra app with `args` (overrides and Hydra's flags, in any order)."""
    entry = COMMANDS[command]
    app = entry.hydra
    assert app is not None, f"{command} is not a Hydra application"
    version.setbase("1.3")  # what hydra.main(version_base="1.3") sets: no chdir into run dirs
    parser = args_parser()
    parser.prog = f"archforge {command}"
    parsed = parser.parse_intermixed_args(args)
    if not app.primary_flags and (parsed.config_dir or parsed.config_name or parsed.config_path):
        raise ConfigError("--config-dir/--config-name", f"archforge {command} composes its "
                          "config, and each trial's, from archforge's conf/config.yaml with "
                          "the command's overrides; pass overrides instead (search=<file.yaml> "
                          "for a search space of your own)")
    if parsed.multirun:  # before anything is imported or expanded
        check_sweep_size(parsed.overrides)
    check_group_values(parsed.overrides)
    parsed.overrides = [f"hydra.job.name={command}", *app.overrides,
                        *schema_overrides(absolute_file_overrides(parsed.overrides))]
    task = _reporting(entry.load())
    caught: list[Exception] = []
    if not parsed.multirun:
        # Hydra writes "Error executing job with overrides: [...]" to stderr for a failed
        # job; a user error in a single run is reported once, by archforge.cli, instead.
        plain_task = task

        @functools.wraps(plain_task)
        def task(cfg: DictConfig) -> Any:
            try:
                return plain_task(cfg)
            except (ConfigError, CheckpointError) as exc:
                caught.append(exc)
                return None

    if parsed.config_name and not parsed.config_path:
        check_primary_config(parsed.config_dir, parsed.config_name)
    register_sweeper()
    if app.before is not None:
        load(app.before)(parsed)
    with _hydra_errors_raise(), nesting_guard():
        try:
            run_hydra(parsed, parser, task, str(conf_dir()), app.config_name)
        except SystemExit as done:  # --help, --hydra-help, --shell-completion; a task's status
            sys.stdout.flush()
            return done.code if isinstance(done.code, int) else 0
        except (HydraException, OmegaConfBaseException) as exc:
            name = parsed.config_name or app.config_name
            raise explain(exc, parsed.overrides, name) from exc
    if caught:
        raise caught[0]
    sys.stdout.flush()
    return 0
