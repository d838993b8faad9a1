"""Channels-last or not: the memory format a run trains in when the config leaves it open.

`channels_last: null` (the default) is resolved here from the accelerator and the model's
block families. On GPUs channels_last (NHWC) is the layout cuDNN's tensor-core convolution
kernels use natively, so it is the default there (PyTorch's "Channels Last Memory Format"
tutorial). On CPUs the gain depends on the kind of convolution: oneDNN is fast in NHWC for
dense 3x3 convolutions, less so elsewhere, so the choice comes from `CPU_CHANNELS_LAST`,
measured per family with `bench/bench_memory_format.py` (see bench/RESULTS.md). A model
mixing families gets channels_last only when every family in it gains. An explicit
`true` / `false` from the user always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archforge.model.schema import ModelConfig

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
