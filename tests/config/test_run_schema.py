"""The run schema: every section rejects a wrong type, a bad value or an unknown key with one
ConfigError naming the full key, before anything is trained."""

from __future__ import annotations

import pytest

from archforge.config.compose import compose
from archforge.config.run import parse_run
from archforge.config.search_settings import parse_settings
from archforge.errors import ConfigError

TINY = ["model.stages.0.depth=1", "model.stages.1.depth=1", "model.stages.2.depth=1"]


def error(overrides: list[str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_run(compose([*TINY, *overrides]))
    return info.value


@pytest.mark.parametrize(
    ("override", "key", "text"),
    [
        ("optim.lr=abc", "optim.lr", "expected a number"),
        ("optim.lr=inf", "optim.lr", "finite"),
        ("optim.lr=-0.1", "optim.lr", "(0, 10000]"),
        ("optim.milestones=0.5", "optim.milestones", "a list"),
        ("optim.milestones=[0.5,1.5]", "optim.milestones", "(0, 1)"),
        ("optim.momentum=abc", "optim.momentum", "expected a number"),
        ("optim.nesterov=maybe", "optim.nesterov", "true or false"),
        ("optim.name=lbfgs", "optim.name", "known: adamw, sgd"),
        ("optim.schedule=cosin", "optim.schedule", "did you mean 'cosine'"),
        ("+optim.lrr=0.1", "optim.lrr", "did you mean 'lr'"),
        ("logger=5", "logger", "expected a string"),
        ("logger=tensorbord", "logger", "did you mean 'tensorboard'"),
        ("label_smoothing=2", "label_smoothing", "[0, 1)"),
        ("seed=abc", "seed", "expected an integer"),
        ("seed=-1", "seed", "2**32"),
        ("compile=yes", "compile", "true or false"),
        ("+trainer.callbacks=[abc]", "trainer.callbacks", "set by archforge"),
        ("+trainer.gradient_clip_val=abc", "trainer.gradient_clip_val", "'abc'"),
        ("+trainer.max_epoch=2", "trainer.max_epoch", "did you mean 'max_epochs'"),
        ("trainer.max_epochs=0", "trainer.max_epochs", ">= 1"),
        ("trainer.limit_train_batches=1.5", "trainer.limit_train_batches", "fraction"),
        ("trainer.devices=0", "trainer.devices", "count"),
        ("checkpoint.monitor=val/nope", "checkpoint.monitor", "val/acc"),
        ("checkpoint.mode=biggest", "checkpoint.mode", "max or min"),
        ("finetune.lr_factor=0", "finetune.lr_factor", "(0, 1]"),
        ("finetune.head_epochs=-1", "finetune.head_epochs", ">= 0"),
        ("finetune.freeze=some", "finetune.freeze", "'all'"),
        ("data.batch_size=0", "data.batch_size", "at least 1"),
        ("model.width=inf", "model.width", "finite"),
        ("model.width=1e300", "model.width", "<= 64"),
        ("model.stages.0.depth=99999999999999999999999", "model.stages[0].depth", "<= 2,048"),
        ("model.num_classes=5", "model.num_classes", "data 'digits' has 10"),
    ],
)
def test_bad_values_are_one_config_error_naming_the_key(override: str, key: str,
                                                        text: str) -> None:
    exc = error([override])
    assert exc.path == key, str(exc)
    assert text in str(exc), str(exc)


def test_finetune_without_weights_is_refused() -> None:
    assert error(["finetune.enabled=true"]).path == "model.weights"


def test_a_valid_run_is_typed_with_the_defaults_from_the_dataclasses() -> None:
    run = parse_run(compose([*TINY, "+trainer.gradient_clip_val=1.0"]))
    assert run.optim.name == "sgd" and run.optim.milestones == [0.5, 0.75]
    assert run.trainer.extra == {"gradient_clip_val": 1.0}
    assert run.trainer.kwargs()["gradient_clip_val"] == 1.0
    assert "channels_last" not in run.trainer.kwargs()
    assert run.finetune.lr_factor == 0.1  # one default, in the dataclass and the YAML alike
    assert run.summary.total_params > 0 and run.model.in_channels == 1


def test_environment_raises_a_model_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    assert error(["model.stages.0.depth=3000"]).path == "model.stages[0].depth"
    monkeypatch.setenv("ARCHFORGE_MAX_STAGE_DEPTH", "4000")
    from archforge.model.limits import limits

    assert limits().max_stage_depth == 4000


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("search.checkpoints=no", "search.checkpoints"),
        ("search.n_trials=0", "search.n_trials"),
        ("search.n_trials=abc", "search.n_trials"),
        ("search.timeout=inf", "search.timeout"),
        ("+search.n_trial=3", "search.n_trial"),
        ("search.export=all", "search.export"),
        ("search.objectives=[{metric: val/accc}]", "search.objectives[0].metric"),
        ("search.constraints.max_params=-5", "search.constraints.max_params"),
    ],
)
def test_search_settings_are_typed(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(compose(["search=resnet_cifar", override]))
    assert info.value.path == key, str(info.value)


def test_search_checkpoints_string_is_not_read_as_true() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(compose(["search=resnet_cifar", "search.checkpoints='no'"]))
    assert "true or false" in str(info.value)


def test_each_section_is_declared_once_on_run() -> None:
    """Run's section fields are the config's sections: their annotations are the schemas
    composition uses, and parse_run accepts exactly them besides RunKeys' keys."""
    import dataclasses
    import typing

    from archforge.config.compose import schema_fields
    from archforge.config.run import SECTIONS, Run, RunKeys
    from archforge.data.base import DataConfig

    hints = typing.get_type_hints(Run, localns={"DataConfig": DataConfig})  # TYPE_CHECKING
    assert list(SECTIONS) == ["data", "model", "optim", "trainer", "finetune", "checkpoint",
                              "search"]
    for key, info in SECTIONS.items():
        if info.schema is not None and not info.raw:
            assert hints[key] is info.schema, key
            assert schema_fields([key]) == \
                {f.name for f in dataclasses.fields(info.schema)} - {"extra"}
    assert hints["data"] is DataConfig and SECTIONS["data"].schema is None
    assert schema_fields([]) == {f.name for f in dataclasses.fields(RunKeys)} | set(SECTIONS)
    assert {"depth", "stride", "block"} <= schema_fields(["model", "stages", "1"])
    assert "n_trials" in schema_fields(["search"])


def test_a_missing_or_wrong_section_is_one_error_naming_it() -> None:
    from archforge.plain import to_plain

    cfg = to_plain(compose(["data=digits"]), "config")
    with pytest.raises(ConfigError, match=r"^optim: missing; expected a mapping$"):
        parse_run({k: v for k, v in cfg.items() if k != "optim"})
    with pytest.raises(ConfigError, match=r"^finetune: got 3; expected a mapping$"):
        parse_run({**cfg, "finetune": 3})
    with pytest.raises(ConfigError, match=r"^optm: unknown key; .*did you mean 'optim'\?$"):
        parse_run({**cfg, "optm": {}})
    run = parse_run({**cfg, "search": None})
    assert run.search is None and run.checkpoint.monitor == "val/acc"
