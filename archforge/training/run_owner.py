"""Which files in a run directory (or a sweep directory) are archforge's own.

archforge writes a marker file, `.archforge-run`, into every run directory it trains into
(and into a `-m` sweep's directory), before training starts. The rule:

- a folder that does not exist, or is empty, is a new run directory;
- a folder carrying the marker is archforge's: the names of its layout (`LAYOUT`: `.hydra/`,
  `train.log`, `config.yaml`, `checkpoints/`, `csv/`, `tensorboard/`, `mlflow.db`,
  `mlartifacts/`, `ranks.json`, `evaluation_<split>.json`, `confusion_<split>.png`, and a
  sweep's `multirun.yaml`) are archforge's files there, replaced by a new run (its
  checkpoints only with `overwrite=true`); anything else in it is the user's and never
  touched;
- a folder without the marker that holds anything is not archforge's: refused, unless
  `overwrite=true`; even then, archforge refuses when it would replace a file of its
  layout that it did not write (a user's own `config.yaml`, `train.log`, `csv/`), and only
  trains beside the user's other files.

A run directory written before the marker existed counts as the user's: `touch
<run_dir>/.archforge-run` hands it back to archforge.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

from archforge.errors import ConfigError

MARKER = ".archforge-run"
# what `archforge train` (with Hydra and Lightning) writes at the top of a run directory,
# and a sweep's own files beside its job folders
LAYOUT = (MARKER, ".hydra", "train.log", "config.yaml", "checkpoints", "csv", "tensorboard",
          "mlflow.db", "mlartifacts", "ranks.json", ".ranks.json.tmp", "evaluation_*.json",
          "confusion_*.png", "multirun.yaml")
# what Hydra has written into the job's directory by the time the job runs
HYDRA_WRITES = (".hydra", "train.log")


def is_layout(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in LAYOUT)


def is_marked(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def mark(folder: Path, what: str = "run") -> None:
    """Claim `folder` as archforge's (its layout's files are then archforge's to replace)."""
    marker = folder / MARKER
    if not marker.exists():
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"written by archforge: this {what} directory's files of archforge's "
                          "layout (archforge/training/run_owner.py) are archforge's own\n")


def _shown(names: list[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_sweep_dir(folder: Path, overwrite: bool, key: str = "run_dir") -> None:
    """A `-m` sweep's folder, by the same rule; a job folder (`0/`, `1/` ...) that archforge
    did not write is one a sweep would write into."""
    check_owner(folder, overwrite, key, clash=lambda name: is_layout(name) or name.isdigit())


def check_owner(folder: Path, overwrite: bool, key: str = "run_dir",
                hydra_written: bool = False, clash: Callable[[str], bool] = is_layout) -> None:
    """Refuse a folder holding files archforge did not write (see the module's rule).
    `hydra_written`: the job runs already, so `.hydra/` and `train.log` are this run's."""
    if not folder.is_dir() or is_marked(folder):
        return
    skip = HYDRA_WRITES if hydra_written else ()
    entries = sorted(p.name for p in folder.iterdir() if p.name not in skip)
    if not entries:
        return
    if not overwrite:
        raise ConfigError(key, f"{folder} holds files archforge did not write "
                          f"({_shown(entries)}; it carries no {MARKER}); choose a new run "
                          "directory, or pass overwrite=true to train beside them (archforge "
                          "then replaces only its own files)")
    clashes = [e for e in entries if clash(e)]
    if clashes:
        raise ConfigError(key, f"{folder} holds {_shown(clashes)}, which archforge did not "
                          f"write (the folder carries no {MARKER}) and a run would replace; "
                          "overwrite=true replaces only archforge's own files: move them, or "
                          "choose another run directory")
