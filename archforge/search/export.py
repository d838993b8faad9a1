"""The winners as model YAML files that `archforge train model=<file>` rebuilds exactly.

Each trial stores its resolved model mapping (`model_config` user attr, interpolations from
the data section already filled in), so the file is that mapping, named after the trial.
Single objective: `<study_dir>/best_model.yaml`; several: one file per Pareto-optimal trial
under `<study_dir>/pareto/`.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from archforge.search.settings import SearchSettings


def model_yaml(study: optuna.Study, trial: FrozenTrial) -> str:
    model = dict(trial.user_attrs["model_config"])
    model["name"] = f"{study.study_name}_trial{trial.number}"
    values = ", ".join(f"{v:.6g}" for v in trial.values or [])
    header = (f"# archforge search: study {study.study_name!r}, trial {trial.number}, "
              f"objective values [{values}], {trial.user_attrs.get('params', '?'):,} params\n"
              f"# retrain: archforge train model=<this file>\n")
    return header + OmegaConf.to_yaml(OmegaConf.create(model))


def winners(study: optuna.Study, multi_objective: bool) -> list[FrozenTrial]:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    done = [t for t in done if "model_config" in t.user_attrs]
    if not done:
        return []
    if multi_objective:
        return sorted(study.best_trials, key=lambda t: t.number)
    return [study.best_trial]


def export(study: optuna.Study, settings: SearchSettings) -> list[Path]:
    if settings.export == "none":
        return []
    best = winners(study, settings.multi_objective)
    if not best:
        return []
    out: list[Path] = []
    if settings.multi_objective or settings.export == "pareto":
        folder = settings.study_dir / "pareto"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("trial_*.yaml"):  # the front moves: drop dominated files
            old.unlink()
        for t in best:
            path = folder / f"trial_{t.number:05d}.yaml"
            path.write_text(model_yaml(study, t))
            out.append(path)
    else:
        settings.study_dir.mkdir(parents=True, exist_ok=True)
        path = settings.study_dir / "best_model.yaml"
        path.write_text(model_yaml(study, best[0]))
        out.append(path)
    return out
