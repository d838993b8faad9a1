"""What a running Hydra job knows of its own command line."""

from __future__ import annotations


def task_overrides() -> list[str]:
    """The running job's own overrides (the user's, with `++` for schema keys)."""
    from hydra.core.hydra_config import HydraConfig

    return [str(o) for o in HydraConfig.get().overrides.task]
