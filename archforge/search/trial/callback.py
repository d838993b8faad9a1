"""The Lightning callback that connects a training run to its Optuna trial.

After every validation epoch rank 0 reports the monitored metric (`val/acc`) at step
`epoch + 1` and asks the pruner; the decision is broadcast from rank 0 so that under DDP
every rank stops at the same epoch (`trainer.should_stop`), and the reason is written to
the trial's user attrs in the storage, where the objective reads it after `fit` returns -
also when the ranks ran in spawned processes whose callback objects never come back.
No exception is raised inside Lightning's loop: the run ends normally and the objective
turns the recorded decision into `optuna.TrialPruned`.

Non-finite training or validation losses stop the run the same way, with their reason.

No pruning decision is made before the optimizer's warm-up is over (`asks_pruner`): every
epoch is reported, so curves and plots stay whole, but the pruner is first asked after the
last epoch that holds warm-up steps. Its verdict during warm-up would rank learning rates
still ramping up (a 1-epoch warm-up: Hyperband with `min_resource: 1` judged noise at
epoch 1). Not asking, rather than moving each pruner's rungs, works for every pruner,
`_target_` ones included: Optuna's successive halving, asked first at step s, records every
rung at or below s with the value of step s, so a rung inside the warm-up is judged at the
first epoch after it; median stopping compares that epoch across trials.
"""

from __future__ import annotations

import math
import signal
from typing import Any

import lightning as L
import optuna

from archforge.config.sections import OptimConfig
from archforge.search.runtime.optuna_private import trial_id, write_intermediate
from archforge.search.runtime.signals import stop
from archforge.search.trial.mo_pruning import CurveMedianRule
from archforge.training.optim import warmup_epochs


def asks_pruner(step: int, max_epochs: int | None, warmup: int) -> bool:
    """Whether the pruner is asked after epoch `step` (counted from 1): not during the
    optimizer's first `warmup` epochs, and not at the last epoch, which is already paid for
    (a fully trained candidate completes, whatever a rung at this step would say)."""
    return step > warmup and (max_epochs is None or step < max_epochs)


class TrialCallback(L.Callback):
    def __init__(
        self,
        trial: optuna.Trial,
        storage_url: str,
        monitor: str = "val/acc",
        multi_rule: CurveMedianRule | None = None,
        multi_objective: bool = False,
        warmup: int | None = None,
    ) -> None:
        self._trial: optuna.Trial | None = trial
        self.storage_url = storage_url
        self.study_name = trial.study.study_name
        self.pruner = trial.study.pruner  # plain objects: travel to spawned ranks
        self.trial_id = trial_id(trial)
        self.number = trial.number
        self.monitor = monitor
        self.multi_objective = multi_objective
        self.multi_rule = multi_rule
        self.curve: list[float] = []
        self.stop_reason: str | None = None
        self.pruned = False
        self.epochs = 0
        # epochs the pruner is not asked about; None: the module's optimizer warm-up, read
        # when fitting starts (archforge's ClassifierModule; 0 for another module)
        self.warmup = warmup

    @classmethod
    def reopened(cls, storage_url: str, study_name: str, trial_id_: int, number: int,
                 pruner: optuna.pruners.BasePruner | None, monitor: str,
                 multi_rule: CurveMedianRule | None = None,
                 multi_objective: bool = False) -> TrialCallback:
        """The callback for a trial another process asked for (a job the sweeper launched):
        the trial is opened from the storage when the first epoch reports."""
        self = cls.__new__(cls)
        L.Callback.__init__(self)
        self.__dict__.update(
            _trial=None, storage_url=storage_url, study_name=study_name, pruner=pruner,
            trial_id=trial_id_, number=number, monitor=monitor, multi_objective=multi_objective,
            multi_rule=multi_rule, curve=[], stop_reason=None, pruned=False, epochs=0,
            warmup=None)
        return self

    # spawned DDP ranks get a pickled copy: the trial is reopened from the storage there
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_trial"] = None
        return state

    @property
    def trial(self) -> optuna.Trial:
        if self._trial is None:
            from archforge.search.runtime.study import open_storage

            study = optuna.load_study(study_name=self.study_name, pruner=self.pruner,
                                      storage=open_storage(self.storage_url))
            self._trial = optuna.Trial(study, self.trial_id)
        return self._trial

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.warmup is None:
            optim = getattr(pl_module, "optim", None)
            self.warmup = warmup_epochs(optim) if isinstance(optim, OptimConfig) else 0

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:
        # Lightning turns Ctrl-C inside fit into sys.exit(1); remember it was a stop request
        # (our own handler already did, unless the default SIGINT handler raised it)
        if isinstance(exception, KeyboardInterrupt) and not stop.requested:
            stop.signum = signal.SIGINT

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and not bool(loss.detach().isfinite().all()):
            self._stop(trainer, f"non-finite training loss ({float(loss.detach().mean())}) at "
                       f"epoch {trainer.current_epoch + 1}", pruned=True)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        step = trainer.current_epoch + 1
        decision: tuple[bool, str | None] = (False, None)
        if trainer.is_global_zero:
            decision = self._judge(trainer, step)
        decision = trainer.strategy.broadcast(decision, src=0)
        self.epochs = step
        if decision[0]:
            self._stop(trainer, decision[1] or "pruned", pruned=True)

    def _judge(self, trainer: L.Trainer, step: int) -> tuple[bool, str | None]:
        metrics = trainer.callback_metrics
        raw = metrics.get(self.monitor)
        if raw is None:
            return False, None
        value = float(raw)
        val_loss = metrics.get("val/loss")
        if not math.isfinite(value) or (val_loss is not None and not math.isfinite(val_loss)):
            return True, f"non-finite validation metric at epoch {step}"
        self.curve.append(value)
        trial = self.trial
        trial.set_user_attr("curve", list(self.curve))
        trial.set_user_attr("epochs", step)
        # successive halving puts a rung at max_epochs; warm-up epochs are not judged
        ask = asks_pruner(step, trainer.max_epochs, self.warmup or 0)
        if not self.multi_objective:
            trial.report(value, step)
            if ask and trial.should_prune():
                return True, f"pruned at epoch {step} ({self.monitor}={value:.4f})"
            return False, None
        # Optuna refuses report() with several objectives: write the curve point directly
        write_intermediate(trial.study, self.trial_id, step, value)
        if ask and self.multi_rule and self.multi_rule.should_prune(
            trial.study, self.number, step, self.curve
        ):
            return True, (f"pruned at epoch {step} by the accuracy-curve median rule "
                          f"({self.monitor}={value:.4f})")
        return False, None

    def _stop(self, trainer: L.Trainer, reason: str, pruned: bool) -> None:
        trainer.should_stop = True
        if self.stop_reason is None:
            self.stop_reason = reason
            self.pruned = pruned
            self.trial.set_user_attr("stop_reason", reason)
