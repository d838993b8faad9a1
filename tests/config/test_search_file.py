"""A search file is data: what its `overrides:` may set, resolvers anywhere in a model or
search file, and errors that name the file, the line and the override."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archforge.config.compose import compose, conf_dir
from archforge.config.data_file import refused_resolvers
from archforge.config.search_file import (
    REFUSED_RUN_KEYS,
    SearchFile,
    check_overrides,
    naming_the_file,
    run_keys,
    search_file,
)
from archforge.errors import ConfigError
from archforge.search.runtime.prepare import split_args

TINY = Path(__file__).parents[1] / "search" / "tiny.yaml"


def _space(tmp_path: Path, *extra: str, body: str | None = None) -> tuple[Path, int]:
    """tests/search/tiny.yaml with `extra` appended to its overrides; (file, first line of
    `extra`)."""
    text = body if body is not None else TINY.read_text()
    lines = text.splitlines()
    at = lines.index("  - data=digits") + 1
    lines[at:at] = [f"  - {e}" for e in extra]
    path = tmp_path / "space.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, at + 1


def test_the_allowed_keys_are_the_runs_own_and_every_top_level_key_is_classified() -> None:
    """A key added to conf/config.yaml is either a run key a search file may set or refused
    with a reason: never allowed by accident."""
    allowed = run_keys()
    assert {"model", "data", "trainer", "optim", "seed", "finetune", "checkpoint"} <= allowed
    assert not allowed & {"search", "hydra", *REFUSED_RUN_KEYS}
    top = set(compose([], "config"))
    assert top <= allowed | set(REFUSED_RUN_KEYS) | {"search"}, top - allowed


@pytest.mark.parametrize(("item", "path", "words"), [
    ("search.allowed_targets=[antigravity]", "search.allowed_targets", "only your own command"),
    ("++search.storage=sqlite:////tmp/app.db", "search.storage", "which database"),
    ("search.root=/", "search.root", "where the study's files go"),
    ("search.study_name=..", "search.study_name", "only your own command"),
    ("search.n_trials=5", "search.n_trials", "write `n_trials:` as a key of the file"),
    ("search=fashion", "search", "not the search"),
    ("+hydra.job.env_set.ARCHFORGE_ALLOWED_TARGETS=posix",
     "hydra.job.env_set.ARCHFORGE_ALLOWED_TARGETS", "cannot set Hydra's settings"),
    ("+hydra.job.env_set.LD_PRELOAD=/tmp/x.so", "hydra.job.env_set.LD_PRELOAD", "Hydra's"),
    ("hydra/launcher=joblib", "hydra/launcher", "Hydra's"),
    ("~hydra.callbacks", "hydra.callbacks", "Hydra's"),
    ("run_dir=/home/me", "run_dir", "where a run writes"),
    ("overwrite=true", "overwrite", "replace files"),
    ("test=true", "test", "never reads the test split"),
    ("data@hydra.job=digits", "data", "another package"),
    ("trainer.max_epochs=1,2", "trainer.max_epochs", "a sweep"),
    ("nonsense.x=1", "nonsense.x", "not a section of a run"),
    ("data.root=${oc.env:HOME}", "data.root", "${oc.env:...} is not allowed"),
    ("model.name=${oc.decode:'1'}", "model.name", "${oc.decode:...}"),
    ("model.name=a=b=(", "search.overrides", "overrides item"),
])
def test_a_search_files_overrides_set_only_the_runs_sections(
        tmp_path: Path, item: str, path: str, words: str) -> None:
    file = tmp_path / "s.yaml"
    source = SearchFile(file, (7, 8, 9)).holding(["model=resnet20", item, "seed=1"])
    with pytest.raises(ConfigError) as info:
        check_overrides(source)
    assert info.value.path == path
    assert f"{file}, line 8: overrides item {item!r}" in str(info.value)
    assert words in str(info.value)


def test_the_runs_own_settings_pass() -> None:
    check_overrides(SearchFile(None).holding([
        "model=resnet20", "data=fashion_mnist", "data.train_subset=12000",
        "+trainer.limit_train_batches=3", "optim.lr=0.1", "seed=3", "~model.weights",
        "finetune.enabled=false", "checkpoint.monitor=val/loss", "label_smoothing=0.0",
        "model.name=${data.name}", "model.num_classes=${oc.select:data.num_classes,10}"]))


@pytest.mark.parametrize(("value", "found"), [
    ("${oc.env:HOME}", ["oc.env"]),
    ("x ${ oc.env :HOME} y", ["oc.env"]),
    ("${oc.select:${oc.env:HOME},1}", ["oc.env"]),  # nested in an allowed one
    ("\\${oc.env:HOME}", ["oc.env"]),  # escaped: would resolve once saved and read back
    ("${${name}:HOME}", ["${...}"]),  # a computed resolver name
    ("${oc.${x}:HOME}", ["oc.${...}"]),
    ("${hydra:runtime.cwd}", ["hydra"]),
    ("${now:%H}", ["now"]),
    ("${data.channels} ${oc.select:data.num_classes,10} ${oc.dict.keys:model}", []),
    ("$HOME {oc.env:HOME}", []),
])
def test_resolvers_that_read_outside_the_config_are_found(value: str, found: list[str]) -> None:
    assert refused_resolvers(value) == found


@pytest.mark.parametrize("group", ["model", "search"])
def test_a_resolver_anywhere_in_a_model_or_search_file_is_refused_before_composing(
        tmp_path: Path, group: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHFORGE_TEST_SECRET", "s3cret")
    source = TINY if group == "search" else conf_dir() / "model" / "resnet20.yaml"
    path = tmp_path / "f.yaml"
    path.write_text(source.read_text() + "name: ${oc.env:ARCHFORGE_TEST_SECRET}\n")
    line = len(path.read_text().splitlines())
    with pytest.raises(ConfigError) as info:
        compose([f"{group}={path}"])
    assert info.value.path == group
    assert f"{path}, line {line}: ${{oc.env:...}} is not allowed" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_a_shipped_search_file_is_scanned_and_located_too() -> None:
    source = search_file(["search=fashion"])
    assert source.path == conf_dir() / "search" / "fashion.yaml"
    text = source.path.read_text().splitlines()
    assert len(source.lines) == 5
    assert text[source.lines[2] - 1].strip().startswith("- data.train_subset=12000")
    assert text[source.key_lines["study_name"] - 1].startswith("study_name:")


def test_search_file_reads_a_quoted_path_and_a_wrapped_section(tmp_path: Path) -> None:
    odd = tmp_path / "it's a space.yaml"
    odd.write_text(yaml.safe_dump({"search": yaml.safe_load(TINY.read_text())},
                                  sort_keys=False))
    quoted = "'" + str(odd).replace("'", "\\'") + "'"
    source = search_file([f"search={quoted}"])
    assert source.path == odd and len(source.lines) == 10


def test_an_error_a_file_override_causes_names_the_file_and_the_override(
        tmp_path: Path) -> None:
    path, line = _space(tmp_path, "trainer.max_epoch=3")
    with pytest.raises(ConfigError) as info:
        split = split_args([f"search={path}"])
        with naming_the_file(split.file, split.source, split.user):
            compose(split.all, "config")
    text = str(info.value)
    assert info.value.path == "trainer.max_epoch" and "did you mean trainer.max_epochs" in text
    assert f"(set by {path}, line {line}: overrides item 'trainer.max_epoch=3')" in text
    # the same key set by the person's own command line is theirs, not the file's
    with pytest.raises(ConfigError) as info:
        split = split_args([f"search={path}", "trainer.max_epoch=4"])
        with naming_the_file(split.file, split.source, split.user):
            compose(split.all, "config")
    assert "set by" not in str(info.value)


def test_a_refused_override_stops_prepare_and_names_its_line(tmp_path: Path) -> None:
    path, line = _space(tmp_path, "+hydra.job.env_set.PYTHONPATH=/tmp")
    with pytest.raises(ConfigError) as info:
        split_args([f"search={path}"])
    assert info.value.path == "hydra.job.env_set.PYTHONPATH"
    assert f"{path}, line {line}: overrides item '+hydra.job.env_set.PYTHONPATH=/tmp'" in str(
        info.value)


def test_search_overrides_given_on_the_command_line_are_named_as_such() -> None:
    with pytest.raises(ConfigError) as info:
        split_args([f"search={TINY}", "search.overrides=['model=resnet20','run_dir=/x']"])
    assert info.value.path == "run_dir"
    assert str(info.value).startswith("run_dir: search.overrides item 'run_dir=/x': where a")


@pytest.mark.parametrize(("key", "value"), [("storage", "sqlite:////tmp/app.db"),
                                            ("root", "/tmp/elsewhere")])
def test_a_search_file_cannot_send_its_study_elsewhere(tmp_path: Path, key: str,
                                                       value: str) -> None:
    """`storage:` / `root:` as keys of a search file: refused (file and line named) unless
    the person's own command line sets them; the shipped defaults pass."""
    from archforge.search.runtime.prepare import prepare

    text = TINY.read_text().replace("study_name: tiny", f"study_name: tiny\n{key}: {value}")
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        prepare([f"search={path}"])
    assert info.value.path == f"search.{key}"
    assert f"{path}, line 3: a search file cannot choose" in str(info.value)
    assert f"pass search.{key}=... on your own command line" in str(info.value)
    mine = str(tmp_path / "mine")
    assert getattr(prepare([f"search={path}", f"search.{key}={mine}"]).settings, key) == mine
    default = "null" if key == "storage" else "runs/search"
    path.write_text(TINY.read_text().replace("study_name: tiny",
                                             f"study_name: tiny\n{key}: {default}"))
    prepare([f"search={path}"])
