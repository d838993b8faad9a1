"""archforge.search: architecture search with Optuna over YAML search spaces.

`archforge search search=<space> [overrides]` composes the training config, validates the
space (space/), opens or joins the study (runtime/study.py), and runs workers
(runtime/workers.py) whose trials (trial/) train through `archforge.training` with a pruning
callback (trial/callback.py). See
docs/search.md.
"""

from archforge.config.search_settings import SearchSettings, parse_settings
from archforge.search.space.search_space import SearchSpace, compile_space

__all__ = ["SearchSettings", "SearchSpace", "compile_space", "parse_settings"]
