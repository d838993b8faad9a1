"""Plugin discovery: import every module named in the `archforge.plugins` entry-point group.

Built-in plugins are found the same way as third-party ones (archforge's own pyproject
declares them), so a packaging mistake shows up here rather than only for outside users.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import EntryPoint, entry_points

GROUP = "archforge.plugins"

_loaded: dict[str, str] = {}  # entry-point value -> distribution name
_scanned_path: tuple[str, ...] | None = None  # sys.path when the entry points were last read


class PluginLoadError(ImportError):
    """A plugin module named by an entry point failed to import."""


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return getattr(dist, "name", "?") if dist is not None else "?"


def load_plugins() -> dict[str, str]:
    """Import each plugin module once; return {module: distribution} for what is loaded.

    Reading the entry points costs tens of milliseconds and a search calls this several
    times a trial, so they are read again only when `sys.path` has changed (a newly
    installed distribution is found through it)."""
    global _scanned_path
    if _scanned_path == tuple(sys.path) and _loaded:
        return dict(_loaded)
    # Built-ins first, then others in a stable order, so a name clash is always blamed on
    # the newcomer rather than on whichever package the environment happened to list first.
    ordered = sorted(
        entry_points(group=GROUP),
        key=lambda ep: (_distribution(ep) != "archforge", _distribution(ep), ep.name),
    )
    for ep in ordered:
        if ep.value in _loaded:
            continue
        try:
            importlib.import_module(ep.value)
        except Exception as exc:  # a broken third-party plugin must say who it is
            raise PluginLoadError(
                f"archforge plugin '{ep.name}' = '{ep.value}' from distribution "
                f"'{_distribution(ep)}' failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        _loaded[ep.value] = _distribution(ep)
    _scanned_path = tuple(sys.path)
    if not any(dist == "archforge" for dist in _loaded.values()):
        raise PluginLoadError(
            "archforge's built-in plugins were not found through the 'archforge.plugins' "
            "entry points: install the project (pip install -e .) rather than running from "
            "the source tree"
        )
    return dict(_loaded)
