"""`PruningCallback` as `from archforge import PruningCallback` gives it: the callback of
cli/sweep_job.py, with `hydra/sweeper=archforge` registered for the application that
imports it (an editable install's plugin is invisible to Hydra's own scan; see
cli/sweeper_plugin.py).

The registration lives here rather than in sweep_job.py because the sweeper itself imports
sweep_job: registering from there would close an import loop through the plugin.
"""

from __future__ import annotations

from archforge.cli.sweep_job import PruningCallback
from archforge.cli.sweeper_plugin import register_sweeper

register_sweeper()

__all__ = ["PruningCallback"]
