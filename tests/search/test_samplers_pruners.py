"""Samplers and pruners from config: short names, options, `_target_`, errors."""

from __future__ import annotations

import importlib
from pathlib import Path

import optuna
import pytest
from search_helpers import TINY

from archforge.config.compose import compose
from archforge.errors import ConfigError
from archforge.search.allow_list import trusted_targets
from archforge.search.pruners import make_pruner
from archforge.search.runtime.prepare import prepare
from archforge.search.space.search_space import compile_space
from archforge.search.strategy.discrete_gp import DiscreteGPSampler
from archforge.search.strategy.samplers import make_sampler

SPACE = compile_space({"model.block": ["basic", "bottleneck"],
                       "model.stages.*.depth": {"low": 1, "high": 2}},
                      compose(["model=resnet20"], "config"))


@pytest.mark.parametrize(("spec", "cls"), [
    ("tpe", optuna.samplers.TPESampler),
    ("random", optuna.samplers.RandomSampler),
    ("grid", optuna.samplers.GridSampler),
    ("cmaes", optuna.samplers.CmaEsSampler),
    ("gp", optuna.samplers.GPSampler),
    ({"name": "gp", "n_startup_trials": 4}, optuna.samplers.GPSampler),
    ("gp_discrete", DiscreteGPSampler),
    ({"name": "gp_discrete", "max_candidates": 1000}, DiscreteGPSampler),
    ("nsga2", optuna.samplers.NSGAIISampler),
    ({"name": "tpe", "n_startup_trials": 3}, optuna.samplers.TPESampler),
    ({"_target_": "optuna.samplers.QMCSampler"}, optuna.samplers.QMCSampler),
    (None, optuna.samplers.TPESampler),
])
def test_samplers(spec: object, cls: type) -> None:
    assert isinstance(make_sampler(spec, SPACE, 0, multi_objective=False), cls)


def test_grid_covers_the_space() -> None:
    sampler = make_sampler("grid", SPACE, 0, False)
    study = optuna.create_study(sampler=sampler)
    seen = set()
    for _ in range(16):
        t = study.ask()
        chosen, _ = SPACE.sample(t)
        seen.add(tuple(chosen.values()))
        try:
            study.tell(t, 0.0)
        except RuntimeError:  # the grid's study.stop() outside optimize(): exhausted
            break
    assert len(seen) == 16  # 2 blocks x 2^3 depths, each cell once


@pytest.mark.parametrize(("spec", "cls"), [
    ("median", optuna.pruners.MedianPruner),
    ("successive_halving", optuna.pruners.SuccessiveHalvingPruner),
    ({"name": "hyperband", "reduction_factor": 3}, optuna.pruners.HyperbandPruner),
    ("none", optuna.pruners.NopPruner),
    ({"_target_": "optuna.pruners.PercentilePruner", "percentile": 25.0},
     optuna.pruners.PercentilePruner),
])
def test_pruners(spec: object, cls: type) -> None:
    assert isinstance(make_pruner(spec, max_epochs=9), cls)


def test_hyperband_max_resource_is_max_epochs() -> None:
    pruner = make_pruner("hyperband", max_epochs=9)
    assert pruner._max_resource == 9


@pytest.mark.parametrize(("maker", "spec", "key"), [
    ("sampler", "tpee", "search.sampler"),
    ("sampler", {"name": "tpe", "bogus": 1}, "search.sampler"),
    ("sampler", {"_target_": "optuna.samplers.Nope"}, "search.sampler._target_"),
    ("pruner", {"name": "medain"}, "search.pruner.name"),
    ("pruner", {"_target_": "collections.OrderedDict"}, "search.pruner._target_"),
])
def test_errors_name_the_key(maker: str, spec: object, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        if maker == "sampler":
            make_sampler(spec, SPACE, 0, False)
        else:
            make_pruner(spec, 3)
    assert info.value.path == key


@pytest.mark.parametrize("spec", [
    {"_target_": "os.system", "command": "touch {marker}"},
    {"_target_": "subprocess.run", "args": ["touch", "{marker}"]},
    {"_target_": "optuna.samplers.os.system", "command": "touch {marker}"},
    {"_target_": "optuna.samplers.__builtins__", "command": "touch {marker}"},
])
def test_targets_outside_the_allow_list_are_refused_before_any_call(
        spec: dict, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    spec = {k: (v.format(marker=marker) if isinstance(v, str) else
                [x.format(marker=marker) for x in v] if isinstance(v, list) else v)
            for k, v in spec.items()}
    for make in (lambda: make_sampler(spec, SPACE, 0, False), lambda: make_pruner(spec, 3)):
        with pytest.raises(ConfigError) as info:
            make()
        assert info.value.path.endswith("._target_")
    assert not marker.exists()


def test_a_refused_module_is_never_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module",
                        lambda name, *a: imported.append(name) or real(name, *a))
    with pytest.raises(ConfigError, match=r"search\.allowed_targets"):
        make_sampler({"_target_": "webbrowser.open"}, SPACE, 0, False)
    assert imported == []


def test_allowed_targets_admit_the_users_own_package() -> None:
    spec = {"_target_": "search_helpers.my_sampler"}
    with pytest.raises(ConfigError):
        make_sampler(spec, SPACE, 3, False)
    sampler = make_sampler(spec, SPACE, 3, False, allowed=["search_helpers"])
    assert isinstance(sampler, optuna.samplers.RandomSampler)
    with pytest.raises(ConfigError, match="is not an Optuna sampler"):
        make_sampler({"_target_": "optuna.pruners.MedianPruner"}, SPACE, 0, False)


def test_a_search_yaml_cannot_run_code(root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    space = tmp_path / "evil.yaml"
    space.write_text(TINY.read_text().replace(
        "sampler: random", f"sampler: {{_target_: os.system, command: 'touch {marker}'}}"))
    with pytest.raises(ConfigError) as info:
        prepare([f"search={space}", f"search.root={root}"]).study()
    assert info.value.path == "search.sampler._target_" and not marker.exists()



EVIL = {  # what a search file can try: (its own allow-list or overrides line, the spec)
    "sampler": ("allowed_targets: [posix]\n",
                "sampler: {{_target_: posix.system, command: 'touch {marker}'}}"),
    "pruner": ("allowed_targets: [subprocess]\n",
               "pruner: {{_target_: subprocess.getoutput, cmd: 'touch {marker}'}}"),
    "overrides": ("", "sampler: {{_target_: posix.system, command: 'touch {marker}'}}"),
}


@pytest.mark.parametrize("how", list(EVIL))
def test_a_search_yaml_cannot_allow_list_its_own_targets(
        root: Path, tmp_path: Path, how: str) -> None:
    marker = tmp_path / "ran"
    allow, spec = EVIL[how]
    key = spec.partition(":")[0]
    body = TINY.read_text().replace(f"{key}: {'random' if key == 'sampler' else 'none'}",
                                    spec.format(marker=marker)) + allow
    if how == "overrides":  # the allow-list smuggled into the file's own base overrides
        body = body.replace("  - data=digits", "  - data=digits\n"
                            "  - search.allowed_targets=[posix]")
    space = tmp_path / "evil.yaml"
    space.write_text(body)
    with pytest.raises(ConfigError) as info:
        prepare([f"search={space}", f"search.root={root}"]).study()
    assert info.value.path == "search.allowed_targets"
    module = "subprocess" if how == "pruner" else "posix"
    if how == "overrides":  # refused as the file's override, whatever the command line says
        line = body.splitlines().index("  - search.allowed_targets=[posix]") + 1
        assert f"{space}, line {line}: overrides item" in str(info.value)
        with pytest.raises(ConfigError, match="only your own command line sets it"):
            prepare([f"search={space}", f"search.root={root}",
                     f"search.allowed_targets=[{module}]"])
        assert not marker.exists()
        return
    # allowed by the person running it, a function that does not declare it returns a
    # sampler or pruner is still never called
    with pytest.raises(ConfigError) as info:
        prepare([f"search={space}", f"search.root={root}",
                 f"search.allowed_targets=[{module}]"]).study()
    assert info.value.path == f"search.{key}._target_" and "not called" in str(info.value)
    assert not marker.exists()


def test_the_allow_list_from_the_environment_and_the_user_config_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"_target_": "search_helpers.my_sampler"}
    monkeypatch.setenv("ARCHFORGE_ALLOWED_TARGETS", "search_helpers")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert trusted_targets([], []) == ["search_helpers"]
    sampler = make_sampler(spec, SPACE, 3, False, allowed=trusted_targets([], []))
    assert isinstance(sampler, optuna.samplers.RandomSampler)
    monkeypatch.delenv("ARCHFORGE_ALLOWED_TARGETS")
    (tmp_path / "archforge").mkdir()
    (tmp_path / "archforge" / "allowed_targets").write_text("# mine\nsearch_helpers\n")
    assert trusted_targets(["a.b"], ["++search.allowed_targets=[a.b]"]) == ["a.b",
                                                                             "search_helpers"]
    monkeypatch.setenv("ARCHFORGE_ALLOWED_TARGETS", "os.system;rm")
    with pytest.raises(ConfigError, match="ARCHFORGE_ALLOWED_TARGETS"):
        trusted_targets([], [])
