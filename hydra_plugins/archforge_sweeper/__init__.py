"""`hydra/sweeper=archforge`: archforge's search, with pruning, as a Hydra sweeper plugin.

Hydra finds this package in its `hydra_plugins` namespace once archforge is installed. The
plugin itself stays small (Hydra imports every plugin module when it starts); the search
runs in `archforge.cli.sweeper`.
"""
