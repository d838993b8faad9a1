"""The reproducers of issue #26 item 1: a search file could run code, change the
environment of the search and its workers, and copy an environment variable into
best_run.yaml. Each is now refused before anything is imported, started or written, by
`archforge search` and by the Hydra sweeper alike (one rule: archforge/config/search_file.py).

All cases run in one child process (archforge's CLI in-process, one case after another, so
the imports are paid once): it reports per case the exit status, stderr, the watched
modules that were imported and the environment variables that changed. The markers are
files a successful attack would create.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from search_helpers import TINY

SCRIPT = r"""
import contextlib, io, json, os, sys
from archforge.cli import main

cases = json.loads(open(sys.argv[1]).read())
for args in cases.pop("_warm_up")["args"]:  # imports set variables of their own (torch's)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        main(args)
out = {}
for name, case in cases.items():
    before_env, before_mods = dict(os.environ), set(sys.modules)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(case["args"])
        except SystemExit as exc:
            rc = exc.code
    env = sorted(k for k in set(before_env) | set(os.environ)
                 if before_env.get(k) != os.environ.get(k))
    mods = sorted(m for m in set(sys.modules) - before_mods
                  if m.split(".")[0] in case["watch"])
    out[name] = {"rc": rc, "err": err.getvalue(), "modules": mods, "env": env}
print(json.dumps(out))
"""

SECRET = "s3cret-4f1a"  # ARCHFORGE_TEST_SECRET in the child: must never reach a file


def _evil(folder: Path, name: str, overrides: list[str], replace: dict[str, str]) -> tuple[
        Path, int]:
    """tests/search/tiny.yaml with `overrides` added after `data=digits` and lines
    replaced; (the file, the line of the first added override)."""
    lines = TINY.read_text().splitlines()
    for old, new in replace.items():
        lines = [new if line == old else line for line in lines]
    lines = "\n".join(lines).splitlines()
    at = lines.index("  - data=digits") + 1
    lines[at:at] = [f"  - {json.dumps(o)}" for o in overrides]  # JSON strings are YAML
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, at + 1


def _cases(tmp: Path) -> dict[str, dict[str, Any]]:
    marker = tmp / "MARKER"
    site = tmp / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    sampler = "sampler: random"
    specs: dict[str, tuple[list[str], dict[str, str], list[str]]] = {
        # (overrides added, lines replaced, modules that must not be imported)
        "antigravity": (["search.allowed_targets=[antigravity]",
                         "+hydra.job.env_set.BROWSER=" + f"\"sh -c 'touch {marker}' %s\""],
                        {sampler: "sampler: {_target_: antigravity.fly}"},
                        ["antigravity", "webbrowser"]),
        "this": (["search.allowed_targets=[this]"], {sampler: "sampler: {_target_: this.s}"},
                 ["this"]),
        "venv": (["search.allowed_targets=[venv]"],
                 {sampler: "sampler: {_target_: venv.__main__.main}"}, ["venv"]),
        "posix_from_env": (["+hydra.job.env_set.ARCHFORGE_ALLOWED_TARGETS=posix"],
                           {sampler: f"sampler: {{_target_: posix.system, command: "
                                     f"'touch {marker}'}}"}, ["posix"]),
        "pythonpath_spawn": ([f"+hydra.job.env_set.PYTHONPATH={site}"],
                             {"n_trials: 3": "n_trials: 2\nn_workers: 2\nstart_method: spawn"},
                             ["sitecustomize"]),
        "ld_preload": ([f"+hydra.job.env_set.LD_PRELOAD={tmp / 'x.so'}"], {}, []),
    }
    cases: dict[str, dict[str, Any]] = {}
    root = tmp / "runs"
    for name, (overrides, replace, watch) in specs.items():
        path, line = _evil(tmp, name, overrides, replace)
        expected = {"file": str(path), "line": line, "item": overrides[0]}
        cases[name] = {"args": ["search", f"search={path}", f"search.root={root}",
                                "search.progress=false"], "watch": watch, **expected}
        if name in ("antigravity", "posix_from_env", "pythonpath_spawn"):  # the sweeper too
            cases[f"sweeper_{name}"] = {
                "args": ["train", "-m", "hydra/sweeper=archforge", f"search={path}",
                         f"search.root={root}", f"hydra.sweep.dir={tmp / 'multirun'}"],
                "watch": watch, **expected}
    # ${oc.env:...} in the overrides, and nested in a value elsewhere in the file
    for name, replace in {
        "oc_env_override": {"  - trainer.max_epochs=2":
                            "  - trainer.max_epochs=2\n  - model.name=${oc.env:"
                            "ARCHFORGE_TEST_SECRET}"},
        "oc_env_value": {"seed: 0": "seed: ${oc.decode:${oc.env:ARCHFORGE_TEST_SEED}}"},
    }.items():
        path, _ = _evil(tmp, name, [], replace)
        line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                    if "oc.env" in text)
        cases[name] = {"args": ["search", f"search={path}", f"search.root={root}"],
                       "watch": [], "file": str(path), "line": line, "item": None}
    return cases


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any],
                                                                    dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("evil")
    cases = _cases(tmp)
    manifest = tmp / "cases.json"
    warm_up = [["search", f"search={TINY}", "search.n_trials=0"],
               ["train", "-m", "hydra/sweeper=archforge", f"search={TINY}", "search.n_trials=0",
                f"hydra.sweep.dir={tmp / 'warm'}"]]
    manifest.write_text(json.dumps({**cases, "_warm_up": {"args": warm_up}}))
    env = dict(os.environ, OMP_NUM_THREADS="1", ARCHFORGE_TEST_SECRET=SECRET,
               ARCHFORGE_TEST_SEED="3")
    env.pop("ARCHFORGE_ALLOWED_TARGETS", None)
    env["XDG_CONFIG_HOME"] = str(tmp / "config")  # no user allow-list file
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(manifest)], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, cases, json.loads(proc.stdout.strip().splitlines()[-1])


CASES = ["antigravity", "this", "venv", "posix_from_env", "pythonpath_spawn", "ld_preload",
         "sweeper_antigravity", "sweeper_posix_from_env", "sweeper_pythonpath_spawn",
         "oc_env_override", "oc_env_value"]


@pytest.mark.parametrize("name", CASES)
def test_a_search_file_cannot_run_code_or_change_the_environment(
        outcomes: tuple[Path, dict[str, Any], dict[str, Any]], name: str) -> None:
    tmp, cases, results = outcomes
    case, got = cases[name], results[name]
    assert got["rc"] == 2, got["err"]
    lines = [line for line in got["err"].splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ConfigError: "), got["err"]
    assert f"{case['file']}, line {case['line']}" in lines[0]  # the file and the line
    if case["item"] is not None:
        assert f"overrides item {case['item']!r}" in lines[0]
    assert got["modules"] == [], got["modules"]  # never imported
    assert got["env"] == [], got["env"]  # the environment unchanged
    assert not (tmp / "MARKER").exists()
    assert "Beautiful is better than ugly" not in got["err"]
    assert not list(tmp.rglob("pyvenv.cfg"))  # no virtual environment created
    assert not list(tmp.rglob("best_run.yaml"))
    assert SECRET not in got["err"]
    for path in tmp.rglob("*"):  # the secret reached no file the search wrote
        if path.is_file() and path.suffix in (".yaml", ".log", ".json"):
            assert SECRET not in path.read_text(errors="replace"), path
