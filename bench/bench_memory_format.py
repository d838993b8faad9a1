"""Training-step speed per block family: eager (NCHW) vs channels_last (vs torch.compile).

One representative zoo model per block family, shrunk to a small input so the whole run
takes a few minutes on 2 cores. Every (model, format) pair keeps its network and optimizer
for the whole run; rounds interleave all pairs (alternating which format goes first), and
each rate is batch / median step time (forward, cross-entropy, backward, SGD step) over
the steps after warm-up. The step is the one `ClassifierModule` runs: with channels_last
the weights are converted once and each input batch on entry.

    python bench/bench_memory_format.py                 # a few minutes on 2 quiet cores
    python bench/bench_memory_format.py --rounds 5 --compile

The last column is what `archforge.training.memory_format` picks on CPU for the family.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

import archforge
from archforge.config.compose import compose
from archforge.model.schema import ModelConfig
from archforge.training.memory_format import CPU_CHANNELS_LAST, family_of


@dataclass(frozen=True)
class Case:
    family: str
    model: str
    size: int  # input side
    batch: int


CASES = (
    Case("basic", "resnet20", 32, 32),
    Case("bottleneck", "resnet50", 64, 8),
    Case("preact", "preact_resnet164", 32, 8),
    Case("inception", "googlenet", 64, 16),
    Case("inception", "inception_v3", 80, 4),
    Case("separable", "mobilenet", 64, 16),
    Case("separable", "xception", 80, 4),
    Case("vgg", "vgg16", 32, 16),
)


class Runner:
    """One network + optimizer in one memory format, timed a few steps at a time."""

    def __init__(self, case: Case, mode: str) -> None:
        cfg = compose([f"model={case.model}", "data=synthetic", f"data.image_size={case.size}",
                       "data.num_classes=10", "data.channels=3"])
        mapping = OmegaConf.to_container(cfg.model, resolve=True)
        self.model_config: ModelConfig = archforge.resolve(mapping)
        self.net = archforge.build(mapping).train()
        self.channels_last = mode in ("channels_last", "compile+cl")
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.forward = torch.compile(self.net) if mode.startswith("compile") else self.net
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(case.batch, 3, case.size, case.size, generator=gen)
        self.y = torch.randint(0, 10, (case.batch,), generator=gen)
        self.batch = case.batch
        self.samples: list[float] = []

    def step(self) -> None:
        x = self.x
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(self.forward(x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def run(self, steps: int, warmup: int) -> None:
        for _ in range(warmup):
            self.step()
        for _ in range(steps):
            t = time.perf_counter()
            self.step()
            self.samples.append(time.perf_counter() - t)

    def rate(self) -> float:
        return self.batch / statistics.median(self.samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per pair per round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before each run")
    parser.add_argument("--compile", action="store_true", help="add torch.compile (slow)")
    parser.add_argument("--models", nargs="*", help="only these zoo models")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    modes = ["eager", "channels_last"] + (["compile", "compile+cl"] if args.compile else [])
    cases = [c for c in CASES if not args.models or c.model in args.models]
    runners = {(c, m): Runner(c, m) for c in cases for m in modes}
    compile_s: dict[tuple[Case, str], float] = {}
    for (c, m), r in runners.items():
        if family_of(r.model_config) != c.family:
            raise SystemExit(f"{c.model} is family {family_of(r.model_config)}, not {c.family}")
        if m.startswith("compile"):
            t = time.perf_counter()
            r.run(0, 2)  # compile outside the timed rounds
            compile_s[(c, m)] = time.perf_counter() - t
            print(f"compiled {c.model} {m} in {compile_s[(c, m)]:.0f} s", flush=True)
    for rnd in range(args.rounds):
        order = modes if rnd % 2 == 0 else modes[::-1]
        for c in cases:
            for m in order:
                runners[(c, m)].run(args.steps, args.warmup)
            rates = "  ".join(f"{m} {runners[(c, m)].batch / runners[(c, m)].samples[-1]:.1f}"
                              for m in modes)
            print(f"round {rnd} {c.model}: last step img/s {rates}", flush=True)

    head = " | ".join(f"{m} img/s" for m in modes)
    vs = " | ".join(f"{m} vs eager" for m in modes[1:])
    first = " | first compile s" if args.compile else ""
    print(f"\nthreads {args.threads}, {args.rounds} rounds x {args.steps} steps, medians\n")
    print(f"| family | model | input | batch | {head} | {vs}{first} | CPU default |")
    print("|---" * (5 + 2 * len(modes) + bool(args.compile)) + "|")
    for c in cases:
        rates = [runners[(c, m)].rate() for m in modes]
        ratios = " | ".join(f"x{r / rates[0]:.2f}" for r in rates[1:])
        took = (" | " + " / ".join(f"{compile_s[(c, m)]:.0f}" for m in modes[2:])
                if args.compile else "")
        default = "channels_last" if CPU_CHANNELS_LAST.get(c.family, False) else "eager"
        cells = " | ".join(f"{r:.1f}" for r in rates)
        print(f"| {c.family} | {c.model} | {c.size} | {c.batch} | {cells} | {ratios}{took} "
              f"| {default} |")

if __name__ == "__main__":
    main()
