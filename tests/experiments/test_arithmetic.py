"""The two arithmetic experiments: exact numbers, the files they write, their settings."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from markdown_tables import check_tables_render

from archforge.cli import main
from archforge.cli.experiment import run_experiment
from archforge.errors import ConfigError


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_bottleneck_1x1_numbers_and_files(tmp_path: Path) -> None:
    out = run_experiment("bottleneck_1x1", [f"run_dir={tmp_path}"])
    table = out.table("costs")
    rows = {r[1]: r for r in table.rows}
    naive = rows["naive: 1x1, 3x3, 5x5, max-pool"]
    reduced = rows["with 1x1 reductions (GoogLeNet)"]
    # 28*28*(192*64 + 192*128*9 + 192*32*25) and the reduced module of Table 1.
    assert naive[2:6] == ["416x28x28", 387_520, 303_464_448, 303_464_448]
    assert reduced[2:6] == ["256x28x28", 164_064, 128_049_152, 128_049_152]
    assert rows["20 1x1 filters (+bias)"][2:5] == ["20x64x64", 2_020, 64 * 64 * 100 * 20]
    assert rows["basic: 3x3, 3x3"][3:5] == [1_180_672, 2 * 256 * 256 * 9 * 56 * 56]
    assert rows["bottleneck: 1x1/64, 3x3, 1x1"][3:5] == [70_400, 218_365_952]
    assert rows["two 3x3 convs (v3 Fig. 5)"][4] * 25 == rows["5x5 conv"][4] * 18
    assert rows["1x7 then 7x1 (v3 Fig. 6)"][4] * 49 == rows["7x7 conv"][4] * 14
    assert all(r[4] == r[5] for r in table.rows)  # counter == closed form
    assert {p.name for p in tmp_path.iterdir()} == {
        "results.md", "results.csv", "bottleneck_1x1.png"
    }
    written = _csv(tmp_path / "results.csv")
    assert len(written) == 11 and written[1]["MACs"] == "128049152"
    assert (tmp_path / "bottleneck_1x1.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 1x1 conv, 64x64x100 | 20 1x1 filters (+bias) | 20x64x64 | 2,020 |" in (
        tmp_path / "results.md"
    ).read_text()
    assert check_tables_render(tmp_path / "results.md") == 1


def test_bottleneck_1x1_torchvision_kernel(tmp_path: Path) -> None:
    out = run_experiment("bottleneck_1x1", ["kernel_5x5=3", f"run_dir={tmp_path}"])
    naive = out.table("costs").rows[0]
    assert naive[4] == 28 * 28 * (192 * 64 + 192 * 128 * 9 + 192 * 32 * 9)


def test_separable_ratios_and_model_sizes(tmp_path: Path) -> None:
    out = run_experiment("separable", [
        "widths=[8,16]", "size=4", "repeats=1", "batch_size=1", f"run_dir={tmp_path}"
    ])
    convs = out.table("standard vs separable")
    assert convs.column("standard params") == [9 * 8 * 8, 9 * 16 * 16]
    assert convs.column("separable params") == [9 * 8 + 8 * 8, 9 * 16 + 16 * 16]
    assert convs.column("standard MACs") == [16 * 9 * 8 * 8, 16 * 9 * 16 * 16]
    assert convs.column("MAC ratio") == convs.column("1/N + 1/k^2") == [
        round(1 / 8 + 1 / 9, 4), round(1 / 16 + 1 / 9, 4)
    ]
    assert all(t > 0 for t in convs.column("standard ms") + convs.column("separable ms"))
    models = out.table("xception vs inception_v3")
    assert models.rows[0][2] == 22_855_952 and models.rows[1][2] == 23_834_568
    assert models.rows[2][2] == round(22_855_952 / 23_834_568, 4)
    assert {p.name for p in tmp_path.iterdir()} == {
        "results.md", "standard_vs_separable.csv", "xception_vs_inception_v3.csv",
        "separable.png",
    }
    assert len(_csv(tmp_path / "standard_vs_separable.csv")) == 2
    assert check_tables_render(tmp_path / "results.md") == 2


def test_list_names_every_experiment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "list"]) == 0
    printed = capsys.readouterr().out
    for name in ("bottleneck_1x1", "separable", "identity", "degradation", "transfer"):
        assert name in printed


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["separble"], "unknown experiment 'separble'; known: bottleneck_1x1, degradation"),
        (["separable", "widht=[8]"], "experiment.separable.widht: unknown key"),
        (["separable", "widths=[0]"], "experiment.separable.widths: got [0]"),
        (["separable", "repeats=many"], "experiment.separable.repeats: got 'many'"),
        (["bottleneck_1x1", "optim.lr=0.1"], "bottleneck_1x1 trains nothing"),
        (["bottleneck_1x1", "kernel_5x5"], "expected key=value"),
    ],
)
def test_user_errors_are_one_line(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["experiment", *args, f"run_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    with pytest.raises(ConfigError):
        run_experiment(args[0], [*args[1:], f"run_dir={tmp_path}"])


def test_an_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "results.md").write_text("an earlier run")
    with pytest.raises(ConfigError, match=r"run_dir: .* already exists and is not an empty"):
        run_experiment("bottleneck_1x1", [f"run_dir={tmp_path}"])
    assert (tmp_path / "results.md").read_text() == "an earlier run"
    blocked = tmp_path / "results.md" / "sub"
    with pytest.raises(ConfigError, match="run_dir: cannot create"):
        run_experiment("bottleneck_1x1", [f"run_dir={blocked}"])
