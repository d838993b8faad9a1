"""Every experiment's results.md renders: its test runs it and checks each table's cells."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from markdown_tables import cells, check_tables_render

from archforge.experiments import EXPERIMENTS
from archforge.experiments.report import Outcome, Table

HERE = Path(__file__).parent


def _checked_experiments() -> set[str]:
    """Experiments some test here runs with `run_experiment("name", ...)` and whose
    results.md the same test passes to `check_tables_render`."""
    checked: set[str] = set()
    for path in HERE.glob("test_*.py"):
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, ast.FunctionDef):
                continue
            calls = {(n.func.id, n.args[0].value if n.args and isinstance(n.args[0],
                      ast.Constant) else None)
                     for n in ast.walk(func)
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if any(name == "check_tables_render" for name, _ in calls):
                checked |= {str(arg) for name, arg in calls
                            if name == "run_experiment" and arg is not None}
    return checked


def test_every_experiment_has_its_tables_checked() -> None:
    assert _checked_experiments() == set(EXPERIMENTS)


def test_a_pipe_inside_a_cell_is_escaped(tmp_path: Path) -> None:
    table = Table("check", ["model", "max |logit diff|"], [["a|b", 0.5], ["c\nd", None]])
    outcome = Outcome("x", tmp_path, [table])
    outcome.write()
    assert check_tables_render(tmp_path / "results.md") == 1
    assert cells(table.markdown().splitlines()[2]) == ["model", "max \\|logit diff\\|"]
    assert cells(table.markdown().splitlines()[-1]) == ["c d", "-"]


def test_the_check_catches_a_broken_table(tmp_path: Path) -> None:
    broken = tmp_path / "results.md"
    broken.write_text("### t\n\n| a | b | c |\n|---|---|\n| 1 | 2 |\n")
    with pytest.raises(AssertionError):
        check_tables_render(broken)
