"""`search.supernet`: how the weight-sharing supernet of `search.evaluator=supernet` is
trained and how candidates are scored on it (archforge/search/supernet/).

The sandwich rule with two random sub-networks is BigNAS's (Yu et al., ECCV 2020), a few
hundred recalibration images is the order OFA and BigNAS use. Measured on `search=fashion`
(bench/bench_supernet.py, bench/RESULTS.md): these defaults rank 24 candidates with
Spearman 0.82 (0.27-0.37 within a branch) for about 10 trials' worth of training; twice the
epochs without random sub-networks, at the same cost, ranked no better. `top_k` is not
measured yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from archforge.typed import require


@dataclass(frozen=True)
class SupernetSettings:
    epochs: int = 12  # supernet training epochs over the search's training split
    sandwich_random: int = 2  # random sub-networks per step, besides the largest and smallest
    distill: bool = True  # in-place distillation: the largest network's soft labels teach
    calib_images: int = 512  # training images for a candidate's BN recalibration
    calib_batch: int = 128  # batch size of the recalibration passes
    top_k: int = 3  # stage 2: the best k by supernet score train alone (0: off; unmeasured)
    seed: int | None = None  # sub-network sampling and initialisation; null: search.seed

    def check(self, path: str) -> None:
        require(self.epochs >= 1, f"{path}.epochs", self.epochs, "an integer >= 1")
        require(self.sandwich_random >= 0, f"{path}.sandwich_random", self.sandwich_random,
                "an integer >= 0")
        require(self.calib_images >= 1, f"{path}.calib_images", self.calib_images,
                "an integer >= 1")
        require(self.calib_batch >= 2, f"{path}.calib_batch", self.calib_batch,
                "an integer >= 2 (batch norm needs two samples)")
        require(self.top_k >= 0, f"{path}.top_k", self.top_k,
                "an integer >= 0 (0: no second stage, the winner is the supernet's best)")
        require(self.seed is None or 0 <= self.seed < 2**31, f"{path}.seed", self.seed,
                "an integer in [0, 2**31) or null")
