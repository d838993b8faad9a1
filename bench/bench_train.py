"""Training throughput: `archforge train`'s Lightning loop against a plain PyTorch loop.

Both loops train the same network (ResNet-20, He et al. 2015) on the same synthetic 3x32x32
data module with the same batch size, optimizer and per-step LR schedule; they run
interleaved (L, P, L, P, ...) so that load from other processes hits both alike. Reported:
images/s per run, the median Lightning/plain ratio, model-FLOPs utilisation (MFU) of the
training step against this machine's measured fp32 matmul rate (training FLOPs per image
~= 3 x 2 x forward MACs), eager vs channels_last (both interleaved with the plain loop) vs
torch.compile on the Lightning path, and which of them is the default path (`trainer=cpu`
leaves channels_last to archforge.training.memory_format).

    python bench/bench_train.py                      # default, about 2-3 minutes on 2 cores
    python bench/bench_train.py --steps 40 --rounds 5 --no-compile
    python bench/bench_train.py --data fashion_mnist --no-compile   # 1x28x28, real images

`--data fashion_mnist` trains on a fixed subset of the real Fashion-MNIST training files
(the in-memory path with its crop and flip augmentation, which both loops share).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

import archforge
from archforge.config.compose import compose
from archforge.config.sections import OptimConfig
from archforge.data import build_datamodule
from archforge.training.memory_format import cpu_safe_channels_last, default_channels_last
from archforge.training.module import ClassifierModule
from archforge.training.optim import build_optimizer, build_scheduler
from archforge.typed import from_mapping


def matmul_gflops(n: int = 2048, repeats: int = 9) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


class StepTimer(L.Callback):
    """Wall time at the end of each training batch (after the optimizer step)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.times.append(time.perf_counter())


def rate(times: list[float], warmup: int, batch: int) -> float:
    """images/s from the median step time after `warmup` steps (the first ones pay allocation
    and compilation). The median, not the mean: the 2 cores are shared with other processes
    and a step that waited for the CPU says nothing about either loop."""
    steps = [b - a for a, b in zip(times[warmup:], times[warmup + 1:], strict=False)]
    return batch / statistics.median(steps)


def endless(loader: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from loader


def lightning_run(cfg: Any, dm: Any, steps: int, warmup: int, *, channels_last: bool = False,
                  compile: bool = False) -> float:
    net = archforge.build(OmegaConf.to_container(cfg.model, resolve=True))
    optim = from_mapping(OptimConfig, OmegaConf.to_container(cfg.optim), "optim")
    module = ClassifierModule(net, optim,
                              channels_last=channels_last, compile=compile)
    timer = StepTimer()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        limit_val_batches=0, callbacks=[timer])
    trainer.fit(module, train_dataloaders=dm.train_dataloader())
    return rate(timer.times, warmup, cfg.data.batch_size)


def plain_run(cfg: Any, dm: Any, steps: int, warmup: int) -> float:
    """The loop a careful PyTorch user writes by hand: same model, optimizer and schedule."""
    net = archforge.build(OmegaConf.to_container(cfg.model, resolve=True)).train()
    optim_cfg = from_mapping(OptimConfig, OmegaConf.to_container(cfg.optim), "optim")
    loader = dm.train_dataloader()
    opt = build_optimizer(net, optim_cfg)
    sched = build_scheduler(opt, optim_cfg, steps, len(loader))
    times: list[float] = []
    for i, (x, y) in enumerate(endless(loader)):
        if i == steps:
            break
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        times.append(time.perf_counter())
    return rate(times, warmup, cfg.data.batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=25, help="optimizer steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of each rate")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved L/plain pairs")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--data", choices=("synthetic", "fashion_mnist"), default="synthetic",
                        help="synthetic 3x32x32 or Fashion-MNIST 1x28x28 (data.root: auto)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    L.seed_everything(0, verbose=False)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")  # Lightning's advice on workers / missing val loop

    if args.data == "fashion_mnist":
        data = ["data=fashion_mnist", f"data.train_subset={args.batch_size * 12}"]
    else:
        data = ["data=synthetic", "data.image_size=32", "data.channels=3",
                "data.num_classes=10", f"data.num_samples={args.batch_size * 10}"]
    cfg = compose([f"model={args.model}", *data, f"data.batch_size={args.batch_size}",
                   "data.val_fraction=0.1"])
    dm = build_datamodule(cfg.data)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    macs = archforge.summary(model_cfg).total_macs
    train_flops = 3 * 2 * macs  # forward + backward (~2x forward) per image
    peaks = [matmul_gflops()]
    shape = f"{dm.channels}x{dm.image_size}x{dm.image_size}"
    print(f"{args.model} on {args.data} ({shape}): {macs / 1e6:.1f} MMACs/image -> "
          f"{train_flops / 1e9:.3f} GFLOP per trained image")
    print(f"batch {args.batch_size}, {args.steps} steps per run ({args.warmup} warm-up)\n")

    light, plain, last = [], [], []
    for r in range(args.rounds):
        # Alternate which loop goes first, so slow drifts in machine load cancel out.
        if r % 2 == 0:
            light.append(lightning_run(cfg, dm, args.steps, args.warmup))
            plain.append(plain_run(cfg, dm, args.steps, args.warmup))
            last.append(lightning_run(cfg, dm, args.steps, args.warmup, channels_last=True))
        else:
            last.append(lightning_run(cfg, dm, args.steps, args.warmup, channels_last=True))
            plain.append(plain_run(cfg, dm, args.steps, args.warmup))
            light.append(lightning_run(cfg, dm, args.steps, args.warmup))
        peaks.append(matmul_gflops())
        print(f"round {r}: lightning {light[-1]:7.1f} img/s   plain {plain[-1]:7.1f} img/s   "
              f"ratio {light[-1] / plain[-1]:.3f}   channels_last {last[-1]:7.1f} img/s")
    # The machine's rate when this process had the cores: the best of the interleaved samples.
    peak = max(peaks)
    print(f"\nthreads {args.threads}; fp32 matmul 2048^2: {peak:.0f} GFLOP/s "
          f"(samples {', '.join(f'{p:.0f}' for p in peaks)})")

    def mfu(ips: float) -> float:
        return ips * train_flops / 1e9 / peak

    ratios = [a / b for a, b in zip(light, plain, strict=True)]
    print(f"median ratio lightning/plain: {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")
    base = statistics.median(light)
    mid = statistics.median(plain)
    print(f"eager          {base:7.1f} img/s  MFU {100 * mfu(base):5.1f}%  "
          f"(plain {mid:.1f} img/s, MFU {100 * mfu(mid):.1f}%)")
    cl = statistics.median(last)
    print(f"channels_last  {cl:7.1f} img/s  MFU {100 * mfu(cl):5.1f}%  x{cl / base:.2f}")
    # What `archforge train` runs when the config leaves channels_last null (trainer=cpu).
    # (NCHW for a network holding a convolution oneDNN cannot train in channels_last.)
    auto = cpu_safe_channels_last(default_channels_last("cpu", archforge.resolve(model_cfg)),
                                  "cpu", archforge.build(model_cfg))
    default = cl if auto else base
    print(f"default path (trainer=cpu, channels_last auto -> {auto}): {default:7.1f} img/s  "
          f"MFU {100 * mfu(default):5.1f}% (target >= 70%)")
    if not args.no_compile:
        t = time.perf_counter()
        comp = lightning_run(cfg, dm, args.steps, args.warmup, compile=True)
        took = time.perf_counter() - t
        print(f"compile        {comp:7.1f} img/s  MFU {100 * mfu(comp):5.1f}%  x{comp / base:.2f}"
              f"  (run incl. compilation {took:.0f} s)")
        both = lightning_run(cfg, dm, args.steps, args.warmup, channels_last=True, compile=True)
        print(f"compile+cl     {both:7.1f} img/s  MFU {100 * mfu(both):5.1f}%  x{both / base:.2f}")


if __name__ == "__main__":
    main()
