"""`archforge report`: plots of a study as PNG (matplotlib) and HTML (plotly), and a table.

Plots: optimisation history, parameter importances (fANOVA), the Pareto front (several
objectives) and intermediate values (the per-epoch validation curves the pruner saw).
A plot that cannot be drawn yet (say importances with one finished trial) is skipped with
its reason instead of failing the report.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.table import Table

from archforge.config.search_settings import SearchSettings


def _plots(study: optuna.Study, names: list[str]) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    vis, mvis = optuna.visualization, optuna.visualization.matplotlib
    multi = len(study.directions) > 1
    first: dict[str, Any] = {}
    if multi:
        first = {"target": lambda t: t.values[0], "target_name": names[0]}
    plots = {
        "optimization_history": (vis.plot_optimization_history,
                                 mvis.plot_optimization_history, first),
        "param_importances": (vis.plot_param_importances, mvis.plot_param_importances, first),
        "intermediate_values": (vis.plot_intermediate_values, mvis.plot_intermediate_values,
                                {}),
    }
    if multi:
        plots["pareto_front"] = (vis.plot_pareto_front, mvis.plot_pareto_front,
                                 {"target_names": names})
    return plots


def write_report(study: optuna.Study, out_dir: Path, names: list[str]) -> tuple[list[Path],
                                                                                dict[str, str]]:
    """Write `<name>.png` and `<name>.html` per plot; return (files, {plot: why skipped})."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    skipped: dict[str, str] = {}
    for name, (html_fn, png_fn, kwargs) in _plots(study, names).items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fig = html_fn(study, **kwargs)
                html = out_dir / f"{name}.html"
                fig.write_html(str(html), include_plotlyjs="directory")
                ax = png_fn(study, **kwargs)
                figure = ax.flat[0].figure if hasattr(ax, "flat") else ax.figure
                png = out_dir / f"{name}.png"
                figure.savefig(png, dpi=100, bbox_inches="tight")
                plt.close(figure)
            files += [png, html]
        except Exception as exc:  # not drawable yet: say why, draw the others
            skipped[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            plt.close("all")
    return files, skipped


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{int(v):,}" if v.is_integer() and abs(v) >= 1000 else f"{v:.4g}"
    return str(v)


def top_trials(study: optuna.Study, k: int = 10) -> list[FrozenTrial]:
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
    complete.sort(key=lambda t: -sign * t.values[0])
    return complete[:k]


def title(study: optuna.Study, shown: int, trials: list[FrozenTrial]) -> str:
    """What the table holds and what the study holds, counted the same way:
    `top 7 of 7 completed (30 trials: 7 complete, 20 pruned, 3 failed)`."""
    counts = {s: sum(t.state == s for t in trials) for s in TrialState}
    words = {TrialState.FAIL: "failed"}
    summary = ", ".join(f"{c} {words.get(s, s.name.lower())}" for s, c in counts.items() if c)
    return (f"study {study.study_name}: top {shown} of {counts[TrialState.COMPLETE]} completed "
            f"({len(trials)} trial{'' if len(trials) == 1 else 's'}"
            f"{': ' + summary if summary else ''})")


def trials_table(study: optuna.Study, settings: SearchSettings, k: int = 10) -> Table:
    names = [o.metric for o in settings.objectives]
    trials = study.get_trials(deepcopy=False)
    shown = top_trials(study, k)
    text = title(study, len(shown), trials)
    table = Table(title=text, min_width=len(text))  # the counts read on one line
    table.add_column("trial", justify="right")
    for n in names:
        table.add_column(n, justify="right")
    if "params" not in names:
        table.add_column("params", justify="right")
    table.add_column("epochs", justify="right")
    table.add_column("parameters")
    for t in shown:
        row = [str(t.number), *(_fmt(v) for v in t.values)]
        if "params" not in names:
            row.append(f"{t.user_attrs.get('params', 0):,}")
        row.append(str(t.user_attrs.get("epochs", "")))
        row.append(" ".join(f"{p.removeprefix('model.')}={_fmt(v)}" for p, v in t.params.items()))
        table.add_row(*row)
    return table
