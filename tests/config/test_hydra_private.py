"""Each use of Hydra's and OmegaConf's private API (hydra_private.py) against the installed
versions: when a release renames one, the test of that use fails. (The tests reach into
Hydra's registry themselves only to see the effect.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hydra import version

from archforge.config.file_source import SCHEME, UserFileSource
from archforge.config.hydra_private import (
    args_parser,
    header_dict,
    register_source,
    run_hydra,
    yaml_loader,
)


def test_args_parser_reads_hydra_flags_and_overrides() -> None:
    parsed = args_parser().parse_intermixed_args(["--cfg", "job", "a=1", "-cn", "x", "-m"])
    assert (parsed.cfg, parsed.config_name, parsed.multirun) == ("job", "x", True)
    assert parsed.overrides == ["a=1"]


def test_run_hydra_runs_the_task_with_the_composed_config(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text("greeting: hello\nhydra:\n  output_subdir: null\n"
                                       "  run: {dir: .}\n")
    parser = args_parser()
    args = parser.parse_intermixed_args(["greeting=hi", "hydra/job_logging=none",
                                         "hydra/hydra_logging=none"])
    seen: list[Any] = []
    version.setbase("1.3")
    run_hydra(args, parser, lambda cfg: seen.append(cfg.greeting), str(tmp_path), "app")
    assert seen == ["hi"]


def test_register_source_makes_the_scheme_known() -> None:
    from hydra._internal.sources_registry import SourcesRegistry

    register_source(UserFileSource)
    assert SourcesRegistry.instance().resolve(SCHEME) is UserFileSource


def test_header_dict_reads_the_package_header() -> None:
    assert header_dict("# @package _global_\nmodel: {}\n")["package"] == "_global_"
    assert header_dict("model: {}\n").get("package") is None


def test_yaml_loader_reads_scalars_as_hydra_does() -> None:
    assert yaml.load("lr: 1e-3\n", Loader=yaml_loader()) == {"lr": 0.001}
    assert yaml.safe_load("lr: 1e-3\n") == {"lr": "1e-3"}  # PyYAML's own reads a string
