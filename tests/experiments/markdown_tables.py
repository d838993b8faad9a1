"""Whether a results.md renders: each Markdown table's rows have as many cells as its header.

A uniquely named module (not conftest.py), imported by the experiment tests. Cells are split
on unescaped `|`, as GitHub's Markdown does.
"""

from __future__ import annotations

import re
from pathlib import Path

_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")


def cells(line: str) -> list[str]:
    """The cells of one table line `| a | b \\| c |` -> ['a', 'b \\| c']."""
    return [c.strip() for c in _CELL_SEPARATOR.split(line.strip())[1:-1]]


def check_tables_render(results_md: Path) -> int:
    """Assert every table in `results_md` has equal cell counts per row; return how many."""
    tables: list[list[str]] = []
    previous = ""
    for line in results_md.read_text().splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
        previous = line
    for table in tables:
        header, separator, *rows = table
        assert re.fullmatch(r"\|(-{3,}\|)+", separator), separator
        width = len(cells(header))
        assert len(cells(separator)) == width, (header, separator)
        for row in rows:
            assert len(cells(row)) == width, (header, row)
    assert tables, f"no table in {results_md}"
    return len(tables)
