"""Accuracy, per-class accuracy and the confusion matrix of a network on one data split.

Used by `archforge evaluate` and by `archforge train test=true` after fitting; the only
readers of a data set's held-out test split. Results go to `evaluation_<split>.json` and
`confusion_<split>.png` beside the run's checkpoints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn


@dataclass
class Evaluation:
    split: str
    images: int
    accuracy: float
    per_class: dict[str, float]  # class name -> accuracy on that class's images
    confusion: list[list[int]]  # confusion[true][predicted]
    class_names: list[str]

    def lines(self) -> list[str]:
        """What the commands print: the overall figure, then one line per class."""
        width = max(len(name) for name in self.class_names)
        out = [f"{self.split} accuracy: {100 * self.accuracy:.2f}% of {self.images:,} images"]
        for i, (name, row) in enumerate(zip(self.class_names, self.confusion, strict=True)):
            out.append(f"  {name:<{width}}  {100 * self.per_class[name]:6.2f}%  "
                       f"({row[i]:,} of {sum(row):,})")
        return out


@torch.no_grad()
def evaluate(net: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], class_names: list[str],
             split: str) -> Evaluation:
    """Run `net` (in eval mode) over `batches` of (images, labels) and count."""
    k = len(class_names)
    confusion = torch.zeros(k, k, dtype=torch.int64)
    was_training = net.training
    net.eval()
    try:
        for images, labels in batches:
            predicted = net(images).argmax(dim=1).cpu()
            confusion += torch.bincount(labels.cpu() * k + predicted, minlength=k * k).view(k, k)
    finally:
        net.train(was_training)
    total = int(confusion.sum())
    per_class_counts = confusion.sum(dim=1)
    correct = confusion.diag()
    per_class = {
        name: float(correct[i]) / max(int(per_class_counts[i]), 1)
        for i, name in enumerate(class_names)
    }
    return Evaluation(split=split, images=total, accuracy=float(correct.sum()) / max(total, 1),
                      per_class=per_class, confusion=confusion.tolist(),
                      class_names=list(class_names))


def save(result: Evaluation, folder: Path, extra: dict[str, object] | None = None) -> list[Path]:
    """`evaluation_<split>.json` and `confusion_<split>.png` in `folder` (written through a
    temporary name, so an interrupted write leaves no partial file)."""
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / f"evaluation_{result.split}.json"
    tmp = folder / f".{report.name}.tmp"
    tmp.write_text(json.dumps({**asdict(result), **(extra or {})}, indent=1))
    os.replace(tmp, report)
    return [report, plot_confusion(result, folder / f"confusion_{result.split}.png")]


def plot_confusion(result: Evaluation, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on a CPU box or in CI
    import matplotlib.pyplot as plt

    k = len(result.class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * k, 0.8 + 0.55 * k))
    matrix = torch.tensor(result.confusion, dtype=torch.float64)
    rates = matrix / matrix.sum(dim=1, keepdim=True).clamp_min(1)
    ax.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            count = int(matrix[i, j])
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), result.class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), result.class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{result.split}: {100 * result.accuracy:.2f}% of {result.images:,}")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
    return path
