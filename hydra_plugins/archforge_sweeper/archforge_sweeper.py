"""The sweeper's config node (`hydra/sweeper=archforge`) and its `Sweeper` class.

Only Hydra is imported here: Hydra imports every module under `hydra_plugins` at start-up,
for every command, so the search machinery (Optuna, torch) loads only when a sweep starts.

No `from __future__ import annotations` here: Hydra's scan runs this module before it is in
`sys.modules`, where `dataclass` cannot resolve string annotations.
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class ArchforgeSweeperConf:
    _target_: str = "hydra_plugins.archforge_sweeper.archforge_sweeper.ArchforgeSweeper"
    # The search settings (the keys of archforge's conf/search/*.yaml: space, n_trials,
    # sampler, pruner, objectives, storage, study_name, n_workers ...) for an application of
    # your own. null: archforge's `train` takes them from its `search=<name>` group.
    search: Any = None
    # Set by the sweeper on each job it launches (the study, trial and threads the job's
    # pruning callback uses); never set by hand.
    job: Any = None


ConfigStore.instance().store(group="hydra/sweeper", name="archforge",
                             node=ArchforgeSweeperConf, provider="archforge")


class ArchforgeSweeper(Sweeper):
    """Asks the study for trials, launches each batch through the configured launcher and
    records every outcome (see archforge.cli.sweeper)."""

    def __init__(self, search: Any = None, job: Any = None) -> None:
        self.search = search
        self.runner: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from archforge.cli.sweeper import SweepRunner

        self.runner = SweepRunner(hydra_context, task_function, config, self.search)

    def sweep(self, arguments: list[str]) -> Any:
        return self.runner.sweep(arguments)
