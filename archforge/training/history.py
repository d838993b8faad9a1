"""Per-epoch validation metrics, so a run can report its best epoch next to its last.

`best.ckpt` holds the epoch that was best by `checkpoint.monitor`; printing only the last
epoch's numbers (what `trainer.callback_metrics` holds at the end) would describe a model
nobody kept.
"""

from __future__ import annotations

import math

import lightning as L

REPORTED = ("val/acc", "val/loss", "val/acc_top5")


class MetricsHistory(L.Callback):
    """Records `REPORTED` metrics after every real (non sanity-check) validation epoch."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row = {k: float(metrics[k]) for k in REPORTED if k in metrics}
        if row:
            row["epoch"] = float(trainer.current_epoch + 1)
            self.rows.append(row)

    def last(self) -> tuple[int | None, dict[str, float]]:
        """(epoch, metrics) of the last validation; (None, {}) when nothing was validated."""
        return _split(self.rows[-1]) if self.rows else (None, {})

    def best(self, monitor: str, mode: str) -> tuple[int | None, dict[str, float]]:
        """(epoch, metrics) of the validation that was best by `monitor` (the first of equals,
        as ModelCheckpoint keeps the first)."""
        scored = [r for r in self.rows if monitor in r and math.isfinite(r[monitor])]
        if not scored:
            return None, {}
        sign = 1.0 if mode == "max" else -1.0
        return _split(max(scored, key=lambda r: (sign * r[monitor], -r["epoch"])))


def _split(row: dict[str, float]) -> tuple[int, dict[str, float]]:
    return int(row["epoch"]), {k: v for k, v in row.items() if k != "epoch"}
