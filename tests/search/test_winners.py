"""The winners retrain as they were searched: best_run.yaml reproduces the trial's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf
from search_helpers import load, tiny_args

from archforge.cli.search import search
from archforge.search.winners import retrain_command


@pytest.mark.slow
def test_best_run_retrains_the_winner_exactly(root: Path) -> None:
    assert search(tiny_args(root, "search.n_trials=2")) == 0
    best = load(root).best_trial
    path = root / "tiny" / "best_run.yaml"
    text = path.read_text()
    assert f"#   archforge train -cd {root / 'tiny'} -cn best_run\n" in text
    assert retrain_command(path) == f"archforge train -cd {root / 'tiny'} -cn best_run"

    cfg = OmegaConf.load(path)
    assert "search" not in cfg and cfg.run_dir is None  # a retrain picks its own folder
    # the search's base overrides (tests/search/tiny.yaml) and the trial's values are kept
    assert cfg.trainer.max_epochs == 2 and cfg.trainer.limit_train_batches == 3
    assert cfg.optim.warmup_epochs == 0 and cfg.seed == 0
    model = OmegaConf.to_container(cfg.model)
    assert model == {**best.user_attrs["model_config"], "name": f"tiny_trial{best.number}"}
    assert model["width"] == best.params["model.width"]

    from archforge.training.fit import train

    result = train(cfg, run_dir=root / "retrain", progress=False, checkpoints=False)
    # same seed, same data order, same initial weights: identical on CPU, not just close
    assert result.metrics["val/acc"] == best.value
    assert result.metrics["val/loss"] == best.user_attrs["metrics"]["val/loss"]
    # a trial trained without Lightning's sanity-check batches and without loggers (the
    # cheap trial options of train) learns the same: the check consumes no training RNG
    lean = train(cfg, run_dir=root / "lean", progress=False, checkpoints=False,
                 sanity_check=False, loggers=False)
    assert lean.metrics == result.metrics
    assert not (root / "lean" / "csv").exists() and (root / "retrain" / "csv").is_dir()

    # a Pareto export writes a run file beside each member's model file
    assert search(tiny_args(root, "search.n_trials=2", "search.export=pareto")) == 0
    pareto = sorted(p.name for p in (root / "tiny" / "pareto").iterdir())
    assert pareto == [f"run_trial_{best.number:05d}.yaml", f"trial_{best.number:05d}.yaml"]
    member = OmegaConf.load(root / "tiny" / "pareto" / f"run_trial_{best.number:05d}.yaml")
    assert OmegaConf.to_container(member) == OmegaConf.to_container(cfg)

