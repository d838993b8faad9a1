"""`archforge report`: plots of a study as PNG (matplotlib) and HTML (plotly), and a table.

Plots: optimisation history, parameter importances (fANOVA), the Pareto front (several
objectives) and intermediate values (the per-epoch validation curves the pruner saw).
A plot that cannot be drawn yet (say importances with fewer than two completed trials of
different values, `IMPORTANCE_MIN_VALUES`) is skipped with its reason instead of failing
the report.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.table import Table

from archforge.config.search_settings import COST_METRICS, SearchSettings
from archforge.search.runtime.study import verdict_counts


def _plots(study: optuna.Study, names: list[str]) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """name -> (plotly function, matplotlib function or None, keyword arguments). The
    objective's axis is named by its metric (val/acc), not Optuna's "Objective Value"."""
    vis, mvis = optuna.visualization, optuna.visualization.matplotlib
    first: dict[str, Any] = {"target_name": names[0]}
    if len(study.directions) > 1:
        first["target"] = lambda t: t.values[0]
    plots: dict[str, tuple[Any, Any, dict[str, Any]]] = {
        "optimization_history": (vis.plot_optimization_history,
                                 mvis.plot_optimization_history, first),
        "param_importances": (vis.plot_param_importances, mvis.plot_param_importances, first),
        "intermediate_values": (vis.plot_intermediate_values, None, {}),
    }
    if len(study.directions) > 1:
        plots["pareto_front"] = (vis.plot_pareto_front, mvis.plot_pareto_front,
                                 {"target_names": names})
    return plots


# Parameter importances (fANOVA, Hutter et al. 2014) explain how the objective varies over
# the completed trials: with fewer than two different values there is nothing to explain,
# and Optuna still draws every parameter at the same share (1 / number of parameters).
IMPORTANCE_MIN_VALUES = 2


def _not_drawable(study: optuna.Study, name: str, metric: str = "the objective") -> str | None:
    """Why a plot would be empty (or meaningless), or None."""
    trials = study.get_trials(deepcopy=False)
    if name == "intermediate_values":
        if not any(t.intermediate_values for t in trials):
            return "no trial reported a validation epoch"
        return None
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return "no completed trial yet"
    if name == "param_importances":
        distinct = {t.values[0] for t in complete if t.values}
        if len(distinct) < IMPORTANCE_MIN_VALUES:
            return (f"needs at least {IMPORTANCE_MIN_VALUES} completed trials with different "
                    f"{metric}; the study has {len(complete)} completed, "
                    f"{len(distinct)} different value(s)")
    return None


def monitored(names: list[str]) -> str:
    """The training metric a study's trials report each epoch (the first that is not a cost)."""
    return next((n for n in names if n not in COST_METRICS), names[0])


def write_report(study: optuna.Study, out_dir: Path, names: list[str]) -> tuple[list[Path],
                                                                                dict[str, str]]:
    """Write `<name>.png` and `<name>.html` per plot; return (files, {plot: why skipped})."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    skipped: dict[str, str] = {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # its "no complete trials" lines
    try:
        for name, (html_fn, png_fn, kwargs) in _plots(study, names).items():
            why = _not_drawable(study, name, names[0])
            if why is not None:
                skipped[name] = why
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fig = html_fn(study, **kwargs)
                    html = out_dir / f"{name}.html"
                    png = out_dir / f"{name}.png"
                    if png_fn is None:  # intermediate values: archforge's own figure
                        metric = monitored(names)
                        fig.update_layout(xaxis_title="epoch", yaxis_title=metric,
                                          title=f"{metric} per epoch, {study.study_name}")
                        figure = intermediate_figure(study, metric)
                    else:
                        ax = png_fn(study, **kwargs)
                        figure = ax.flat[0].figure if hasattr(ax, "flat") else ax.figure
                    fig.write_html(str(html), include_plotlyjs="directory")
                    figure.savefig(png, dpi=100, bbox_inches="tight")
                    plt.close(figure)
                files += [png, html]
            except Exception as exc:  # not drawable yet: say why, draw the others
                text = str(exc).splitlines()[0] if str(exc) else ""
                skipped[name] = f"{type(exc).__name__}: {text}"
                plt.close("all")
    finally:
        optuna.logging.set_verbosity(verbosity)
    return files, skipped


LABELLED = 8  # completed trials named in the intermediate-values legend (best first)


def intermediate_figure(study: optuna.Study, metric: str) -> Any:
    """The per-epoch `metric` of every trial: the best completed trials in distinct colours
    and named in the legend, the other completed trials, the pruned and the failed ones as
    one legend entry each (Optuna's own figure gives 20 pale colours, then repeats them)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    best = top_trials(study, LABELLED)
    named = {t.number for t in best}
    colours = plt.get_cmap("tab10")
    groups: dict[str, list[FrozenTrial]] = {"other completed": [], "pruned": [],
                                            "failed or stopped": []}
    for t in study.get_trials(deepcopy=False):
        if not t.intermediate_values or t.number in named:
            continue
        key = ("other completed" if t.state == TrialState.COMPLETE
               else "pruned" if t.state == TrialState.PRUNED else "failed or stopped")
        groups[key].append(t)
    styles = {"other completed": ("tab:gray", "-", 1.0, 0.8),
              "pruned": ("silver", "-", 0.8, 0.7), "failed or stopped": ("silver", ":", 0.8, 0.7)}
    for key, trials in groups.items():
        colour, style, width, alpha = styles[key]
        for i, t in enumerate(trials):
            steps = sorted(t.intermediate_values)
            ax.plot(steps, [t.intermediate_values[s] for s in steps], style, color=colour,
                    lw=width, alpha=alpha, marker=".", ms=3,  # a 1-epoch curve is a dot
                    label=f"{key} ({len(trials)})" if i == 0 else None)
    for i, t in enumerate(best):
        steps = sorted(t.intermediate_values)
        value = ", ".join(f"{v:.4g}" for v in t.values or [])
        ax.plot(steps, [t.intermediate_values[s] for s in steps], "o-", color=colours(i), lw=2,
                ms=3, label=f"trial {t.number} ({value})", zorder=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per epoch, {study.study_name}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: 1, 2, 3 - never 1.5
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


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
    `top 7 of 7 completed (30 trials: 7 complete, 17 pruned, 3 infeasible, 3 failed)`."""
    counts = verdict_counts(trials)
    words = {"FAIL": "failed"}
    summary = ", ".join(f"{c} {words.get(s, s.lower())}" for s, c in counts.items() if c)
    return (f"study {study.study_name}: top {shown} of {counts['COMPLETE']} completed "
            f"({len(trials)} trial{'' if len(trials) == 1 else 's'}"
            f"{': ' + summary if summary else ''})")


def no_completed_trial(study: optuna.Study, shown: int = 5) -> list[str] | None:
    """None when some trial completed; else lines that say so, and why the trials ended
    (the most common reasons first), instead of an empty table."""
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.COMPLETE for t in trials):
        return None
    lines = [title(study, 0, trials).replace("top 0 of 0 completed", "no completed trial")]
    # "constraint max_params: 655 params > 10" and "...: 730 params > 10" are one reason
    reasons: Counter[str] = Counter()
    example: dict[str, str] = {}
    for t in trials:
        if t.state.is_finished():
            reason = str(t.user_attrs.get("reason") or t.state.name.lower())
            kind, _, detail = reason.partition(": ")
            reasons[kind] += 1
            example.setdefault(kind, detail)
    for kind, count in reasons.most_common(shown):
        detail = f" (first: {example[kind]})" if example[kind] else ""
        lines.append(f"  {count} x {kind}{detail}")
    if len(reasons) > shown:
        lines.append(f"  ... and {len(reasons) - shown} other reason(s)")
    return lines


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
