"""Everything one process needs to score candidates on the supernet: the base run (data,
optimizer), the supernet trained once (or loaded), the recalibration and validation data.
Built lazily by the evaluator, so a worker that never scores trains nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from archforge.config.run import Run
from archforge.config.supernet_settings import SupernetSettings
from archforge.model.schema import ModelConfig
from archforge.search.space.search_space import SearchSpace
from archforge.search.supernet import store
from archforge.search.supernet.data import SupernetData
from archforge.search.supernet.models import Models, meta_network
from archforge.search.supernet.sandwich import SandwichTrainer
from archforge.search.supernet.subnet import Score, score
from archforge.search.supernet.supernet import Supernet

log = logging.getLogger(__name__)

EpochHook = Callable[[int], None]  # called with the epochs done, after each checkpoint


def device_for(accelerator: str) -> torch.device:
    """CUDA where the run's `trainer.accelerator` asks for a GPU (or `auto`) and one is
    there; else the CPU."""
    wants = accelerator in ("gpu", "cuda", "auto")
    return torch.device("cuda" if wants and torch.cuda.is_available() else "cpu")


class Engine:
    def __init__(self, run: Run, space: SearchSpace, settings: SupernetSettings, seed: int,
                 folder: Path, progress: bool = True) -> None:
        self.run = run
        self.settings = settings
        self.seed = seed
        self.folder = folder
        self.show_progress = progress
        self.device = device_for(run.trainer.accelerator)
        self.supernet = Supernet(space, Models(run.model_mapping), seed).to(self.device)
        self.data = SupernetData(run, settings.calib_images, settings.calib_batch, self.device)
        self.train_seconds = 0.0

    def describe(self) -> str:
        """What the trained weights depend on (scoring settings such as `calib_images` and
        `top_k` are left out: changing them reuses the supernet)."""
        s = self.settings
        training = (s.epochs, s.sandwich_random, s.distill, self.seed)
        return (self.supernet.describe() + repr(training) + repr(self.run.optim)
                + repr(self.run.data) + repr(self.data.steps_per_epoch))

    def ready(self, after_epoch: EpochHook | None = None) -> Engine:
        """Train (or resume, or load) the supernet once per study folder."""
        state = store.trained_once(self.folder, self.describe(),
                                   lambda partial: self.train(partial, after_epoch))
        self.supernet.load_state_dict(state["trainer"]["supernet"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        return self

    def train(self, partial: dict[str, Any] | None,
              after_epoch: EpochHook | None = None) -> dict[str, Any]:
        trainer = SandwichTrainer(self.supernet, self.run.optim, self.settings,
                                  self.data.steps_per_epoch, self.seed)
        spent = 0.0
        if partial is not None:
            trainer.load_state_dict(partial["trainer"])
            spent = float(partial.get("train_seconds", 0.0))
            log.info("supernet: resuming after epoch %d of %d", trainer.progress.epoch,
                     self.settings.epochs)
        path = self.folder / store.FILE
        state: dict[str, Any] = dict(partial or {})
        columns = (TextColumn("supernet epoch {task.fields[epoch]}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[info]}"))
        with Progress(*columns, console=Console(stderr=True),
                      disable=not self.show_progress) as bar:
            task = bar.add_task("supernet", total=self.settings.epochs * self.data.steps_per_epoch,
                                completed=trainer.progress.epoch * self.data.steps_per_epoch,
                                epoch=f"{trainer.progress.epoch + 1}/{self.settings.epochs}",
                                info="")
            while not trainer.done:
                started = time.perf_counter()
                loss = trainer.train_epoch(self.data.train, lambda: bar.advance(task))
                spent += time.perf_counter() - started
                state = {"describe": self.describe(), "trainer": trainer.state_dict(),
                         "train_seconds": spent, "complete": trainer.done}
                store.save(path, state)
                done = trainer.progress.epoch
                bar.update(task, epoch=f"{min(done + 1, self.settings.epochs)}/"
                           f"{self.settings.epochs}", info=f"loss {loss:.3f}")
                if after_epoch is not None:
                    after_epoch(done)
        return state

    def score(self, model: ModelConfig, point: dict[str, Any]) -> Score:
        """The candidate's validation metrics on its slice of the supernet (in its branch)."""
        index = self.supernet.index(point)
        net = meta_network(model)
        with torch.no_grad():
            return score(net, self.supernet.shared(index), self.data.calibration(),
                         self.data.validation(), self.data.num_classes)
