"""The supernet evaluator's slicing: a candidate run on views of the supernet's tensors is
the stand-alone network with those weights; scoring never writes the supernet; a plugin
that cannot be sliced is one clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from search_helpers import HERE
from torch import nn

import archforge
from archforge.config.run import parse_run
from archforge.model.builder import build_network
from archforge.search.runtime.prepare import prepare
from archforge.search.space.search_space import trial_config
from archforge.search.supernet.models import Models, meta_network
from archforge.search.supernet.slicing import NotSliceableError, sliced
from archforge.search.supernet.subnet import forward, score
from archforge.search.supernet.supernet import Supernet

TINY = HERE / "supernet_tiny.yaml"


def _supernet(root: Path, search: Path = TINY) -> Supernet:
    prep = prepare([f"search={search}", f"search.root={root}"])
    run = parse_run(trial_config(prep.base_overrides, []))
    net = Supernet(prep.space, Models(run.model_mapping), seed=0)
    torch.manual_seed(1)
    with torch.no_grad():  # nothing left at its initial value: BN statistics included
        for w in net.weights:
            for name, t in w.named_buffers():
                if name.endswith("running_mean"):
                    t.normal_()
                elif name.endswith("running_var"):
                    t.uniform_(0.5, 2.0)
            for p in w.parameters():
                p.add_(0.1 * torch.randn_like(p))
    return net


def _point(block: str, shortcut: str, width: float, depths: tuple[int, int, int],
           expansion: int = 2) -> dict[str, Any]:
    point: dict[str, Any] = {"model.block": block, "model.shortcut": shortcut,
                             "model.width": width}
    point.update({f"model.stages.{i}.depth": d for i, d in enumerate(depths)})
    if block == "bottleneck":
        point["model.block_options.expansion"] = expansion
    return point


POINTS = [
    _point("basic", "projection", 1.0, (2, 2, 2)),
    _point("basic", "projection", 0.6, (1, 2, 1)),
    _point("basic", "zero_pad", 0.75, (2, 1, 2)),
    _point("basic", "zero_pad", 0.5, (1, 1, 1)),
    _point("bottleneck", "projection", 0.8, (1, 2, 2), expansion=1),
    _point("bottleneck", "projection", 1.0, (2, 1, 1), expansion=2),
    _point("bottleneck", "zero_pad", 0.7, (2, 2, 1), expansion=2),
    _point("bottleneck", "zero_pad", 0.55, (1, 1, 2), expansion=1),
]


@pytest.fixture(scope="module")
def supernet(tmp_path_factory: pytest.TempPathFactory) -> Supernet:
    return _supernet(tmp_path_factory.mktemp("supernet"))


def test_branches_are_the_non_nesting_combinations(supernet: Supernet) -> None:
    labels = [b.branch.label for b in supernet.branches]
    assert labels == [f"model.block={b}, model.shortcut={s}" for b in ("basic", "bottleneck")
                      for s in ("projection", "zero_pad")]
    # the bottleneck supernet's inner width is the widest of the space (expansion 1), its
    # depth the deepest: elementwise maximum, not one candidate's options
    shapes = {n: tuple(t.shape) for n, t in supernet.shared(2).items()}
    assert shapes["stages.2.1.conv2.weight"] == (8, 8, 3, 3)
    assert shapes["stages.1.0.shortcut.conv.weight"][:2] == (8, 8)
    assert "stages.1.0.shortcut.conv.weight" not in supernet.shared(3)  # zero_pad: none


@pytest.mark.parametrize("point", POINTS, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_sliced_forward_equals_the_standalone_network(supernet: Supernet,
                                                      point: dict[str, Any]) -> None:
    cfg = supernet.models.config(point)
    shared = supernet.shared(supernet.index(point))
    meta = meta_network(cfg)
    alone = build_network(cfg)
    state = sliced(shared, meta)
    alone.load_state_dict({k: v.detach().clone() for k, v in state.items()})
    smaller = [n for n, t in state.items() if t.shape != shared[n].shape]
    if point["model.width"] < 1.0:
        assert smaller  # a real slice, not the whole tensor
    x = torch.randn(6, cfg.in_channels, 8, 8)
    alone.eval()
    meta.eval()
    torch.testing.assert_close(forward(meta, state, x), alone(x), atol=1e-6, rtol=0)
    alone.train()
    meta.train()
    copied = sliced(shared, meta, copy_buffers=True)
    torch.testing.assert_close(forward(meta, copied, x), alone(x), atol=1e-6, rtol=0)
    for name, buf in alone.named_buffers():  # the train-mode update of the statistics too
        torch.testing.assert_close(copied[name], buf, atol=1e-6, rtol=0)


def test_gradients_reach_the_shared_weights(supernet: Supernet) -> None:
    point = POINTS[1]
    index = supernet.index(point)
    meta = meta_network(supernet.models.config(point))
    meta.train()
    out = forward(meta, sliced(supernet.shared(index), meta, copy_buffers=True),
                  torch.randn(4, 1, 8, 8))
    out.sum().backward()
    weight = supernet.shared(index)["stages.0.0.conv1.weight"]
    assert weight.grad is not None
    used = meta.get_parameter("stages.0.0.conv1.weight").shape
    assert weight.grad[: used[0], : used[1]].abs().sum() > 0
    assert weight.grad[used[0]:].abs().sum() == 0  # channels the candidate lacks: untouched
    supernet.zero_grad(set_to_none=True)


def test_scoring_leaves_the_supernet_unchanged(supernet: Supernet) -> None:
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    calibration = [torch.randn(16, 1, 8, 8) for _ in range(3)]
    val = [(torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))) for _ in range(2)]
    for point in POINTS:
        meta = meta_network(supernet.models.config(point))
        result = score(meta, supernet.shared(supernet.index(point)), calibration, val, 10)
        assert 0.0 <= result.metrics["val/acc"] <= 1.0 and result.metrics["val/loss"] > 0
    after = supernet.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k


def test_recalibration_gives_the_candidates_own_statistics(supernet: Supernet) -> None:
    from archforge.search.supernet.subnet import recalibrate

    point = POINTS[2]
    meta = meta_network(supernet.models.config(point))
    images = [torch.randn(8, 1, 8, 8) + 3.0 for _ in range(4)]
    state = recalibrate(meta, sliced(supernet.shared(supernet.index(point)), meta,
                                     copy_buffers=True), images)
    # the stem's BN has seen exactly the stem conv's outputs over all 32 images, averaged
    stem = meta_network(supernet.models.config(point))
    conv = nn.functional.conv2d(torch.cat(images), state["stem.conv.weight"], padding=1)
    torch.testing.assert_close(state["stem.bn.running_mean"], conv.mean((0, 2, 3)),
                               atol=1e-5, rtol=1e-5)
    assert int(state["stem.bn.num_batches_tracked"]) == 4
    assert stem.stem.bn.momentum == 0.1  # the module's own setting is restored


class _Frozen(nn.Module):
    """A block that declares its weights cannot be shared."""

    sliceable = False

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_a_block_that_is_not_sliceable_is_one_clear_error(tmp_path: Path) -> None:
    if "test_frozen_block" not in archforge.BLOCKS:
        archforge.BLOCKS.register("test_frozen_block")(_Frozen)
    text = TINY.read_text().split("space:")[0]
    search = tmp_path / "frozen.yaml"
    search.write_text(text + "space:\n  model.block: [basic, test_frozen_block]\n"
                      "  model.width: {type: float, low: 0.5, high: 1.0}\n")
    with pytest.raises(NotSliceableError, match=r"block 'test_frozen_block' at stages.0.0 is "
                       "not sliceable"):
        _supernet(tmp_path, search)


def test_a_tensor_that_is_not_a_slice_names_its_plugin(supernet: Supernet) -> None:
    point = POINTS[0]
    meta = meta_network(supernet.models.config(point))
    shared = dict(supernet.shared(supernet.index(point)))
    shared["stages.1.0.conv1.weight"] = torch.zeros(4, 4, 3, 3)
    with pytest.raises(NotSliceableError, match=r"block 'basic' \(.*BasicBlock\) at stages.1.0 "
                       r"is not sliceable: its tensor stages.1.0.conv1.weight"):
        sliced(shared, meta)
