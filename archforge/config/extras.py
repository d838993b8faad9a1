"""archforge's optional extras: whether one's package is installed, and how to install it.

A config that asks for an extra's feature (`logger=mlflow`) is refused while it is parsed,
before anything trains, with the one command that installs it.
"""

from __future__ import annotations

from importlib.util import find_spec

MLFLOW_EXTRA = "pip install 'archforge[mlflow]'"


def installed(package: str) -> bool:
    """Whether `import package` would find it (without importing it)."""
    try:
        return find_spec(package) is not None
    except ValueError:  # sys.modules[package] is None: its import is blocked
        return False
