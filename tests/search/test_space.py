"""Search spaces: validation errors name the key; define-by-run sampling; overrides."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from omegaconf import OmegaConf

from archforge.config.compose import compose, conf_dir
from archforge.errors import ConfigError
from archforge.search.runtime.prepare import prepare
from archforge.search.space.search_space import compile_space, format_value, override, trial_config

BASE = compose(["model=resnet20"], "config")


def compile_(space: dict) -> object:
    return compile_space(space, BASE)


def test_shipped_spaces_compile() -> None:
    names = sorted(p.stem for p in (conf_dir() / "search").glob("*.yaml"))
    assert {"resnet_cifar", "mixed_families"} <= set(names)
    for name in names:
        prep = prepare([f"search={name}"])
        assert prep.space.params, name


def test_resnet_cifar_space() -> None:
    prep = prepare(["search=resnet_cifar"])
    paths = [p.path for p in prep.space.params]
    assert paths[:3] == ["model.block", "model.shortcut", "model.width"]
    assert [p for p in paths if ".depth" in p] == [f"model.stages.{i}.depth" for i in range(3)]
    exp = prep.space.by_path()["model.block_options.expansion"]
    assert exp.when == (("model.block", ("bottleneck",)),)


def test_conditional_params_follow_their_parent() -> None:
    space = compile_({"model.block": ["basic", "bottleneck"],
                      "model.block_options.expansion": {"type": "int", "low": 2, "high": 4,
                                                        "when": {"model.block": "bottleneck"}}})
    for block in ("basic", "bottleneck"):
        trial = optuna.trial.FixedTrial({"model.block": block,
                                         "model.block_options.expansion": 3})
        chosen, overrides = space.sample(trial)
        assert ("model.block_options.expansion" in chosen) == (block == "bottleneck")
        assert f"++model.block={block}" in overrides


def test_stage_wildcard_and_bracket_paths() -> None:
    space = compile_({"model.stages[*].depth": {"low": 1, "high": 3},
                      "model.stages[1].shortcut": ["projection", "zero_pad"]})
    assert [p.path for p in space.params] == [
        "model.stages.0.depth", "model.stages.1.depth", "model.stages.2.depth",
        "model.stages.1.shortcut"]


def test_sampled_overrides_compose() -> None:
    space = compile_({"model.width": {"type": "float", "low": 0.5, "high": 1.0},
                      "model.stages.*.depth": {"low": 1, "high": 2},
                      "model.block": ["bottleneck"],
                      "model.block_options.expansion": {"low": 2, "high": 2}})
    study = optuna.create_study()
    _, overrides = space.sample(study.ask())
    cfg = compose(["model=resnet20", *overrides], "config")
    assert cfg.model.block == "bottleneck" and cfg.model.block_options.expansion == 2
    assert cfg.model.stages[2].depth in (1, 2)


def test_trial_config_equals_a_full_composition() -> None:
    """Reusing the composed base gives exactly what composing base + trial gives."""
    base = ["model=resnet20", "data=digits", "trainer.max_epochs=3", "model.stem.out_channels=8"]
    trials = [
        ["++model.block=bottleneck", "++model.width=0.75", "++model.block_options.expansion=2",
         "++model.stages.1.depth=2"],
        ["++model.block=basic", "++model.shortcut=zero_pad"],
        ["++model.width=1.5", "++optim.lr=0.2"],  # not a model key: a full composition
    ]
    for overrides in trials:
        want = OmegaConf.to_container(compose([*base, *overrides], "config"), resolve=True)
        got = trial_config(base, overrides)
        assert OmegaConf.to_container(got, resolve=True) == want
        got.model.width = 3.0  # a trial's config is its own copy: the cached base is intact
    assert trial_config(base, ["++model.block=basic"]).model.get("width", 1.0) != 3.0
    assert trial_config(base, ["++optim.lr=0.2"]).optim.lr == 0.2


@pytest.mark.parametrize(
    ("space", "key"),
    [
        ({"model.widht": {"low": 0.5, "high": 1.0}}, "search.space.model.widht"),
        ({"model.width": {"type": "float", "low": 2.0, "high": 1.0}},
         "search.space.model.width.low"),
        ({"model.width": {"type": "float", "low": 0.0, "high": 1.0, "log": True}},
         "search.space.model.width.low"),
        ({"model.width": {"type": "float", "low": float("nan"), "high": 1.0}},
         "search.space.model.width.low"),
        ({"model.width": {"type": "float", "low": -float("inf"), "high": 1.0}},
         "search.space.model.width.low"),
        ({"model.width": {"type": "float", "low": 0.1, "high": 1.0, "step": float("nan")}},
         "search.space.model.width.step"),
        ({"model.width": {"type": "floot", "low": 0.1, "high": 1.0}},
         "search.space.model.width.type"),
        ({"model.width": {"type": "float", "lo": 0.1, "high": 1.0}},
         "search.space.model.width.lo"),
        ({"model.block": {"type": "categorical", "choices": []}},
         "search.space.model.block.choices"),
        ({"model.block": ["basic", "botleneck"]}, "search.space.model.block.choices"),
        ({"model.shortcut": ["identity", "nope"]}, "search.space.model.shortcut.choices"),
        ({"model.block_options.expansion": {"low": 2, "high": 4, "when": {"model.blok": "x"}}},
         "search.space.model.block_options.expansion.when.model.blok"),
        ({"model.block": ["basic", "bottleneck"],
          "model.block_options.expansion": {"low": 2, "high": 4,
                                            "when": {"model.block": "vgg"}}},
         "search.space.model.block_options.expansion.when.model.block"),
        # basic blocks have no expansion: the parameter needs a condition
        ({"model.block": ["basic", "bottleneck"],
          "model.block_options.expansion": {"low": 2, "high": 4}},
         "search.space.model.block_options.expansion"),
        ({"model.stages.7.depth": {"low": 1, "high": 2}}, "search.space.model.stages.7.depth"),
        ({"model.nothing.*.depth": {"low": 1, "high": 2}}, "search.space.model.nothing.*.depth"),
    ],
)
def test_bad_spaces_name_the_key(space: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_(space)
    assert info.value.path == key, str(info.value)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("model.widht", "model.width"),  # a schema field the YAML leaves at its default
        ("model.stages.1.dpeth", "model.stages.1.depth"),
        ("optim.lrr", "optim.lr"),
        ("model.stem.options.strde", "model.stem.options.stride"),  # a registered option
        ("model.head.options.dropuot", "model.head.options.dropout"),
    ],
)
def test_unknown_keys_suggest_the_closest_full_key(key: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_({key: [1]})
    assert f"did you mean {suggestion!r}?" in info.value.message, info.value.message


def test_every_real_key_compiles() -> None:
    """Schema fields at their defaults, stage fields and plugin options are all settable."""
    space = compile_({
        "model.width": [0.5, 1.0],
        "model.weights": [None],
        "model.stages.0.name": ["first"],
        "model.stem.type": ["conv"],
        "model.stem.options.stride": [1, 2],  # `archforge blocks` lists it for conv
        "model.head.options.dropout": [0.0, 0.2],
        "model.block": ["bottleneck"],
        "model.stages.1.options.expansion": [2, 4],
    })
    assert len(space.params) == 8
    # a stem option the configured stem lacks: the message names the stems that take it
    with pytest.raises(ConfigError, match="stems that take it: conv") as info:
        compile_({"model.stem.options.stride": [1, 2]})
    assert info.value.path == "search.space.model.stem.options.stride"


def test_block_options_follow_the_builders_rule() -> None:
    """model.block_options reach only stages that repeat model.block (the builder's
    `takes_block_options`); a stage naming another block takes only its own options."""
    own = {f"model.stages.{i}.block": ["basic"] for i in range(3)}
    ok = compile_({"model.block": ["bottleneck"], "model.stages.0.block": ["basic"],
                   "model.block_options.expansion": [2]})
    assert "model.block_options.expansion" in ok.by_path()
    with pytest.raises(ConfigError, match="no stage repeats a block") as info:
        compile_({"model.block": ["bottleneck"], **own, "model.block_options.expansion": [2]})
    assert info.value.path == "search.space.model.block_options.expansion"
    # the stage's own block decides what its options may be
    with pytest.raises(ConfigError, match="block 'basic' has no option 'expansion'"):
        compile_({"model.block": ["bottleneck"], "model.stages.1.block": ["basic"],
                  "model.stages.1.options.expansion": [2]})


def test_condition_cycle_is_refused() -> None:
    with pytest.raises(ConfigError, match="cycle"):
        compile_({"model.block": {"choices": ["basic"], "when": {"model.shortcut": "projection"}},
                  "model.shortcut": {"choices": ["projection"], "when": {"model.block": "basic"}}})


def test_format_value_round_trips_through_hydra() -> None:
    for value in (None, True, 3, 0.5, 1e-5, "zero_pad", "a b", "1"):
        assert format_value(value)
    cfg = compose(["model=resnet20", override("model.name", "a b:c"),
                   override("model.width", 1e-5)], "config")
    assert cfg.model.name == "a b:c" and cfg.model.width == 1e-5


def test_settings_errors(tmp_path: Path) -> None:
    spec = yaml.safe_load((conf_dir() / "search" / "resnet_cifar.yaml").read_text())
    for key, value, path in [
        ("n_trials", 0, "search.n_trials"),
        ("objectives", [{"metric": "val/accuracy"}], "search.objectives[0].metric"),
        ("sampler", "tpee", "search.sampler"),
        ("pruner", "medain", "search.pruner"),
        ("colour", 1, "search.colour"),
    ]:
        bad = dict(spec, **{key: value})
        f = tmp_path / f"{key}.yaml"
        f.write_text(yaml.safe_dump(bad))
        with pytest.raises(ConfigError) as info:
            prep = prepare([f"search={f}", f"search.root={tmp_path}"])
            prep.study()
        assert info.value.path == path, str(info.value)
