"""Registering `hydra/sweeper=archforge` with Hydra from archforge's own code.

Hydra finds plugins by listing the `hydra_plugins` namespace package: that sees the folder
of an installed wheel, but not the import hook of an editable install (`pip install -e .`),
so the `archforge` command (cli/hydra_app.py) and `from archforge import PruningCallback`
(cli/pruning.py) register the plugin themselves. Importing the plugin module stores its
config node; registering its class lets Hydra instantiate it. The plugin module imports
only Hydra and OmegaConf, and nothing that reaches this module imports it back (the
import-contract test, tests/test_layering.py, checks there is no cycle).
"""

from __future__ import annotations


def register_sweeper() -> None:
    """Make `hydra/sweeper=archforge` known to Hydra (idempotent)."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.archforge_sweeper.archforge_sweeper import ArchforgeSweeper

    Plugins.instance().register(ArchforgeSweeper)
