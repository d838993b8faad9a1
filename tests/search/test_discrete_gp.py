"""The `gp_discrete` sampler (strategy/discrete_gp.py) and its model (strategy/gp_model.py)."""

from __future__ import annotations

import math

import optuna
import pytest
import torch

from archforge.errors import ConfigError
from archforge.search.strategy.discrete_gp import DiscreteGPSampler
from archforge.search.strategy.gp_model import (
    Encoded,
    GaussianProcess,
    Hyper,
    Layout,
    _neg_log_posterior,
    distances,
    log_h,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
OPS = ["a", "b", "c", "d", "e"]


def _normal_h(z: float) -> float:
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return phi + z * 0.5 * math.erfc(-z / math.sqrt(2))


def test_log_h_matches_the_closed_form_and_stays_finite_far_below() -> None:
    zs = [-8.0, -3.0, -1.5, -1.0, -0.5, 0.0, 0.7, 2.0, 6.0]
    got = log_h(torch.tensor(zs, dtype=torch.float64))
    for z, value in zip(zs, got.tolist(), strict=True):
        assert value == pytest.approx(math.log(_normal_h(z)), rel=1e-9, abs=1e-9)
    # far below, phi(z) + z Phi(z) underflows to 0; its log is phi(z) / z^2 to first order
    far = log_h(torch.tensor([-40.0, -400.0], dtype=torch.float64)).tolist()
    for z, value in zip((-40.0, -400.0), far, strict=True):
        expected = -z * z / 2 - 0.5 * math.log(2 * math.pi) - 2 * math.log(-z)
        assert math.isfinite(value) and value == pytest.approx(expected, abs=5e-3)
    assert far[0] > far[1]


def test_distances_are_the_weighted_hamming_plus_squared_numeric_distance() -> None:
    layout = Layout((3, None, 4, None))
    gen = torch.Generator().manual_seed(0)
    a = torch.stack([torch.randint(0, 3, (5,), generator=gen).double(),
                     torch.rand(5, generator=gen, dtype=torch.float64),
                     torch.randint(0, 4, (5,), generator=gen).double(),
                     torch.rand(5, generator=gen, dtype=torch.float64)], 1)
    b = a.flip(0) * torch.tensor([1.0, 0.5, 1.0, 0.3], dtype=torch.float64)
    b[:, 0], b[:, 2] = a[:, 0].roll(1), a[:, 2].roll(2)
    w = torch.tensor([0.7, 2.0, 0.3, 5.0], dtype=torch.float64)
    got = distances(Encoded(a, layout), Encoded(b, layout), w)
    for i in range(5):
        for j in range(5):
            want = (0.7 * float(a[i, 0] != b[j, 0]) + 2.0 * (a[i, 1] - b[j, 1]) ** 2
                    + 0.3 * float(a[i, 2] != b[j, 2]) + 5.0 * (a[i, 3] - b[j, 3]) ** 2)
            assert float(got[i, j]) == pytest.approx(float(want), abs=1e-10)


def test_merging_repeated_points_leaves_the_likelihood_surface_unchanged() -> None:
    """Merged repeats (mean, runs, spread) differ from the raw observations by a constant."""
    layout = Layout((3, 3))
    raw_x = torch.tensor([[0, 0], [0, 0], [1, 2], [2, 1], [2, 1], [2, 1]], dtype=torch.float64)
    raw_y = torch.tensor([0.3, -0.1, 1.2, -0.7, -0.4, -1.0], dtype=torch.float64)
    ones = torch.ones(6, dtype=torch.float64)
    merged_x = torch.tensor([[0, 0], [1, 2], [2, 1]], dtype=torch.float64)
    groups = [raw_y[:2], raw_y[2:3], raw_y[3:]]
    means = torch.stack([g.mean() for g in groups])
    runs = torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64)
    spread = torch.stack([((g - g.mean()) ** 2).sum() for g in groups])

    def both(v: torch.Tensor) -> tuple[float, float]:
        full = _neg_log_posterior(v, Encoded(raw_x, layout), raw_y, ones, torch.zeros(6))
        part = _neg_log_posterior(v, Encoded(merged_x, layout), means, runs, spread)
        return float(full), float(part)

    v1 = Hyper.initial(2).vector()
    v2 = torch.tensor([0.4, -1.0, 0.5, -2.5], dtype=torch.float64)
    (f1, m1), (f2, m2) = both(v1), both(v2)
    assert f1 - f2 == pytest.approx(m1 - m2, abs=1e-9)
    assert f1 != pytest.approx(f2)  # the two settings really differ


def test_the_posterior_follows_the_data() -> None:
    layout = Layout((5, 5))
    x = torch.tensor([[i, j] for i in range(5) for j in range(5)], dtype=torch.float64)
    y = x[:, 0] + 0.5 * x[:, 1]  # additive: best at (4, 4)
    gp = GaussianProcess(Encoded(x, layout), y, torch.ones(25), torch.zeros(25))
    mean, std = gp.posterior(Encoded(x, layout))
    back = mean * gp.scale + gp.mean
    assert torch.allclose(back, y, atol=0.15)
    assert float(std.max()) < 0.2  # every point observed: little left unknown
    assert int(gp.log_expected_improvement(Encoded(x, layout)).argmax()) == 24


def test_each_acquisition_by_hand() -> None:
    """AEI (Huang et al. 2006): the incumbent is the best mean minus one sd among observed
    points, and EI is scaled by 1 - noise_sd / sqrt(var + noise)."""
    layout = Layout((4, 4))
    x = torch.tensor([[0, 0]] * 12 + [[1, 1], [2, 2], [3, 3], [1, 2], [2, 3]],
                     dtype=torch.float64)
    y = torch.tensor([1.0, 1.2, 0.8, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.1, 0.9, 1.0,
                      0.2, 0.9, 0.1, 0.5, 0.6], dtype=torch.float64)
    merged = {}
    for row, value in zip(x.tolist(), y.tolist(), strict=True):
        merged.setdefault(tuple(row), []).append(value)
    points = torch.tensor(list(merged), dtype=torch.float64)
    values = [torch.tensor(v, dtype=torch.float64) for v in merged.values()]
    gp = GaussianProcess(Encoded(points, layout), torch.stack([v.mean() for v in values]),
                         torch.tensor([float(len(v)) for v in values]),
                         torch.stack([((v - v.mean()) ** 2).sum() for v in values]), best=1.2)
    grid = torch.tensor([[i, j] for i in range(4) for j in range(4)], dtype=torch.float64)
    mean, std = gp.posterior(Encoded(grid, layout))
    mean_x, std_x = gp.posterior(Encoded(points, layout))
    best = float(mean_x[(mean_x - std_x).argmax()])
    noise = float(gp.hyper.log_noise.exp()) + 1e-6
    got = gp.log_expected_improvement(Encoded(grid, layout), "aei")
    factors = []
    for k in range(16):
        z = (float(mean[k]) - best) / float(std[k])
        ei = float(std[k]) * _normal_h(z)
        factor = 1 - math.sqrt(noise) / math.sqrt(float(std[k]) ** 2 + noise)
        assert float(got[k]) == pytest.approx(math.log(ei * factor), rel=1e-6)
        factors.append(factor)
    # the point measured twelve times is discounted most, an unmeasured one least
    assert factors[0] == min(factors) and factors[0] < 0.5 * factors[3]
    for kind, incumbent in (("ei_mean", float(mean_x.max())), ("ei", float(gp.best))):
        plain = gp.log_expected_improvement(Encoded(grid, layout), kind)
        z0 = (float(mean[3]) - incumbent) / float(std[3])
        assert float(plain[3]) == pytest.approx(math.log(float(std[3]) * _normal_h(z0)),
                                                rel=1e-6)
    # "ei" measures against the best single run (1.2, standardised), not the best mean
    assert float(gp.best) == pytest.approx((1.2 - gp.mean) / gp.scale)


def _additive(trial: optuna.Trial) -> float:
    score = {"a": 0.0, "b": 0.2, "c": 1.0, "d": 0.5, "e": 0.1}
    return sum(score[trial.suggest_categorical(f"edge{i}", OPS)] * (1 + 0.1 * i)
               for i in range(4))


def _found_at(seed: int, sampler: optuna.samplers.BaseSampler, trials: int) -> int | None:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_additive, n_trials=trials)
    for t in study.trials:
        if all(t.params[f"edge{i}"] == "c" for i in range(4)):
            return t.number
    return None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_finds_the_optimum_of_625_cells_where_random_search_does_not(seed: int) -> None:
    """Random search finds the one best of 625 cells within 40 trials with probability 6%."""
    found = _found_at(seed, DiscreteGPSampler(n_startup_trials=8, seed=seed), 40)
    assert found is not None and found < 40
    assert _found_at(seed, optuna.samplers.RandomSampler(seed=seed), 40) is None


def test_start_up_candidates_are_the_random_samplers() -> None:
    ours = optuna.create_study(sampler=DiscreteGPSampler(n_startup_trials=5, seed=3))
    ours.optimize(_additive, n_trials=5)
    plain = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    plain.optimize(_additive, n_trials=5)
    assert [t.params for t in ours.trials] == [t.params for t in plain.trials]


def test_a_candidate_another_worker_is_training_is_not_proposed_again() -> None:
    sampler = DiscreteGPSampler(n_startup_trials=6, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_additive, n_trials=6)
    first = study.ask()
    params = {f"edge{i}": first.suggest_categorical(f"edge{i}", OPS) for i in range(4)}
    second = study.ask()  # the first is still running
    again = {f"edge{i}": second.suggest_categorical(f"edge{i}", OPS) for i in range(4)}
    assert again != params
    study.tell(first, 0.0)
    study.tell(second, 0.0)
    third = study.ask()  # with the first finished and scored low, its own choice is free
    assert {f"edge{i}": third.suggest_categorical(f"edge{i}", OPS) for i in range(4)}


def test_a_space_too_large_to_enumerate_and_continuous_values() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.01, 1.0, log=True)
        k = trial.suggest_int("k", 1, 500)
        op = trial.suggest_categorical("op", OPS)
        return -(math.log10(x) + 1) ** 2 - ((k - 300) / 500) ** 2 + (op == "c")

    sampler = DiscreteGPSampler(n_startup_trials=8, max_candidates=300, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=30)
    assert all(0.01 <= t.params["x"] <= 1.0 and 1 <= t.params["k"] <= 500
               and isinstance(t.params["k"], int) for t in study.trials)
    best = study.best_trial.params
    assert best["op"] == "c" and abs(math.log10(best["x"]) + 1) < 0.3


def test_conditional_parameters_outside_the_shared_space_are_drawn_at_random() -> None:
    def objective(trial: optuna.Trial) -> float:
        block = trial.suggest_categorical("block", ["basic", "bottleneck"])
        value = 1.0 if block == "bottleneck" else 0.0
        if block == "bottleneck":
            value += trial.suggest_int("expansion", 2, 4) / 10
        return value

    study = optuna.create_study(direction="maximize",
                                sampler=DiscreteGPSampler(n_startup_trials=4, seed=1))
    study.optimize(objective, n_trials=12)
    late = study.trials[4:]
    assert sum(t.params["block"] == "bottleneck" for t in late) >= 6
    assert all(2 <= t.params.get("expansion", 2) <= 4 for t in study.trials)


def test_settings_are_checked_and_one_objective_only() -> None:
    with pytest.raises(ConfigError, match=r"search\.sampler\.n_startup_trials"):
        DiscreteGPSampler(n_startup_trials=0)
    with pytest.raises(ConfigError, match=r"search\.sampler\.max_candidates"):
        DiscreteGPSampler(max_candidates=0)
    with pytest.raises(ConfigError, match=r"search\.sampler\.acquisition: got 'ucb'"):
        DiscreteGPSampler(acquisition="ucb")
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=DiscreteGPSampler(n_startup_trials=1, seed=0))
    with pytest.raises(ConfigError, match="one objective"):
        study.optimize(lambda t: (_additive(t), 0.0), n_trials=1)
