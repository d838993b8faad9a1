"""archforge.search: architecture search with Optuna over YAML search spaces.

`archforge search search=<space> [overrides]` composes the training config, validates the
space (space.py), opens or joins the study (study.py), and runs workers (workers.py) whose
trials train through `archforge.training` with a pruning callback (callback.py). See
docs/search.md.
"""

from archforge.search.settings import SearchSettings, parse_settings
from archforge.search.space import SearchSpace, compile_space

__all__ = ["SearchSettings", "SearchSpace", "compile_space", "parse_settings"]
