"""`archforge train`: Hydra-style `key=value` overrides in, one trained run out.

`train` is a Hydra application (archforge/cli/hydra_app.py): `train_task` runs once per Hydra
job.

User errors (ConfigError, CheckpointError) propagate to archforge.cli, which prints them as
one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from archforge.cli.closed_output import surviving_closed_output
from archforge.errors import ConfigError
from archforge.training.run_owner import check_sweep_dir, mark
from archforge.training.rundir import check_run_dir
from archforge.training.threads import SharedCores, ThreadShare, choose_threads

if TYPE_CHECKING:
    from archforge.training.fit import TrainResult


def before_hydra(parsed: argparse.Namespace) -> None:
    """`run_dir=X` on the command line is Hydra's output directory with any primary config
    (`-cn best_run` included): it becomes `hydra.run.dir=X` (`hydra.sweep.dir=X` under -m)
    unless those are given. An explicit run directory is checked before Hydra writes
    `.hydra/` into it, so a refused run leaves the old run's files as they were."""
    keys = [item.partition("=")[0] for item in parsed.overrides]
    for item in parsed.overrides:
        key, _, value = item.partition("=")
        if key in ("hydra.run.dir", "hydra.sweep.dir") and not value.strip("'\" "):
            raise ConfigError(key, "empty: the run would write into the current directory; "
                              "name a folder (or leave it out)")
    target = "hydra.sweep.dir" if parsed.multirun else "hydra.run.dir"
    given = [i.partition("=")[2] for i in parsed.overrides if i.partition("=")[0] == "run_dir"]
    user_overrides = list(parsed.overrides)  # errors name the key the user typed
    if given and given[-1] not in ("", "null") and target not in keys and "," not in given[-1]:
        parsed.overrides.append(f"{target}={given[-1]}")
    _add_run_dir_key(parsed)
    _check_presets_apply(parsed)
    if _rank() != 0 or parsed.cfg or parsed.help or parsed.info:
        return
    chosen = overwrite = None
    for item in user_overrides:
        key, _, value = item.partition("=")
        key = key.removeprefix("++")
        if chosen is not None and chosen[0] == "run_dir" and key == target:
            continue  # the one run_dir=X added: errors name the key the user typed
        if key in ("run_dir", target) and value not in ("", "null"):
            chosen = (key, value.strip("'\""))
        elif key == "overwrite":
            overwrite = value.lower() == "true"
    if chosen is None or "${" in chosen[1] or "," in chosen[1]:
        return
    folder = Path(chosen[1]).expanduser().resolve()
    if not parsed.multirun:
        check_run_dir(folder, bool(overwrite), chosen[0])
        return
    # a sweep: Hydra rewrites multirun.yaml and each job's .hydra/ before any job can refuse,
    # so the sweep's folder and an earlier sweep's job directories are checked here (another
    # sweeper, such as hydra/sweeper=archforge resuming its study, numbers its own jobs)
    if any(item.partition("=")[0].endswith("hydra/sweeper") for item in user_overrides):
        return
    check_sweep_dir(folder, bool(overwrite), chosen[0])
    for job in sorted(folder.iterdir()) if folder.is_dir() else []:
        if (job / "checkpoints").is_dir():
            check_run_dir(job, bool(overwrite), chosen[0])


def _check_presets_apply(parsed: argparse.Namespace) -> None:
    """A preset (`trainer=gpu`) next to a run file written without a defaults list (by an
    archforge before presets were recorded, or by hand): one line that says how, not
    Hydra's `trainer: no such key`."""
    from archforge.config.run_file import PRESET_GROUPS, is_run_file, recorded_choices

    if not parsed.config_name or not parsed.config_dir:
        return
    path = Path(parsed.config_dir).expanduser() / f"{Path(parsed.config_name).stem}.yaml"
    if not is_run_file(path) or not path.is_file() or recorded_choices(path) is not None:
        return
    for item in parsed.overrides:
        group = item.partition("=")[0].lstrip("+")
        if group in PRESET_GROUPS and "=" in item:
            raise ConfigError(group, f"{path} is a resolved config without a defaults list, "
                              f"so no {group} preset applies to it; re-export it by running its "
                              f"archforge search command again (a finished search trains "
                              f"nothing more), or set the keys instead ({group}.KEY=VALUE)")


def _add_run_dir_key(parsed: argparse.Namespace) -> None:
    """`run_dir=X` works with a primary config that has no `run_dir` key (a resolved config
    of your own): Hydra's `++` adds it where it is missing."""
    parsed.overrides = [f"++{item}" if item.partition("=")[0] == "run_dir" else item
                        for item in parsed.overrides]


def train_task(cfg: DictConfig) -> float | None:
    """One Hydra job: the run directory is Hydra's output directory."""
    from archforge.config.run import parse_run
    from archforge.training.fit import train as fit

    hydra_cfg = HydraConfig.get()
    out = Path(hydra_cfg.runtime.output_dir)
    explicit = cfg.get("run_dir")
    if (hydra_cfg.mode == RunMode.RUN and explicit
            and Path(str(explicit)).expanduser().resolve() != out.resolve()):
        raise ConfigError("run_dir", f"got {explicit!r} but this primary config writes to {out}; "
                          f"pass hydra.run.dir={explicit} instead")
    if _rank() == 0:
        check_run_dir(out, bool(cfg.get("overwrite", False)), hydra_written=True)
        if hydra_cfg.mode == RunMode.MULTIRUN:  # the sweep's folder is archforge's too
            mark(Path(str(hydra_cfg.sweep.dir)).expanduser().resolve(), "sweep")
    if cfg.get("test"):
        _check_test_split(cfg)
    with open_dict(cfg):
        cfg.run_dir = str(out)
    swap_presets(cfg, hydra_cfg)
    _lightning_logs_to_hydra()
    run = parse_run(cfg)
    if _rank() == 0:
        for line in run.notes:  # what was read from the data (an image folder's size)
            print(line, file=sys.stderr, flush=True)
    sweep = sweep_callbacks(hydra_cfg)
    with surviving_closed_output():  # a reader that went away drops output, not the run
        with ddp_relaunch_as_this_job(hydra_cfg, out), SharedCores() as shared:
            result = fit(run, callbacks=[*sweep,
                                         *use_threads(run.keys.threads, hydra_cfg, shared)])
        if _rank() == 0:
            print_result(result)
            if cfg.get("test"):
                test_after_fit(cfg, result)
    acc = result.metrics.get("val/acc")
    return None if acc is None else float(acc)


def swap_presets(cfg: DictConfig, hydra_cfg: Any) -> None:
    """`-cn best_run optim=adamw`: a preset named next to a search's run file replaces the
    values the trial took from its old preset (config/run_file.py); any other primary
    config is composed by Hydra alone."""
    from archforge.config.run_file import PRESET_GROUPS, apply_presets, recorded_choices

    name = Path(str(hydra_cfg.job.config_name)).stem
    for source in hydra_cfg.runtime.config_sources:
        if source.provider != "command-line":
            continue
        folder = Path(str(source.path).partition("://")[2] or str(source.path))
        recorded = recorded_choices(folder / f"{name}.yaml")
        if recorded is None:
            continue
        chosen = {str(g): str(v) for g, v in hydra_cfg.runtime.choices.items()
                  if g in PRESET_GROUPS and v is not None}
        keys = [o.partition("=")[0].lstrip("+~") for o in hydra_cfg.overrides.task]
        changed = apply_presets(cfg, recorded, chosen,
                                [k for k in keys if k not in PRESET_GROUPS])
        if changed and _rank() == 0:
            swaps = ", ".join(f"{g}={v} (was {recorded[g]})" for g, v in changed.items())
            print(f"{name}.yaml with {swaps}: the values the trial took from its preset are "
                  "the new preset's; the search's own values stay", file=sys.stderr,
                  flush=True)
        return


def _check_test_split(cfg: DictConfig) -> None:
    """`test=true` needs a data set with a test split: refuse before training, not after."""
    from archforge.data.build import data_kind
    from archforge.plain import to_plain

    mapping = to_plain(cfg.data, "data")
    hint = data_kind(mapping).test_split_missing(mapping)
    if hint is not None:
        raise ConfigError("test", f"data '{cfg.data.name}' keeps no test split apart from its "
                          f"validation split; test=true needs one: {hint}")


def test_after_fit(cfg: DictConfig, result: TrainResult) -> None:
    """`test=true`: the best checkpoint, once, on the held-out test split."""
    from archforge.checkpoint import load_network
    from archforge.cli.evaluate import report
    from archforge.plain import to_plain

    checkpoint = result.best_checkpoint or result.last_checkpoint
    if checkpoint is None:
        raise ConfigError("test", "the run wrote no checkpoint to evaluate")
    net, _ = load_network(checkpoint)
    report(net, to_plain(cfg.data, "data"), "test", result.run_dir, checkpoint)


def sweep_callbacks(hydra_cfg: Any) -> list[Any]:
    """A job launched by `hydra/sweeper=archforge` reports its epochs to its trial."""
    if OmegaConf.select(hydra_cfg, "sweeper.job", default=None) is None:
        return []
    from archforge.cli.sweep_job import PruningCallback

    return [PruningCallback(set_threads=False)]  # use_threads below sets them


def use_threads(explicit: int | None, hydra_cfg: Any, shared: SharedCores) -> list[Any]:
    """Set this run's torch threads (training/threads.py): `threads=N`, else the share the
    archforge sweeper gave its job, else chosen; a chosen count is re-divided each epoch."""
    import torch

    given = explicit or OmegaConf.select(hydra_cfg, "sweeper.job.threads", default=None)
    if given:
        torch.set_num_threads(int(given))
        return []
    chosen = choose_threads(shared)
    torch.set_num_threads(chosen)
    return [ThreadShare(shared, chosen)]


def _lightning_logs_to_hydra() -> None:
    """Lightning gives its loggers a console handler of their own (and stops propagation)
    when it is imported before logging is configured; hand them to the handlers Hydra set up
    (console and <run dir>/train.log) instead, so the log file holds the run's messages."""
    if not logging.getLogger().handlers:  # hydra/job_logging=none: leave Lightning's own
        return
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
        logger.propagate = True


def print_result(result: TrainResult) -> None:
    """What `archforge train` prints when a run ends (rank 0 only): the epoch kept in
    best.ckpt and the last epoch, each labelled, so the printed numbers describe a file."""
    print(f"run directory: {result.run_dir}")
    rows = [(f"best (epoch {result.best_epoch}, best.ckpt)", result.best_metrics),
            (f"last (epoch {result.epochs}, last.ckpt)", result.metrics)]
    for label, metrics in rows:
        if metrics:
            shown = ", ".join(f"{key} {_fmt(key, value)}" for key, value in sorted(metrics.items()))
            print(f"{label}: {shown}")
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"last checkpoint: {result.last_checkpoint}")
    sys.stdout.flush()


def _fmt(key: str, value: float) -> str:
    return f"{100 * value:.2f}%" if "acc" in key else f"{value:.4f}"


DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextlib.contextmanager
def ddp_relaunch_as_this_job(hydra_cfg: Any, out: Path) -> Iterator[None]:
    """Lightning starts DDP ranks > 0 by re-running `sys.argv` with `hydra.run.dir=<run.dir>`
    appended. Under `-m` that command would start a whole sweep again, in another folder.
    For the duration of this job `sys.argv` is this job's own single-run command and
    `hydra.run.dir` this job's output directory."""
    argv = [sys.argv[0], "train"]
    for source in hydra_cfg.runtime.config_sources:
        if source.provider == "command-line":
            argv += ["--config-dir", str(source.path).partition("://")[2] or str(source.path)]
    # `run_dir=X` of a sweep names the sweep directory; this job's own is X/<job number>
    task = [o for o in hydra_cfg.overrides.task if o.partition("=")[0].lstrip("+") != "run_dir"]
    argv += ["--config-name", str(hydra_cfg.job.config_name), *task, f"run_dir={out}"]
    saved_argv, saved_dir = sys.argv, hydra_cfg.run.dir
    # Lightning's launcher leaves LOCAL_RANK & co. in this process's environment; the next
    # job of a sweep would take them as "ranks started externally" and wait for rank 1.
    saved_env = {k: os.environ.get(k) for k in DDP_ENV}
    sys.argv = argv
    with read_write(hydra_cfg.run):
        hydra_cfg.run.dir = str(out)
    try:
        yield
    finally:
        sys.argv = saved_argv
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with read_write(hydra_cfg.run):
            hydra_cfg.run.dir = saved_dir


def _rank() -> int:
    # DDP children re-run this command: only the global-zero process reports.
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
