"""`search.evaluator=table`: answer each trial from NAS-Bench-201's stored training results.

A search over the `nb201` model's cell (conf/search/nb201.yaml) can be judged in seconds:
each candidate is still sampled, composed, built and traced on the meta device like any
other (a build bug cannot hide behind the table), its parameter count is checked against the
table's, and then, instead of training, the validation accuracy of one stored training seed
(drawn from the trial's seed) is read, as a real run would give one noisy value; it is
reported as `val/acc`, a fraction like training's. The table's train time is recorded as the
trial's simulated cost (`simulated_s`), the true mean accuracy and the regret against the
table's best, in percentage points, as `table_mean_acc` and `regret`.

The candidate is built for the table's data (its classes, 3 channels, 32x32 or ImageNet16's
16x16): this evaluator sets `data=synthetic` with that shape, so nothing is downloaded and no
image is read. Options: `dataset` (cifar10, cifar100 or imagenet for ImageNet16-120) and
`seed` (the seed draws; default `search.seed`). Needs the `bench` extra.
"""

from __future__ import annotations

from typing import cast

import optuna
import torch
from optuna.trial import TrialState
from torch import nn

from archforge.config.search_settings import COST_METRICS, SearchSettings
from archforge.errors import ConfigError
from archforge.model.builder import scale, stage_block
from archforge.search.strategy.evaluator import EVALUATORS, Evaluator
from archforge.search.strategy.nb201_table import ANOMALIES, NB201Table, load_table
from archforge.search.trial.outcome import Candidate, Outcome

CELL = "nb201_cell"
METRICS = ("val/acc",)  # what the table stores, besides the costs known before training


@EVALUATORS.register("table")
class TableEvaluator(Evaluator):
    """NAS-Bench-201's table: one stored seed's validation accuracy per candidate."""

    def __init__(self, settings: SearchSettings, dataset: str = "cifar10",
                 seed: int | None = None) -> None:
        super().__init__(settings)
        self.table: NB201Table = load_table(dataset)  # one clear error without the extra
        for i, o in enumerate(settings.objectives):
            if o.metric not in (*METRICS, *COST_METRICS):
                raise ConfigError(f"search.objectives[{i}].metric",
                                  f"{o.metric!r} is not in the table; it has "
                                  f"{', '.join(METRICS)} (and the costs {', '.join(COST_METRICS)})")
        self.seed = settings.seed if seed is None else seed

    def overrides(self) -> list[str]:
        d = self.table.data
        return ["data=synthetic", f"data.num_classes={d.num_classes}",
                f"data.channels={d.in_channels}", f"data.image_size={d.input_size}"]

    def evaluate(self, trial: optuna.Trial, candidate: Candidate) -> Outcome:
        cells = cells_of(candidate)
        key = self.table.key(cell_ops(cells))
        entry = self.table.entries[key]
        params = candidate.run.summary.total_params
        trial.set_user_attr("table_key", key)
        if params != entry.params and not (key in ANOMALIES and abs(params - entry.params)
                                           in one_conv(cells)):
            return Outcome(TrialState.FAIL, reason=(
                f"build: archforge's network has {params:,} parameters, the table's "
                f"{entry.params:,} for cell {key}; the network is not NAS-Bench-201's"),
                attrs={"stage": "build"})
        draw, percent = self.table.draw(key, self.seed, trial.number)
        acc = percent / 100.0  # a fraction, as training reports val/acc
        values = [acc if o.metric == "val/acc" else candidate.costs[o.metric]
                  for o in self.settings.objectives]
        trial.set_user_attr("metrics", {"val/acc": acc})
        trial.set_user_attr("table_seed", draw)
        trial.set_user_attr("table_mean_acc", entry.mean_acc)
        trial.set_user_attr("regret", self.table.regret(key))
        trial.set_user_attr("simulated_s", entry.train_time)
        return Outcome(TrialState.COMPLETE, values=values)


def cell_ops(cells: list[nn.Module]) -> tuple[str, ...]:
    """The six edge operations shared by every NAS-Bench-201 cell of a network."""
    found = {tuple(getattr(c, "ops", ())) for c in cells}
    if len(found) != 1:
        raise ConfigError("search.evaluator", f"the table answers for networks of "
                          f"{CELL} blocks sharing one cell; this candidate has {len(cells)} "
                          f"cells and {len(found)} distinct ones (use model=nb201)")
    return found.pop()


def cells_of(candidate: Candidate) -> list[nn.Module]:
    """The candidate's NAS-Bench-201 cells, one per block (each exposes `ops`): a stage's
    cell is built once on the meta device, with the options the builder gives it, and
    counted `depth` times (the whole network was built and traced by the trial's check)."""
    cfg = candidate.run.model
    cells: list[nn.Module] = []
    for i, stage in enumerate(cfg.stages):
        name, factory, options, _ = stage_block(cfg, i)
        if name != CELL:
            continue
        width = scale(stage.out_channels, cfg.width)
        with torch.device("meta"):
            cell = factory(width, width, 1, **options)
        cells += [cell] * stage.depth
    return cells


def one_conv(cells: list[nn.Module]) -> set[int]:
    """The parameters of one edge's 1x1 and of one edge's 3x3 convolution (+ BN) over all
    the cells: the table is one convolution off the reference network for `ANOMALIES`."""
    widths = [cast(int, c.out_channels) for c in cells]
    return {sum(c * c * k * k + 2 * c for c in widths) for k in (1, 3)}
