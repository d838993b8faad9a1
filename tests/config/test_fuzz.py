"""Seeded fuzzing of the whole run config: a few hundred bad overrides across every section.

Whatever an override does, the outcome is a valid run or one ConfigError - never another
exception (a TypeError, OverflowError, RecursionError ...) and never a hang.
"""

from __future__ import annotations

import importlib.util
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from archforge.config.compose import compose
from archforge.config.run import parse_run
from archforge.config.search_settings import parse_settings
from archforge.errors import ConfigError
from archforge.limits import config_limits
from archforge.model.limits import limits
from archforge.search.pruners import make_pruner

BASE = ["model.stages.0.depth=1", "model.stages.1.depth=1", "model.stages.2.depth=1",
        "search=resnet_cifar"]
VALUES = ["abc", "-1", "0", "1", "0.5", "1e308", "-1e308", "inf", "-inf", "nan", "null",
          "true", "[]", "[abc]", "[1,2]", "{}", "{a: 1}", "99999999999999999999999", "''",
          "1.5", "[[[[1]]]]", "-0.0"]
CASES = 240
SECONDS = 20.0  # a generous bound that only a hang or a runaway build exceeds


def leaves(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leaves(value, f"{prefix}.{i}")
    else:
        yield prefix


def typo(key: str, rng: random.Random) -> str:
    head, _, leaf = key.rpartition(".")
    if len(leaf) < 3:
        return key + "x"
    i = rng.randrange(len(leaf) - 1)
    swapped = leaf[:i] + leaf[i + 1] + leaf[i] + leaf[i + 2:]
    return f"{head}.{swapped}" if head else swapped


def overrides() -> list[list[str]]:
    base = OmegaConf.to_container(compose(BASE), resolve=False)
    keys = sorted(set(leaves(base)))
    rng = random.Random(20261123)
    cases = []
    for _ in range(CASES):
        key = rng.choice(keys)
        if rng.random() < 0.15:
            cases.append([f"+{typo(key, rng)}={rng.choice(VALUES)}"])
        else:
            cases.append([f"{key}={rng.choice(VALUES)}"])
    return cases


def test_fuzzed_overrides_give_a_run_or_one_config_error() -> None:
    outcomes = {"valid": 0, "config_error": 0}
    bad: list[str] = []
    for case in overrides():
        start = time.perf_counter()
        try:
            cfg = compose([*BASE, *case])
            parse_settings(cfg)
            parse_run(cfg)
            outcomes["valid"] += 1
        except ConfigError:
            outcomes["config_error"] += 1
        except Exception as exc:  # the bug this test exists to find
            bad.append(f"{case}: {type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - start
        if elapsed > SECONDS:
            bad.append(f"{case}: took {elapsed:.1f} s")
    assert not bad, "\n".join(bad[:20])
    # The generator must exercise both outcomes, or it tests nothing.
    assert outcomes["config_error"] > CASES // 2 and outcomes["valid"] > 0, outcomes


@pytest.mark.parametrize("depth", [150])
def test_deeply_nested_values_are_a_config_error(depth: int) -> None:
    nested = "[" * depth + "1" + "]" * depth
    with pytest.raises(ConfigError):
        parse_run(compose([*BASE, f"+model.block_options.deep={nested}"]))


# Values an independent fault-injection run found ending in a traceback or silently accepted:
# each is one ConfigError naming the key typed (None: valid, accepted).
LISTED: list[tuple[list[str], str | None]] = [
    (["trainer.devices=[]"], "trainer.devices"),
    (["+trainer.max_time=abc"], "trainer.max_time"),
    (["+trainer.profiler=nope"], "trainer.profiler"),
    (["+trainer.fast_dev_run=-1"], "trainer.fast_dev_run"),
    (["+trainer.max_steps=-2"], "trainer.max_steps"),
    (["+trainer.gradient_clip_algorithm=nope"], "trainer.gradient_clip_algorithm"),
    (["+trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches"),
    (["+trainer.val_check_interval=0"], "trainer.val_check_interval"),
    (["trainer.deterministic=abc"], "trainer.deterministic"),
    (["+trainer.min_epochs=-5"], "trainer.min_epochs"),
    (["+trainer.num_sanity_val_steps=-5"], "trainer.num_sanity_val_steps"),
    (["+trainer.gradient_clip_val=-1"], "trainer.gradient_clip_val"),
    (["optim=adamw", "optim.betas=[0.9]"], "optim.betas"),
    (["optim=sgd", "optim.betas=[0.9]"], "optim.betas"),
    (["optim.lr=1e300"], "optim.lr"),
    (["optim.warmup_epochs=1e30"], "optim.warmup_epochs"),
    (["data.seed=-1"], "data.seed"),
    (["data.augment.crop_padding=1000000000"], "data.augment.crop_padding"),
    (["data.image_size=abc"], "data.image_size"),  # not model.input_size, which follows it
    (["data.image_size=100000"], "data.image_size"),
    (["data.channels=100000"], "data.channels"),
    (["data.num_classes=abc"], "data.num_classes"),
    (["search.seed=-1"], "search.seed"),
    (["search.seed=1099511627776"], "search.seed"),
    (["search.seed=4294967295"], "search.seed"),
    (["search.threads=1000000"], "search.threads"),
    (["trainer=[1]"], "trainer"),
    (["optim=5"], "optim"),
    (["finetune.enabled=true", "finetune.unfreeze=[99]"], "finetune.unfreeze"),
    (["model.input_size=[8]", "data.image_size=8"], None),  # one side: a square
    (["search.pruner={name: median}"], None),  # replaces the preset's hyperband options
    # issue #26, item 8: Lightning's MisconfigurationException at Trainer()
    (["+trainer.overfit_batches=-1"], "trainer.overfit_batches"),
    (["+trainer.overfit_batches=1.5"], "trainer.overfit_batches"),
    (["+trainer.overfit_batches=2"], None),  # two batches
    (["+trainer.reload_dataloaders_every_n_epochs=-1"],
     "trainer.reload_dataloaders_every_n_epochs"),
    # issue #26, item 9: values that were accepted
    (["model.width=1e-9"], "model.width"),  # 16 stem channels -> 0: no silent 1-channel net
    (["model.width=0.03"], "model.width"),  # 0.48 of a channel rounds to 0
    (["model.width=0.04"], None),  # 0.64 rounds to 1: every stated width keeps a channel
    (["model.name=''"], "model.name"),
    (["model.name='  '"], "model.name"),
    (["model.num_classes=1"], "model.num_classes"),  # one class: no classifier
    (["data=synthetic", "data.num_classes=1"], "data.num_classes"),
    (["model.weights=/nonexistent/w.pt"], "model.weights"),
    (["model.weights=/etc/passwd"], "model.weights"),  # a file, but not torch.save's
    (["model.weights=/"], "model.weights"),  # a directory
    (["search.sampler={name: tpe, n_startup_trials: -1}"], "search.sampler.n_startup_trials"),
    (["search.sampler={name: nsga2, population_size: 1}"], "search.sampler.population_size"),
    (["search.sampler={name: tpe, n_startup_trials: 0}"], None),  # model from the first trial
    (["search.pruner={name: hyperband, min_resource: 0}"], "search.pruner.min_resource"),
    (["search.pruner={name: hyperband, min_resource: auto}"], None),  # Optuna's own choice
    (["search.pruner={name: median, n_warmup_steps: -1}"], "search.pruner.n_warmup_steps"),
    (["search.pruner={name: successive_halving, reduction_factor: 1}"],
     "search.pruner.reduction_factor"),
]


@pytest.mark.parametrize(("case", "key"), LISTED, ids=[" ".join(c) for c, _ in LISTED])
def test_listed_values_are_one_config_error_naming_the_key(case: list[str],
                                                           key: str | None) -> None:
    start = time.perf_counter()
    try:
        cfg = compose([*BASE, *case])
        settings = parse_settings(cfg)
        parse_run(cfg)
        make_pruner(settings.pruner, 3)
        outcome = None
    except ConfigError as exc:
        outcome = exc.path
    assert outcome == key
    assert time.perf_counter() - start < SECONDS


def test_a_gpu_accelerator_without_a_gpu_is_named() -> None:
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError) as info:
        parse_run(compose([*BASE, "trainer.accelerator=gpu"]))
    assert info.value.path == "trainer.accelerator"


def test_a_data_set_too_big_for_memory_is_named() -> None:
    with pytest.raises(ConfigError) as info:  # 300 GB of images: refused before generating
        parse_run(compose([*BASE, "data=synthetic", "data.num_samples=100000000"]))
    assert info.value.path == "data.num_samples" and "ARCHFORGE_MAX_DATA_MB" in str(info.value)


def test_a_tpu_without_torch_xla_is_named() -> None:
    if importlib.util.find_spec("torch_xla") is not None:
        pytest.skip("torch_xla is installed here")
    with pytest.raises(ConfigError, match="needs the torch_xla package") as info:
        parse_run(compose([*BASE, "trainer.accelerator=tpu"]))
    assert info.value.path == "trainer.accelerator"


# Search-space entries an independent fault run found accepted (issue #26, item 9): each is
# one ConfigError naming the entry's key when the space is compiled.
SPACE_LISTED: list[tuple[str, str | None]] = [
    ("+search.space.seed={type: int, low: 0, high: 1e24}", "search.space.seed.high"),
    ("+search.space.seed={type: int, low: 0, high: 1000000000000000000000000}",
     "search.space.seed.high"),  # an integer Optuna's float storage cannot hold
    ("+search.space.seed={type: int, low: -9007199254740993, high: 0}", "search.space.seed.low"),
    ("+search.space.seed={type: int, low: 0, high: 9007199254740992}", None),  # 2**53
    ("+search.space.run_dir=[a, b]", "search.space.run_dir"),
    ("+search.space.overwrite=[true, false]", "search.space.overwrite"),
    ("+search.space.test=[true, false]", "search.space.test"),
    ("+search.space.search.storage=[a, b]", "search.space.search.storage"),
    ("+search.space.search={root: [a, b]}", "search.space.search.root"),
    ("+search.space.hydra.run.dir=[a, b]", "search.space.hydra.run.dir"),
]


@pytest.mark.parametrize(("case", "key"), SPACE_LISTED, ids=[c for c, _ in SPACE_LISTED])
def test_listed_space_entries_are_one_config_error_naming_the_key(case: str,
                                                                  key: str | None) -> None:
    from archforge.search.space.search_space import compile_space

    cfg = compose([*BASE, case])
    try:
        compile_space(parse_settings(cfg).space, cfg)
        outcome = None
    except ConfigError as exc:
        outcome = exc.path
    assert outcome == key


# Limit variables (archforge/limits.py): each checked itself first, naming the variable.
ENV_LISTED: list[tuple[str, str, str]] = [
    ("ARCHFORGE_MAX_STAGE_DEPTH", "-5", "expected an integer >= 1"),
    ("ARCHFORGE_MAX_STAGE_DEPTH", "0", "expected an integer >= 1"),
    ("ARCHFORGE_MAX_STAGE_DEPTH", "abc", "expected an integer >= 1"),
    ("ARCHFORGE_MAX_WIDTH", "nan", "expected a finite number > 0"),
    ("ARCHFORGE_MAX_WIDTH", "-1.5", "expected a finite number > 0"),
    ("ARCHFORGE_MAX_WIDTH", "1e999", "expected a finite number > 0"),
    ("ARCHFORGE_MAX_YAML_DEPTH", "100000", "expected an integer >= 1 and <= 64 (deeper files "
                                           "overflow Python's stack while they are read)"),
]


@pytest.mark.parametrize(("name", "value", "text"), ENV_LISTED,
                         ids=[f"{n}={v}" for n, v, _ in ENV_LISTED])
def test_listed_limit_variables_are_one_config_error_naming_them(
        name: str, value: str, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        limits()
        config_limits()
    assert info.value.path == name
    assert str(info.value) == f"{name}: got {value!r}; {text}"
