"""The bench scripts stay runnable: each one imports (a renamed archforge function would
otherwise only show when somebody measures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


def test_every_bench_script_imports() -> None:
    assert len(SCRIPTS) >= 8
    code = ("import importlib.util, pathlib, sys\n"
            "for path in sys.argv[1:]:\n"
            "    name = 'bench_script_' + pathlib.Path(path).stem\n"
            "    spec = importlib.util.spec_from_file_location(name, path)\n"
            "    module = sys.modules[name] = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(module)\n")
    out = subprocess.run([sys.executable, "-c", code, *map(str, SCRIPTS)], cwd=ROOT / "bench",
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def test_bench_supernet_quick_measures_on_the_tiny_space() -> None:
    """`bench/bench_supernet.py --quick`: the whole measurement on 3 tiny candidates."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_supernet", ROOT / "bench" /
                                                  "bench_supernet.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quick"])
    assert result["candidates"] == 3 and len(result["pairs"]) == 3
    assert -1.0 <= result["spearman"] <= 1.0 and -1.0 <= result["kendall_tau"] <= 1.0
    assert result["supernet_train_s"] > 0 and result["score_s_median"] > 0
    assert result["break_even_trials"] == result["supernet_train_s"] / result["trial_s_mean"]
    for pair in result["pairs"]:
        assert 0.0 <= pair["supernet"] <= 1.0 and 0.0 <= pair["alone"] <= 1.0


def test_bench_gpu_tiny_form_reports_its_figures(tmp_path: Path) -> None:
    """`bench/bench_gpu.py --tiny`: sections 1-3 at toy sizes on the CPU (no search)."""
    import json
    import os

    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, "bench/bench_gpu.py", "--tiny", "--device", "cpu",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    for where in ("host", "resident"):
        row = report["steps"][where]
        assert row["lightning_img_s"] > 0 and row["plain_img_s"] > 0
    assert report["small"]["eager_ms"] > 0 and report["small"]["graphed_ms"] is None
    assert "graphed: not built" in proc.stdout
    ends = report["epoch_end"]
    assert list(ends) == ["last_every_n_epochs=1", "last_every_n_epochs=5 (default)"]
    assert all(len(r["epoch_end_s"]) == 1 and r["share_of_epoch_steps"] > 0
               for r in ends.values())  # 2 epochs: one epoch end between them
    assert "workers" not in report  # the tiny form starts no search
