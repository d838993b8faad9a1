"""A third-party package registers a block through entry points, with no change to archforge.

The test writes a real distribution (package + .dist-info with METADATA and
entry_points.txt) to a temporary folder and runs a fresh interpreter with it on the path,
exactly as `pip install` would leave it in site-packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SE_BLOCK = '''
"""A squeeze-and-excitation residual block (Hu et al. 2018), as a user would ship it."""
import torch
from torch import nn

import archforge


@archforge.BLOCKS.register("se_basic")
class SEBasic(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "projection", reduction: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            archforge.ConvNormAct(in_channels, out_channels, 3, stride),
            archforge.ConvNormAct(out_channels, out_channels, 3, act="none"),
        )
        hidden = max(1, out_channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(out_channels, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, out_channels, 1), nn.Sigmoid(),
        )
        self.shortcut = archforge.make_shortcut(shortcut, in_channels, out_channels, stride)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return torch.relu(y * self.gate(y) + self.shortcut(x))
'''

MODEL = """
name: se_net
num_classes: 5
in_channels: 3
input_size: 16
block: se_basic
shortcut: projection
block_options: {reduction: 2}
stem: {type: cifar, out_channels: 8}
stages:
  - {depth: 1, out_channels: 8}
  - {depth: 2, out_channels: 16, stride: 2}
head: {type: classifier}
"""

SCRIPT = """
import sys, torch, archforge
net = archforge.build(sys.argv[1])
print("params", sum(p.numel() for p in net.parameters()))
print("out", tuple(net(torch.randn(2, 3, 16, 16)).shape))
print("dist", archforge.load_plugins()["se_plugin.blocks"])
"""


def make_distribution(root: Path, body: str) -> None:
    pkg = root / "se_plugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "blocks.py").write_text(body)
    info = root / "se_plugin-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: se-plugin\nVersion: 0.1.0\nRequires-Dist: archforge\n"
    )
    (info / "entry_points.txt").write_text("[archforge.plugins]\nse = se_plugin.blocks\n")
    (info / "RECORD").write_text("")


def run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=root, check=False
    )


def test_entry_point_block_is_usable_from_yaml(tmp_path: Path) -> None:
    make_distribution(tmp_path / "site", SE_BLOCK)
    (tmp_path / "se_net.yaml").write_text(MODEL)
    proc = run(tmp_path / "site", "-c", SCRIPT, str(tmp_path / "se_net.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "out (2, 5)" in proc.stdout
    assert "dist se-plugin" in proc.stdout

    blocks = run(tmp_path / "site", "-m", "archforge.cli", "blocks", "se_basic")
    assert blocks.returncode == 0, blocks.stderr
    assert "se_basic" in blocks.stdout and "reduction" in blocks.stdout


def test_broken_plugin_names_its_distribution(tmp_path: Path) -> None:
    make_distribution(tmp_path / "site", "raise RuntimeError('boom')\n")
    proc = run(tmp_path / "site", "-c", "import archforge; archforge.build('resnet20')")
    assert proc.returncode != 0
    assert "se_plugin.blocks" in proc.stderr and "se-plugin" in proc.stderr
    assert "boom" in proc.stderr


def test_plugin_reusing_a_builtin_name_is_refused(tmp_path: Path) -> None:
    body = SE_BLOCK.replace('register("se_basic")', 'register("bottleneck")')
    make_distribution(tmp_path / "site", textwrap.dedent(body))
    proc = run(tmp_path / "site", "-c", "import archforge; archforge.build('resnet20')")
    assert proc.returncode != 0
    expected = "'bottleneck' is already registered by archforge_plugins.resnet.Bottleneck"
    assert expected in proc.stderr
