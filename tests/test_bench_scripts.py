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
