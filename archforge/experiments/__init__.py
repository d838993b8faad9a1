"""Built-in experiments: the claims of the articles archforge grew from, one command each.

`archforge experiment list` names them; `archforge experiment <name> [key=value ...]` runs
one and writes a Markdown table, a CSV per table and a PNG plot into its run directory.
"""

from __future__ import annotations

# name -> (module, one-line description). Each module has `Settings` (a dataclass of its
# own keys), `TRAINS` (whether dotted training overrides apply) and `run(...) -> Outcome`.
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "bottleneck_1x1": (
        "archforge.experiments.bottleneck_1x1",
        "Inception's 1x1 reductions and ResNet's bottleneck: params and MACs, no training",
    ),
    "separable": (
        "archforge.experiments.separable",
        "standard vs depthwise-separable conv cost; Xception vs Inception-v3 size",
    ),
    "identity": (
        "archforge.experiments.identity",
        "a deeper net built from a trained one plus identity blocks is no worse",
    ),
    "degradation": (
        "archforge.experiments.degradation",
        "plain20/56 vs resnet20/56 on digits: deeper plain nets train worse",
    ),
    "transfer": (
        "archforge.experiments.transfer",
        "pretrain on digits 0-4, fine-tune on a few 5-9 images vs training from scratch",
    ),
}
