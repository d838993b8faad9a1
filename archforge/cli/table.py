"""The one table of `archforge` commands: name, help line, handler, and whether the command
is a Hydra application.

A handler is named as "module:function" and imported only when its command runs, so
`archforge --help` loads nothing heavy. A plain command's handler takes the arguments after
the command name and returns the exit status; its docstring is its `--help` (the first line
the usage). A Hydra application's handler is the task Hydra calls once per job with the
composed config (archforge/cli/hydra_app.py); Hydra answers its `--help`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HydraApp:
    """How a Hydra command composes: its primary config and the Hydra overrides it always
    starts with (the user's own come after and win)."""

    config_name: str = "config"
    overrides: tuple[str, ...] = ()
    # "module:function" called with Hydra's parsed arguments before Hydra runs
    before: str | None = None
    # False: -cd/-cn are refused (the command composes again from archforge's conf/)
    primary_flags: bool = True


@dataclass(frozen=True)
class Command:
    help: str  # one line in `archforge --help`
    handler: str  # "module:function"
    hydra: HydraApp | None = None  # set: a Hydra application, the handler its task

    def load(self) -> Callable[..., Any]:
        return load(self.handler)


def load(target: str) -> Callable[..., Any]:
    """The function a "module:function" string names (its module imported now)."""
    module, _, attr = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return function


# search and report keep their own folders (the study directory): no Hydra run directory.
# Every trial and every worker process composes again from conf/config.yaml with the job's
# overrides, so another primary config (-cd/-cn) would be silently dropped: refused.
_STUDY = HydraApp(overrides=("hydra.output_subdir=null", "hydra.run.dir=.",
                             "hydra/job_logging=none", "hydra/hydra_logging=none"),
                  before="archforge.cli.search:before_hydra", primary_flags=False)

COMMANDS: dict[str, Command] = {
    "summary": Command("per-stage table of a model: archforge summary model=resnet50 [overrides]",
                       "archforge.cli.inspection:summary_task", HydraApp("build")),
    "blocks": Command("registered plugins with their options and docstrings",
                      "archforge.cli.inspection:blocks"),
    "zoo": Command("every model in conf/model with params and MACs",
                   "archforge.cli.inspection:zoo"),
    "train": Command("train with Lightning: archforge train model=resnet20 data=digits ...",
                     "archforge.cli.train:train_task",
                     HydraApp(before="archforge.cli.train:before_hydra")),
    "predict": Command("classify images: archforge predict checkpoint=PATH input=IMAGE_OR_FOLDER",
                       "archforge.cli.predict:predict"),
    "evaluate": Command("accuracy, per-class accuracy, confusion matrix: archforge evaluate "
                        "checkpoint=PATH split=test", "archforge.cli.evaluate:evaluate"),
    "export": Command("export to ONNX / TorchScript: archforge export checkpoint=PATH",
                      "archforge.cli.export:export"),
    "search": Command("architecture search with Optuna: archforge search search=resnet_cifar ...",
                      "archforge.cli.search:search_task", _STUDY),
    "report": Command("plots and a table of a study: archforge report search=resnet_cifar ...",
                      "archforge.cli.search:report_task", _STUDY),
    "experiment": Command("the papers' claims, one command each: archforge experiment list",
                          "archforge.cli.experiment:experiment"),
}
