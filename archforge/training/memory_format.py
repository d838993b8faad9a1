"""Channels-last or not: the memory format a run trains in when the config leaves it open.

`channels_last: null` (the default) is resolved here from the accelerator and the model's
block families. On GPUs channels_last (NHWC) is the layout cuDNN's tensor-core convolution
kernels use natively, so it is the default there (PyTorch's "Channels Last Memory Format"
tutorial). On CPUs the gain depends on the kind of convolution: oneDNN is fast in NHWC for
dense 3x3 convolutions, less so elsewhere, so the choice comes from `CPU_CHANNELS_LAST`,
measured per family with `bench/bench_memory_format.py` (see bench/RESULTS.md). A model
mixing families gets channels_last only when every family in it gains. An explicit
`true` / `false` from the user wins, with one exception for safety (below).

One oneDNN kernel is unsafe in channels_last: the JIT backward-weights kernel of a strided
1x1 convolution writes past its workspace when the convolution has fewer input channels than
the kernel's channel block (16 on AVX-512, 8 on AVX2), which corrupts the heap and crashes
the process later, far from the cause (uxlfoundation/oneDNN issue #6035, open as of
PyTorch 2.13; `bench/repro_onednn_1x1.py` reproduces it with plain PyTorch). Narrow
networks meet it easily: a projection shortcut from 8 channels with stride 2 is one. So on a
CPU a network holding such a convolution trains in NCHW whatever was asked
(`cpu_safe_channels_last`), with a warning when channels_last was asked for explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from torch import nn

from archforge.model.schema import ModelConfig

log = logging.getLogger(__name__)

# Registered block name -> family. Pools carry no convolution and do not vote.
FAMILIES: dict[str, str] = {
    "basic": "basic",
    "plain_basic": "basic",
    "bottleneck": "bottleneck",
    "plain_bottleneck": "bottleneck",
    "preact_basic": "preact",
    "preact_bottleneck": "preact",
    "inception": "inception",
    "inception_v3_a": "inception",
    "inception_v3_b": "inception",
    "inception_v3_c": "inception",
    "inception_v3_reduction_a": "inception",
    "inception_v3_reduction_b": "inception",
    "inception_resnet": "inception",
    "inception_v4_a": "inception",
    "inception_v4_b": "inception",
    "inception_v4_c": "inception",
    "inception_v4_reduction_a": "inception",
    "inception_v4_reduction_b": "inception",
    "inception_resnet_a": "inception",
    "inception_resnet_b": "inception",
    "inception_resnet_c": "inception",
    "inception_resnet_reduction_b": "inception",
    "dense_block": "dense",
    "dense_transition": "dense",
    "separable": "separable",
    "mobilenet": "separable",
    "xception": "separable",
    "vgg": "vgg",
    "conv": "vgg",  # plain conv stages (LeNet-5, AlexNet): dense convolutions like VGG's
    "nb201_cell": "nb201",
    "nb201_reduction": "nb201",
}
NEUTRAL_BLOCKS = frozenset({"maxpool", "avgpool"})

# Measured 2026-11-23 on the 2-core development CPU (bench/RESULTS.md, "Memory format per
# block family"): True where channels_last trained clearly faster (>= 5% on every model of
# the family). A family not listed (a third-party block) stays in the default NCHW format.
CPU_CHANNELS_LAST: dict[str, bool] = {
    "basic": True,
    "bottleneck": True,
    "preact": True,
    "inception": True,
    "separable": True,
    "vgg": False,  # x0.98 on vgg16: no gain, so the default layout stays
    "dense": False,  # DenseNet: not measured yet, so the default layout stays
    "nb201": False,  # NAS-Bench-201 cells: not measured yet, so the default layout stays
}

GPU_ACCELERATORS = frozenset({"gpu", "cuda"})

# oneDNN's widest channel block for the 1x1 backward-weights kernel (AVX-512): a strided 1x1
# convolution with fewer input channels per group than this is unsafe in NHWC on a CPU.
ONEDNN_1X1_CHANNEL_BLOCK = 16
ONEDNN_ISSUE = "https://github.com/uxlfoundation/oneDNN/issues/6035"


def block_names(model: ModelConfig) -> list[str]:
    """The block registry names the model's stages use, in order."""
    names = [stage.block or model.block for stage in model.stages]
    return [n for n in names if n is not None]


def families(model: ModelConfig) -> set[str | None]:
    """The model's block families; None stands for a block archforge has no measurement of."""
    return {FAMILIES.get(n) for n in block_names(model) if n not in NEUTRAL_BLOCKS}


def family_of(model: ModelConfig) -> str | None:
    """The single family of a model, or None when it mixes families or has unknown blocks."""
    found = families(model)
    return next(iter(found)) if len(found) == 1 else None


def accelerator_kind(accelerator: Any) -> str:
    """'gpu' or 'cpu' (or the name, for anything else) for a Trainer `accelerator` value;
    'auto' is what Lightning would pick on this machine."""
    name = str(accelerator or "auto").lower()
    if name == "auto":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if name in GPU_ACCELERATORS else name


def default_channels_last(accelerator: Any, model: ModelConfig) -> bool:
    """The memory format to use when the config does not say: see the module docstring."""
    kind = accelerator_kind(accelerator)
    if kind == "gpu":
        return True
    if kind != "cpu":
        return False  # mps, tpu, ...: no measurement, keep PyTorch's default layout
    found = families(model)
    return bool(found) and all(f is not None and CPU_CHANNELS_LAST.get(f, False) for f in found)


def choose_channels_last(
    explicit: bool | None, trainer: Mapping[str, Any], model: ModelConfig
) -> bool:
    """The run's memory format: the top-level `channels_last` key, else the trainer preset's
    `channels_last`, else `default_channels_last` for the trainer's accelerator."""
    for value in (explicit, trainer.get("channels_last")):
        if value is not None:
            return bool(value)
    return default_channels_last(trainer.get("accelerator", "auto"), model)


def nhwc_unsafe_convs(net: nn.Module) -> list[str]:
    """Names of the convolutions oneDNN cannot train in NHWC on a CPU (module docstring):
    1x1 kernels with a stride above 1 and fewer than `ONEDNN_1X1_CHANNEL_BLOCK` input
    channels per group."""
    return [
        name
        for name, module in net.named_modules()
        if isinstance(module, nn.Conv2d)
        and tuple(module.kernel_size) == (1, 1)
        and tuple(module.stride) != (1, 1)
        and module.in_channels // module.groups < ONEDNN_1X1_CHANNEL_BLOCK
    ]


def cpu_safe_channels_last(
    wanted: bool, accelerator: Any, net: nn.Module, *, explicit: bool = False
) -> bool:
    """`wanted`, unless the run trains on a CPU and `net` holds a convolution that oneDNN
    cannot train in NHWC (`nhwc_unsafe_convs`): then False, with a warning when the user
    asked for channels_last (`explicit`) and a debug line when it was archforge's choice."""
    if not wanted or accelerator_kind(accelerator) != "cpu":
        return wanted
    unsafe = nhwc_unsafe_convs(net)
    if not unsafe:
        return True
    first = net.get_submodule(unsafe[0])
    assert isinstance(first, nn.Conv2d)
    message = (
        f"channels_last: training in NCHW instead; '{unsafe[0]}' "
        f"({len(unsafe)} such layer(s)) is a strided 1x1 convolution with "
        f"{first.in_channels // first.groups} input channels, which oneDNN's CPU backward "
        f"kernel corrupts memory on in channels_last ({ONEDNN_ISSUE})"
    )
    (log.warning if explicit else log.debug)(message)
    return False
