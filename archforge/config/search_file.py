"""What a search file's `overrides:` may set: the run's own sections, nothing else.

A search file (conf/search/<name>.yaml, or a user's `search=<file>`) is data: it may come
from someone else. Its `overrides:` go in front of every trial's command line, so they are
checked here, by one rule that `archforge search`, `archforge report` and the Hydra sweeper
share (all three read the file through `archforge.search.runtime.prepare.split_args`).

Allowed: the sections and keys of a training run, from the schema conf/config.yaml fills
(`archforge.config.run`: model, data, trainer, optim, finetune, checkpoint, seed,
label_smoothing, logger, channels_last, compile, progress, threads). Refused, each with one
ConfigError naming the file, the line and the override:

- `hydra.*` and `hydra/...`: `+hydra.job.env_set.*` changes the environment of the search
  and of its worker processes (PYTHONPATH, LD_PRELOAD, ARCHFORGE_ALLOWED_TARGETS),
  callbacks and launchers run code;
- `search=` and `search.*`: `allowed_targets`, `storage`, `root` and `study_name` decide
  what is imported, where files go and which database is written, the person's own choice;
  the other settings are keys of the file itself;
- REFUSED_RUN_KEYS: where a run writes, what it may replace, the test split;
- `group@package=...` (moves a config into another package, Hydra's included), sweeps;
- resolvers that read the environment or files, anywhere in the file (data_file.py).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from archforge.config.data_file import check_resolvers, refused_resolvers, why_refused
from archforge.config.file_source import looks_like_file
from archforge.config.hydra_private import yaml_loader
from archforge.errors import ConfigError

REFUSED_RUN_KEYS = {
    "run_dir": "where a run writes is yours to choose (a trial writes under search.root)",
    "overwrite": "whether a run may replace files is yours to choose",
    "test": "a search never reads the test split",
}
SECURITY_KEYS = {
    "allowed_targets": "which modules may be imported",
    "storage": "which database or journal is written",
    "root": "where the study's files go",
    "study_name": "where the study's files go and which study is written",
}


def run_keys() -> frozenset[str]:
    """The top-level keys a search file's overrides may set: the run's sections and keys
    (conf/config.yaml, typed by `archforge.config.run`), less REFUSED_RUN_KEYS and
    `search`."""
    from archforge.config.run import SECTIONS, RunKeys

    keys = {f.name for f in fields(RunKeys)} | set(SECTIONS)
    return frozenset(keys - set(REFUSED_RUN_KEYS) - {"search"})


@dataclass(frozen=True)
class SearchFile:
    """The file behind `search=`, its `overrides:` (as composed) and the line of each."""

    path: Path | None
    lines: tuple[int, ...] = ()
    items: tuple[str, ...] = ()
    key_lines: dict[str, int] = field(default_factory=dict)  # top-level key -> its line

    def holding(self, overrides: Sequence[str]) -> SearchFile:
        """This file with its composed `overrides` (lines kept only where they match
        one-to-one: a command line's `search.overrides=[...]` replaces the file's)."""
        items = tuple(str(o) for o in overrides)
        lines = self.lines if len(self.lines) == len(items) else ()
        return replace(self, lines=lines, items=items)

    def where(self, override: str) -> str:
        if self.path is None:  # the command line's own search.overrides
            return f"search.overrides item {override!r}"
        at = ""
        if override in self.items and self.lines:
            at = f", line {self.lines[self.items.index(override)]}"
        return f"{self.path}{at}: overrides item {override!r}"

    def key_where(self, key: str) -> str:
        """`<file>, line N` of a top-level key ("a config file" without the file)."""
        if self.path is None:
            return "a config file"
        line = self.key_lines.get(key)
        return f"{self.path}, line {line}" if line else str(self.path)


def search_file(args: Sequence[str]) -> SearchFile:
    """The search file `args` select (their last `search=`), scanned for resolvers that read
    the environment or files before anything resolves it."""
    from archforge.config.compose import conf_dir

    choice = None
    for item in args:
        key, sep, value = item.partition("=")
        if sep and key.strip() in ("search", "+search", "override search"):
            choice = value.strip()
    if not choice:
        return SearchFile(None)
    if len(choice) > 1 and choice[0] == choice[-1] and choice[0] in "'\"":
        choice = choice[1:-1].replace("\\'", "'").replace("\\\\", "\\")
    if looks_like_file(choice):
        path = Path(os.path.expanduser(choice))
        path = path if path.is_absolute() else Path.cwd() / path
    else:
        path = conf_dir() / "search" / f"{choice}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return SearchFile(None)  # composing names the problem
    check_resolvers(text, path, "search", yaml_loader())
    lines, keys = _lines(text)
    return SearchFile(path, lines, key_lines=keys)


def _section_node(text: str) -> yaml.MappingNode | None:
    """The file's top-level mapping (a file saved as {search: {...}} is the section)."""
    try:
        node = yaml.compose(text, Loader=yaml_loader())
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    if len(node.value) == 1 and isinstance(node.value[0][0], yaml.ScalarNode) \
            and node.value[0][0].value == "search" and isinstance(node.value[0][1],
                                                                   yaml.MappingNode):
        node = node.value[0][1]
    return node


def _lines(text: str) -> tuple[tuple[int, ...], dict[str, int]]:
    """(The line of each `overrides:` item, the line of each top-level key.)"""
    node = _section_node(text)
    if node is None:
        return (), {}
    keys = {k.value: k.start_mark.line + 1 for k, _ in node.value
            if isinstance(k, yaml.ScalarNode)}
    items = [v for k, v in node.value if isinstance(k, yaml.ScalarNode)
             and k.value == "overrides" and isinstance(v, yaml.SequenceNode)]
    return (tuple(i.start_mark.line + 1 for i in items[-1].value) if items else ()), keys


def check_overrides(source: SearchFile) -> None:
    """Refuse the first item of the file's `overrides` that sets anything but the run's own
    sections (`source.items`, see SearchFile.holding)."""
    parser = OverridesParser.create()
    allowed = run_keys()
    for item in source.items:
        where = source.where(item)
        try:
            ov = parser.parse_override(item)
        except HydraException as exc:
            raise ConfigError("search.overrides", f"{where}: {str(exc).splitlines()[0]}") from exc
        key = ov.key_or_group
        top = re.split(r"[./]", key, maxsplit=1)[0]
        if names := refused_resolvers(item):
            raise ConfigError(key, f"{where}: {why_refused(names)}")
        if top == "hydra":
            raise ConfigError(key, f"{where}: a search file cannot set Hydra's settings "
                              "(hydra.job.env_set changes the environment of the search and "
                              "its workers; callbacks and launchers run code); pass hydra.* "
                              "on your own command line")
        if top == "search":
            leaf = key.partition(".")[2].split(".")[0]
            if leaf in SECURITY_KEYS:
                raise ConfigError(key, f"{where}: {key} decides {SECURITY_KEYS[leaf]}, so only "
                                  "your own command line sets it (a search file cannot)")
            hint = f"write `{leaf}:` as a key of the file" if leaf else "use search=<file>"
            raise ConfigError(key, f"{where}: a search file's overrides set the run's "
                              f"sections, not the search; {hint}")
        if top in REFUSED_RUN_KEYS:
            raise ConfigError(key, f"{where}: {REFUSED_RUN_KEYS[top]}; pass {top}=... on "
                              "your own command line")
        if top not in allowed:
            raise ConfigError(key, f"{where}: {top} is not a section of a run; a search "
                              f"file's overrides set {', '.join(sorted(allowed))}")
        if ov.package is not None:
            raise ConfigError(key, f"{where}: '@{ov.package}' moves a config into another "
                              "package; a search file's overrides set the run's sections "
                              "in place")
        if ov.is_sweep_override():
            raise ConfigError(key, f"{where}: a sweep; a trial sets one value (put the "
                              "values in the file's space:)")


def override_key(item: str) -> str:
    """`+data.x=1` -> `data.x`; `~model.weights` -> `model.weights`."""
    key = item.partition("=")[0].strip()
    return key.removeprefix("override ").lstrip("+~").strip()


@contextlib.contextmanager
def naming_the_file(overrides: Sequence[str], source: SearchFile,
                    user: Sequence[str]) -> Iterator[None]:
    """A ConfigError about a key (or group) that one of the file's `overrides` set, and the
    person's own command line did not, names the file, the line and the override."""
    try:
        yield
    except ConfigError as exc:
        mine = {override_key(a) for a in user}
        if exc.path in mine:
            raise
        for item in reversed(overrides):
            key = override_key(item)
            if exc.path == key or exc.path.startswith((f"{key}.", f"{key}[")):
                raise ConfigError(exc.path, f"{exc.message} (set by {source.where(item)})"
                                  ) from exc
        raise
