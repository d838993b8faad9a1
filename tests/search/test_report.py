"""`archforge report`: the table says what it shows; the plots are written as PNG and HTML."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial
from rich.console import Console

from archforge.config.search_settings import Objective, SearchSettings
from archforge.search.report import top_trials, trials_table, write_report


def _study() -> optuna.Study:
    """30 trials: 7 complete, 20 pruned, 3 failed (the counts of the bug report)."""
    study = optuna.create_study(study_name="counts", direction="maximize")
    dist = {"model.width": FloatDistribution(0.5, 2.0)}
    for i in range(30):
        width = 0.5 + i * 0.05
        curve = {1: 0.1 + i / 100, 2: 0.2 + i / 100}
        if i % 10 == 9:
            trial = create_trial(state=TrialState.FAIL, params={"model.width": width},
                                 distributions=dist)
        elif i % 4 == 0 and i > 0:
            trial = create_trial(value=0.5 + i / 100, params={"model.width": width},
                                 distributions=dist, intermediate_values=curve,
                                 user_attrs={"params": 1000 + i, "epochs": 2})
        else:
            trial = create_trial(state=TrialState.PRUNED, params={"model.width": width},
                                 distributions=dist, intermediate_values={1: curve[1]})
        study.add_trial(trial)
    return study


def _settings(tmp_path: Path) -> SearchSettings:
    return SearchSettings(space={"model.width": [1.0]}, study_name="counts", storage=None,
                          root=str(tmp_path), n_trials=30,
                          objectives=[Objective("val/acc", "maximize")])


def _render(study: optuna.Study, settings: SearchSettings, k: int) -> str:
    console = Console(width=300, record=True)
    console.print(trials_table(study, settings, k=k))
    return console.export_text()


def test_table_header_counts_what_it_shows(tmp_path: Path) -> None:
    study, settings = _study(), _settings(tmp_path)
    states = [t.state for t in study.trials]
    assert (states.count(TrialState.COMPLETE), states.count(TrialState.PRUNED),
            states.count(TrialState.FAIL)) == (7, 20, 3)
    text = _render(study, settings, k=10)
    assert "top 7 of 7 completed (30 trials: 7 complete, 20 pruned, 3 failed)" in text
    text = _render(study, settings, k=5)
    assert "top 5 of 7 completed (30 trials: 7 complete, 20 pruned, 3 failed)" in text
    # best first: trial 28 (0.78), then 24, 20, 16, 12
    assert [t.number for t in top_trials(study, 5)] == [28, 24, 20, 16, 12]
    rows = [line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 3]
    assert rows == ["28", "24", "20", "16", "12"]


def test_empty_study_header(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="counts", direction="maximize")
    assert "top 0 of 0 completed (0 trials)" in _render(study, _settings(tmp_path), k=10)


def test_plots_are_written_as_png_and_html(tmp_path: Path) -> None:
    files, skipped = write_report(_study(), tmp_path / "report", ["val/acc"])
    assert skipped == {}
    names = ("optimization_history", "param_importances", "intermediate_values")
    assert sorted(f.name for f in files) == sorted(f"{n}.{ext}" for n in names
                                                   for ext in ("png", "html"))
    for f in files:
        head = f.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if f.suffix == ".png" else b"<html" in f.read_bytes()
        assert f.stat().st_size > 1000


def test_axes_are_named_by_the_metric_and_the_legend_stays_short(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from archforge.search.report import LABELLED, intermediate_figure

    study = _study()
    write_report(study, tmp_path / "report", ["val/acc"])
    for name in ("optimization_history", "param_importances", "intermediate_values"):
        html = (tmp_path / "report" / f"{name}.html").read_text()
        assert "Objective Value" not in html and "Intermediate Value" not in html, name
        if name != "param_importances":  # its axis is "Hyperparameter Importance"
            assert '"text":"val\\u002facc"' in html, name  # plotly's JSON escapes the slash
    fig = intermediate_figure(study, "val/acc")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "val/acc")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # 7 completed (best first, named), then 20 pruned and 3 failed trials as one entry each
    assert len(labels) <= LABELLED + 3 and labels[-7:][0] == "trial 28 (0.78)"
    assert "pruned (20)" in labels
    plt.close(fig)


def test_importances_need_two_completed_trials_of_different_values(tmp_path: Path) -> None:
    study = optuna.create_study(study_name="few", direction="maximize")
    dist = {"model.width": FloatDistribution(0.5, 2.0), "model.depth": FloatDistribution(1, 4)}
    for width, value in ((0.5, 0.8), (1.0, 0.8)):  # two completed trials, one value
        study.add_trial(create_trial(value=value, params={"model.width": width,
                                                          "model.depth": 2.0},
                                     distributions=dist, intermediate_values={1: value}))
    _, skipped = write_report(study, tmp_path / "report", ["val/acc"])
    assert skipped == {"param_importances": "needs at least 2 completed trials with different "
                       "val/acc; the study has 2 completed, 1 different value(s)"}
    assert not (tmp_path / "report" / "param_importances.png").exists()
    assert (tmp_path / "report" / "optimization_history.png").is_file()
    study.add_trial(create_trial(value=0.9, params={"model.width": 2.0, "model.depth": 2.0},
                                 distributions=dist, intermediate_values={1: 0.9}))
    _, skipped = write_report(study, tmp_path / "report", ["val/acc"])
    assert skipped == {} and (tmp_path / "report" / "param_importances.png").is_file()
