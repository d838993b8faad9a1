"""Every use of Hydra's (and OmegaConf's) private API in archforge, each with why the public
API does not do.

Hydra keeps its command-line entry point, its source registry and a config file's header
parser private; OmegaConf its YAML loader. A release may rename any of them; when it does,
this module is the one place to change and `tests/config/test_hydra_private.py` says so at
once. Everything else in archforge uses the public API.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def args_parser() -> argparse.ArgumentParser:
    """Hydra's own command-line parser (overrides, --cfg, -m, -cd/-cn, --help ...).

    Why private: `hydra.main` builds it from `sys.argv` inside a decorator; archforge parses
    the arguments after its command name (`archforge train ...`) and sets `prog`, so it
    needs the parser itself (`hydra._internal.utils.get_args_parser`)."""
    from hydra._internal.utils import get_args_parser

    parser: argparse.ArgumentParser = get_args_parser()
    return parser


def run_hydra(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    task: Callable[[Any], Any],
    config_path: str,
    config_name: str,
) -> None:
    """Run `task` as a Hydra application with already parsed arguments.

    Why private: `hydra.main` is a decorator that reads `sys.argv` and calls `sys.exit`;
    `hydra._internal.utils._run_hydra` is the function it calls, taking the parsed arguments,
    so every Hydra flag, sweep and launcher works for each archforge command."""
    from hydra._internal.utils import _run_hydra

    _run_hydra(args=args, args_parser=parser, task_function=task, config_path=config_path,
               config_name=config_name)


def register_source(source: type) -> None:
    """Make a `ConfigSource` subclass's scheme known to Hydra (idempotent).

    Why private: Hydra discovers config sources only as plugins in the `hydra_plugins`
    namespace package; a scheme registered from archforge's own module
    (`archforge-file://`, user YAML files as group options) goes through
    `hydra._internal.sources_registry.SourcesRegistry`."""
    from hydra._internal.sources_registry import SourcesRegistry

    SourcesRegistry.instance().register(source)


def header_dict(text: str) -> dict[str, str | None]:
    """The `# @package ...` header of a config file's text, as Hydra reads its own files.

    Why private: `ConfigSource._get_header_dict` is the parser Hydra's shipped sources use;
    a user's file served through archforge's source must be read the same way."""
    from hydra.plugins.config_source import ConfigSource

    header: dict[str, str | None] = ConfigSource._get_header_dict(text)
    return header


def yaml_loader() -> type:
    """OmegaConf's YAML loader class: the same scalars (`1e-3` as a float, no `on` as True)
    as the files Hydra composes.

    Why private: OmegaConf exposes its loader only as `omegaconf._utils.get_yaml_loader`."""
    from omegaconf._utils import get_yaml_loader

    loader: type = get_yaml_loader()
    return loader
