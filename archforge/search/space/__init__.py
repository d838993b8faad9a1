"""The search space: compiled from the `search.space` YAML (search_space.py), with the
model-config paths it may name checked against the registered plugins (paths.py)."""

from archforge.search.space.search_space import SearchSpace, compile_space

__all__ = ["SearchSpace", "compile_space"]
