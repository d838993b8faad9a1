"""Per-stage output shape, parameters and MACs of a network."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    name: str  # "stem", "stage0", "head", ...
    kind: str  # plugin name, "x depth" for stages
    out_shape: tuple[int, ...]  # per sample: (C, H, W) or (num_classes,)
    params: int
    macs: int


@dataclass
class ModelSummary:
    name: str
    input_shape: tuple[int, ...]  # (C, H, W)
    rows: list[Row] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def table(self) -> str:
        header = f"{'layer':<16}{'plugin':<28}{'output':>18}{'params':>14}{'MACs':>16}"
        lines = [f"{self.name}  input {fmt_shape(self.input_shape)}", header, "-" * len(header)]
        for r in self.rows:
            lines.append(
                f"{r.name:<16}{r.kind:<28}{fmt_shape(r.out_shape):>18}"
                f"{r.params:>14,}{r.macs:>16,}"
            )
        lines.append("-" * len(header))
        lines.append(
            f"{'total':<16}{'':<28}{'':>18}{self.total_params:>14,}{self.total_macs:>16,}"
            f"  ({human(self.total_params)} params, {human(self.total_macs)} MACs)"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def fmt_shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def human(n: float) -> str:
    """`n` to four significant digits with a K / M / G suffix: 149,497,088 -> "149.5M"."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.4g}{unit}"
    return f"{n:.0f}"
