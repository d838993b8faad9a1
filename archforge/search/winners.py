"""The winners of a study as files that retrain them exactly as they were searched.

Per winner two files:

- the model file (`best_model.yaml`): the trial's resolved model mapping (`model_config`
  user attr); `archforge train model=<file>` builds the same network, under whatever
  data/trainer/optimizer the command line gives it.
- the complete run config (`best_run.yaml`): the search's base overrides plus the trial's
  own overrides, composed exactly as the objective composed them, fully resolved, with the
  `search` section removed and `run_dir` null (the seed stays), plus what the trial
  resolved while it ran: the torch threads it trained with (`threads`; the float sums of
  CPU operators split by thread, so another count changes the numbers in their last
  digits, and `threads: null` would pick the count from the retraining machine's free
  cores). `archforge train -cd <folder> -cn best_run` retrains the trial: same model,
  data, trainer, optimizer, seed and threads, so on CPU the same per-epoch validation
  curve. The file is a Hydra primary config with a defaults list naming the trial's
  presets, so `-cn best_run trainer=gpu` swaps a preset (config/run_file.py).

Single objective: `<study_dir>/best_model.yaml` and `best_run.yaml`; several (or
`search.export=pareto`): `<study_dir>/pareto/trial_NNNNN.yaml` and `run_trial_NNNNN.yaml`
per Pareto-optimal trial (`trial_*.yaml` stays the glob of the model files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from archforge.config.compose import compose
from archforge.config.run_file import file_document, is_run_file, preset_choices
from archforge.config.search_settings import SearchSettings
from archforge.plain import to_plain
from archforge.search.repeats import mean_value, runs_of, single_winner

# Keys of the composed config that describe the search, not the run it trained.
DROPPED_KEYS = ("search", "run_dir")


def trial_threads(trial: FrozenTrial) -> int | None:
    """The torch threads the trial trained with: a sweeper job's own count (sweep_job.py),
    else its worker's (objective.py)."""
    for key in ("job_threads", "threads"):
        value = trial.user_attrs.get(key)
        if isinstance(value, int) and value >= 1:
            return value
    return None


def _title(study: optuna.Study, trial: FrozenTrial) -> str:
    values = ", ".join(f"{v:.6g}" for v in trial.values or [])
    params = trial.user_attrs.get("params")
    count = f"{params:,}" if isinstance(params, int) else "?"
    runs = runs_of(study, trial)
    mean = (f"; the candidate's mean over its {len(runs)} runs (seeds): "
            f"{mean_value(runs):.6g}" if len(runs) > 1 and len(study.directions) == 1 else "")
    return (f"# archforge search: study {study.study_name!r}, trial {trial.number}, "
            f"objective values [{values}], {count} params{mean}\n")


def model_name(study: optuna.Study, trial: FrozenTrial) -> str:
    return f"{study.study_name}_trial{trial.number}"


def model_yaml(study: optuna.Study, trial: FrozenTrial) -> str:
    model = dict(trial.user_attrs["model_config"])
    model["name"] = model_name(study, trial)
    return (_title(study, trial) + "# retrain: archforge train model=<this file>\n"
            + OmegaConf.to_yaml(OmegaConf.create(model)))


def run_config(trial: FrozenTrial, base_overrides: Sequence[str]) -> dict[str, Any]:
    """The trial's complete training config: what the objective composed, fully resolved."""
    cfg = compose([*base_overrides, *trial.user_attrs["overrides"]], "config")
    plain = to_plain(cfg, "config")
    for key in DROPPED_KEYS:
        plain.pop(key, None)
    threads = trial_threads(trial)
    if threads is not None:  # a search sets its workers' threads, not the config's key
        plain["threads"] = threads
    return plain


def retrain_command(path: Path) -> str:
    """The documented command for an exported file: a run config is a whole Hydra config
    (-cd/-cn), a model file is one group value."""
    if is_run_file(path):
        return f"archforge train -cd {path.parent} -cn {path.stem}"
    return f"archforge train model={path}"


def run_yaml(study: optuna.Study, trial: FrozenTrial, base_overrides: Sequence[str],
             path: Path) -> str:
    cfg = run_config(trial, base_overrides)
    cfg["model"]["name"] = model_name(study, trial)
    choices = preset_choices([*base_overrides, *trial.user_attrs["overrides"]])
    header = (_title(study, trial)
              + "# The trial's complete run config (model, data, trainer, optim, seed, threads\n"
              "# and every override of the search), resolved. Retrain it as it was searched:\n"
              f"#   {retrain_command(path)}\n"
              "# A preset on that command line (trainer=gpu, optim=adamw) replaces the values\n"
              "# the trial took from its preset in the defaults list; the search's stay.\n")
    return header + OmegaConf.to_yaml(OmegaConf.create(file_document(choices, cfg)))


def winners(study: optuna.Study, multi_objective: bool,
            rule: str = "mean") -> list[FrozenTrial]:
    """The Pareto front (several objectives), else the one winner by `search.winner`."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    done = [t for t in done if "model_config" in t.user_attrs]
    if not done:
        return []
    if multi_objective:
        return sorted(study.best_trials, key=lambda t: t.number)
    best = single_winner(study, done, rule)
    return [] if best is None else [best]


def _write(path: Path, text: str) -> None:
    """Write through a temporary file: a reader never sees half a config."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _pair(study: optuna.Study, trial: FrozenTrial, base_overrides: Sequence[str],
          model_path: Path, run_path: Path) -> list[Path]:
    _write(model_path, model_yaml(study, trial))
    out = [model_path]
    if "overrides" in trial.user_attrs:
        _write(run_path, run_yaml(study, trial, base_overrides, run_path))
        out.append(run_path)
    return out


def export(study: optuna.Study, settings: SearchSettings,
           base_overrides: Sequence[str]) -> list[Path]:
    """Write the winners' model and run files; return their paths (model file first)."""
    if settings.export == "none":
        return []
    best = winners(study, settings.multi_objective, settings.winner)
    if not best:
        return []
    out: list[Path] = []
    if settings.multi_objective or settings.export == "pareto":
        folder = settings.study_dir / "pareto"
        folder.mkdir(parents=True, exist_ok=True)
        for pattern in ("trial_*.yaml", "run_trial_*.yaml"):  # the front moves: drop
            for old in folder.glob(pattern):  # the files of dominated trials
                old.unlink()
        for t in best:
            stem = f"trial_{t.number:05d}"
            out += _pair(study, t, base_overrides, folder / f"{stem}.yaml",
                         folder / f"run_{stem}.yaml")
    else:
        settings.study_dir.mkdir(parents=True, exist_ok=True)
        out += _pair(study, best[0], base_overrides, settings.study_dir / "best_model.yaml",
                     settings.study_dir / "best_run.yaml")
    return out
