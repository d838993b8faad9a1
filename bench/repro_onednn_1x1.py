"""Reproduce the oneDNN fault archforge works around on CPU (training/memory_format.py).

oneDNN's JIT backward-weights kernel for a strided 1x1 convolution in NHWC (channels_last)
writes past its workspace when the convolution has fewer input channels than the kernel's
channel block (16 with AVX-512, 8 with AVX2, per the issue): uxlfoundation/oneDNN issue
#6035. The heap is corrupted and the process dies later, at some unrelated free(). This
script trains one such convolution in plain PyTorch, each case in its own process (killed
after --timeout seconds, as a corrupted heap can also hang), and prints how each ended:

    python bench/repro_onednn_1x1.py
    python bench/repro_onednn_1x1.py --batch 7 --size 28 --threads 2 --steps 20

Whether a given shape crashes depends on how oneDNN splits the work among threads, so the
default case (batch 7, 28x28, 2 threads) is one that crashed on the 2-core AVX-512
development machine; cases with 16 input channels or in NCHW are the controls.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

CASE = """
import sys, torch
channels, layout, batch, size, threads, steps = sys.argv[1:]
torch.set_num_threads(int(threads))
torch.manual_seed(0)
fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
conv = torch.nn.Conv2d(int(channels), 32, 1, stride=2, bias=False).to(memory_format=fmt)
for _ in range(int(steps)):
    x = torch.randn(int(batch), int(channels), int(size), int(size))
    conv(x.contiguous(memory_format=fmt).requires_grad_()).sum().backward()
print("ok")
"""


def outcome(code: int) -> str:
    if code == 0:
        return "ok"
    if code < 0:
        return f"crashed ({signal.Signals(-code).name})"
    return f"failed (exit {code})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=7)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--channels", type=int, nargs="+", default=[3, 8, 12, 16, 32])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    args = parser.parse_args()
    print(f"Conv2d(C, 32, kernel 1, stride 2), batch {args.batch}, {args.size}x{args.size}, "
          f"{args.threads} threads, {args.steps} training steps")
    for layout in ("channels_last", "contiguous"):
        for channels in args.channels:
            command = [sys.executable, "-c", CASE, str(channels), layout, str(args.batch),
                       str(args.size), str(args.threads), str(args.steps)]
            try:
                done = subprocess.run(command, capture_output=True, text=True, check=False,
                                      timeout=args.timeout)
                result = outcome(done.returncode)
            except subprocess.TimeoutExpired:
                result = f"hung (killed after {args.timeout:.0f} s)"
            print(f"{layout:14s} C={channels:3d}: {result}", flush=True)


if __name__ == "__main__":
    main()
