"""The in-memory data path against the DataLoader path, side by side in one process.

CIFAR-shaped data (synthetic 3x32x32 uint8, CIFAR-10's normalisation and augmentation:
4-pixel pad + random crop, horizontal flip) served two ways: `data.in_memory=false` (a
DataLoader over the same tensors, batches collated and augmented in its collate step, the
path every data set took before) and the default in-memory path (`InMemoryLoader`). Rounds
interleave the two (alternating which goes first); reported are medians over rounds of

* data only: images/s of one epoch of batches, nothing else done with them;
* training: images/s of Lightning's training loop on ResNet-20 (He et al. 2015), from the
  median time between the ends of consecutive steps, which includes fetching the batch.

Then the random crop alone: the current flat-gather `RandomCrop` against the 4-index
gather it replaced (kept here as the baseline). `--accuracy` also trains `archforge train`'s
default (ResNet-20 on the digits) on both paths for 3 seeds and prints the final validation
accuracies.

    python bench/bench_data.py                      # about 2-4 minutes on 2 cores
    python bench/bench_data.py --rounds 5 --accuracy
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import OmegaConf

import archforge
from archforge.config.compose import compose
from archforge.config.sections import OptimConfig
from archforge.data import build_datamodule
from archforge.data.transforms import RandomCrop
from archforge.training.module import ClassifierModule
from archforge.typed import from_mapping

PATHS = {"dataloader": "false", "in_memory": "auto"}


class StepTimer(L.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.times.append(time.perf_counter())


def data_config(in_memory: str, samples: int, batch: int) -> Any:
    return compose(["model=resnet20", "data=synthetic", "data.image_size=32", "data.channels=3",
                    "data.num_classes=10", f"data.num_samples={samples}",
                    f"data.batch_size={batch}",
                    "data.val_fraction=0.1", "data.mean=[0.4914,0.4822,0.4465]",
                    "data.std=[0.2470,0.2435,0.2616]", "data.augment.hflip=true",
                    "data.augment.crop_padding=4", f"data.in_memory={in_memory}",
                    "trainer.channels_last=false"])


def data_only(dm: Any) -> float:
    """images/s of one epoch of training batches."""
    loader = dm.train_dataloader()
    t = time.perf_counter()
    n = sum(int(y.shape[0]) for _, y in loader)
    return n / (time.perf_counter() - t)


def training(cfg: Any, dm: Any, steps: int, warmup: int) -> float:
    net = archforge.build(OmegaConf.to_container(cfg.model, resolve=True))
    module = ClassifierModule(
        net, from_mapping(OptimConfig, OmegaConf.to_container(cfg.optim), "optim"))
    timer = StepTimer()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, callbacks=[timer])
    trainer.fit(module, datamodule=dm)
    gaps = [b - a for a, b in zip(timer.times[warmup:], timer.times[warmup + 1:], strict=False)]
    return int(cfg.data.batch_size) / statistics.median(gaps)


class IndexedCrop(torch.nn.Module):
    """The previous `RandomCrop`: the same crops through four broadcast index tensors."""

    def __init__(self, padding: int) -> None:
        super().__init__()
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        p = self.padding
        padded = torch.nn.functional.pad(x, (p, p, p, p))
        top = torch.randint(0, 2 * p + 1, (n,))
        left = torch.randint(0, 2 * p + 1, (n,))
        rows = top[:, None] + torch.arange(h)
        cols = left[:, None] + torch.arange(w)
        return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                      rows[:, None, :, None], cols[:, None, None, :]]


def crop_speed(rounds: int, batch: int) -> None:
    """ms per CIFAR batch: the flat-gather `RandomCrop` against the previous indexing."""
    x = torch.rand(batch, 3, 32, 32)
    new, old = RandomCrop(4), IndexedCrop(4)
    torch.manual_seed(0)
    a = new(x)
    torch.manual_seed(0)
    assert torch.equal(a, old(x)), "the two crops must agree for the same random draws"
    times: dict[str, list[float]] = {"flat gather (now)": [], "4-index (before)": []}
    for _ in range(rounds * 10):
        for name, crop in (("flat gather (now)", new), ("4-index (before)", old)):
            t = time.perf_counter()
            crop(x)
            times[name].append(time.perf_counter() - t)
    print(f"\nRandomCrop(4) on {batch}x3x32x32 float, {torch.get_num_threads()} threads, "
          "median ms: " + ", ".join(f"{k} {statistics.median(v) * 1e3:.2f}"
                                   for k, v in times.items()))


def accuracy(seeds: int, epochs: int) -> None:
    from archforge.training.fit import train

    print(f"\ndigits, default model (resnet20), {epochs} epochs: final val/acc per seed")
    for name, value in PATHS.items():
        accs = []
        for seed in range(seeds):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = compose([f"data.in_memory={value}", f"seed={seed}", f"data.seed={seed}",
                               f"trainer.max_epochs={epochs}", f"run_dir={Path(tmp) / 'run'}",
                               "progress=false", "logger=csv"])
                result = train(cfg, progress=False, checkpoints=False)
            accs.append(result.metrics["val/acc"])
        mean = statistics.mean(accs)
        print(f"{name:>10}: {', '.join(f'{a:.4f}' for a in accs)}  mean {mean:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=11112, help="train + val (10% held out)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="training steps per run")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--accuracy", action="store_true", help="also digits, 3 seeds")
    parser.add_argument("--epochs", type=int, default=12, help="epochs of each digits run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    L.seed_everything(0, verbose=False)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    configs = {k: data_config(v, args.samples, args.batch_size) for k, v in PATHS.items()}
    modules = {k: build_datamodule(cfg.data) for k, cfg in configs.items()}
    for dm in modules.values():
        dm.setup("fit")
    loaded: dict[str, list[float]] = {k: [] for k in PATHS}
    trained: dict[str, list[float]] = {k: [] for k in PATHS}
    for r in range(args.rounds):
        order = list(PATHS) if r % 2 == 0 else list(PATHS)[::-1]
        for k in order:
            loaded[k].append(data_only(modules[k]))
        for k in order:
            trained[k].append(training(configs[k], modules[k], args.steps, args.warmup))
        print(f"round {r}: " + "  ".join(
            f"{k} data {loaded[k][-1]:.0f} img/s, train {trained[k][-1]:.1f} img/s" for k in PATHS
        ), flush=True)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(f"\nthreads {torch.get_num_threads()}, {args.samples} samples, batch "
          f"{args.batch_size}, {args.rounds} rounds, medians\n")
    print("| path | data only img/s | ResNet-20 training img/s |")
    print("|---|---|---|")
    for k in PATHS:
        print(f"| {k} | {med(loaded[k]):.0f} | {med(trained[k]):.1f} |")
    ratio_d = [a / b for a, b in zip(loaded["in_memory"], loaded["dataloader"], strict=True)]
    ratio_t = [a / b for a, b in zip(trained["in_memory"], trained["dataloader"], strict=True)]
    print(f"| in_memory / dataloader (median of per-round ratios) | x{med(ratio_d):.2f} | "
          f"x{med(ratio_t):.3f} |")
    threads = torch.get_num_threads()
    crop_speed(args.rounds, args.batch_size)
    torch.set_num_threads(1)  # small ops stall on a busy machine when split across threads
    crop_speed(args.rounds, args.batch_size)
    torch.set_num_threads(threads)
    if args.accuracy:
        accuracy(3, args.epochs)


if __name__ == "__main__":
    main()
