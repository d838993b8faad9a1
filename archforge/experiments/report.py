"""What every experiment hands back and writes: tables (Markdown + CSV), notes, figures."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class Table:
    """A titled table of plain values; floats are shown with `digits` decimals."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    digits: int = 4

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_") or "table"

    def cell(self, value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return "-" if value is None else ("yes" if value else "no")
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            small = value != 0 and abs(value) < 10 ** -self.digits
            big = abs(value) >= 1e4
            return f"{value:.{self.digits}g}" if small or big else f"{value:.{self.digits}f}"
        return str(value)

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table; a `|` inside a cell ("max |logit diff|") is
        escaped, so every row has as many cells as the header."""
        lines = [f"### {self.title}", "", _md_row(self.columns)]
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += [_md_row([self.cell(v) for v in row]) for row in self.rows]
        return "\n".join(lines)

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def write_csv(self, path: Path) -> None:
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(self.columns)
            writer.writerows(self.rows)


def _md_row(cells: Sequence[str]) -> str:
    escaped = (str(c).replace("|", "\\|").replace("\n", " ") for c in cells)
    return "| " + " | ".join(escaped) + " |"


@dataclass
class Outcome:
    """One experiment's results: tables, verdict/notes lines, figures, wall time."""

    name: str
    run_dir: Path
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, title: str) -> Table:
        for t in self.tables:
            if t.title == title:
                return t
        raise KeyError(f"no table {title!r}; have {[t.title for t in self.tables]}")

    def markdown(self) -> str:
        parts = [f"# experiment: {self.name}", ""]
        for t in self.tables:
            parts += [t.markdown(), ""]
        parts += [f"- {n}" for n in self.notes]
        parts += [f"- figure: {p.name}" for p in self.figures]
        parts.append(f"- wall time: {self.seconds:.1f} s")
        return "\n".join(parts) + "\n"

    def write(self) -> list[Path]:
        """results.md plus one CSV per table (`results.csv` when there is only one)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        written = [self.run_dir / "results.md"]
        written[0].write_text(self.markdown())
        for t in self.tables:
            name = "results.csv" if len(self.tables) == 1 else f"{t.slug}.csv"
            t.write_csv(self.run_dir / name)
            written.append(self.run_dir / name)
        return written + list(self.figures)


def default_run_dir(name: str) -> Path:
    """outputs/experiments/<name>/<date>_<time> under the working directory, never reused."""
    now = datetime.now()
    base = Path.cwd() / "outputs" / "experiments" / name / now.strftime("%Y-%m-%d_%H-%M-%S")
    run_dir, n = base, 1
    while run_dir.exists():
        run_dir = base.with_name(f"{base.name}-{n}")
        n += 1
    return run_dir


def figure_axes(ncols: int, width: float = 5.0, height: float = 3.8) -> tuple[Any, Sequence[Any]]:
    """A matplotlib figure with `ncols` side-by-side axes, on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a CPU box or in CI
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def save_figure(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def spread(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
