"""`hydra/sweeper=archforge`: archforge's search, with pruning, as a Hydra sweeper plugin.

Hydra finds this package in its `hydra_plugins` namespace once archforge is installed. The
plugin itself stays small (Hydra imports every plugin module when it starts); the search
runs in `archforge.cli.sweeper`. Hydra's scan does not see this folder in an editable
install, so archforge registers the class itself (`archforge.cli.sweeper_plugin`), from
modules the sweeper never imports: the import graph has no loop through here.
"""
