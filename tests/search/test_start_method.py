"""How worker children start: forked where that is safe (no thread pool or lock to break),
spawned anywhere else; a forked child opens its own storage connections."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from search_helpers import ROOT, assert_accounted, cli, load, tiny_args

from archforge.errors import ConfigError
from archforge.search.runtime.prepare import prepare
from archforge.search.runtime.study import fingerprint
from archforge.search.runtime.workers import start_method

LINUX = sys.platform.startswith("linux")


def _fresh(code: str) -> str:
    """Run `code` in a fresh interpreter (no thread pool started by other tests)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not LINUX, reason="fork is only chosen on Linux")
def test_fork_is_safe_until_a_pool_or_thread_starts() -> None:
    out = _fresh("""
        import threading
        import numpy, scipy.linalg, torch, lightning  # OpenBLAS pools: fork-safe
        from archforge.search.runtime.workers import fork_is_safe, start_method
        print(fork_is_safe(), start_method("auto"), start_method("spawn"))
        t = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
        t.start()
        print(fork_is_safe(), start_method("auto"))  # a Python thread may hold a lock
    """)
    assert out.splitlines() == ["True fork spawn", "False spawn"]
    out = _fresh("""
        import torch
        from archforge.search.runtime.workers import fork_is_safe
        torch.set_num_threads(2)
        x = torch.randn(512, 512)
        (x @ x).sum()  # starts torch's OpenMP pool, which a fork would break
        print(fork_is_safe())
    """)
    assert out == "False"


def test_start_method_is_checked_and_does_not_change_the_study(root: Path) -> None:
    args = tiny_args(root)
    with pytest.raises(ConfigError, match=r"search\.start_method.*did you mean 'fork'"):
        prepare([*args, "search.start_method=forx"])
    assert start_method("spawn") == "spawn" and start_method("fork") == "fork"
    a, b = prepare(args), prepare([*args, "search.start_method=spawn"])
    assert b.settings.start_method == "spawn"
    assert (fingerprint(a.base, a.space.spec(), a.settings)
            == fingerprint(b.base, b.space.spec(), b.settings))


@pytest.mark.skipif(not LINUX, reason="fork is only chosen on Linux")
def test_a_forked_child_opens_its_own_storage(tmp_path: Path) -> None:
    out = _fresh(f"""
        import os
        from archforge.search.runtime import study
        journal = study.open_storage({str(tmp_path / "j.log")!r})
        db = study.open_storage({f"sqlite:///{tmp_path / 'db.sqlite'}"!r})
        pid = os.fork()
        if pid == 0:  # the child: nothing cached, and its own objects on a new open
            fresh = study.open_storage({str(tmp_path / "j.log")!r})
            os._exit(0 if fresh is not journal and len(study._storages) == 1 else 1)
        _, status = os.waitpid(pid, 0)
        db.engine.connect().close()  # the parent's pool still works after the child left
        print(os.waitstatus_to_exitcode(status), len(study._storages))
    """)
    assert out == "0 2"


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="fork is only chosen on Linux")
def test_forked_workers_share_a_database(root: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    proc = cli(["search", *tiny_args(root, "search.n_workers=2", "search.n_trials=4",
                                     f"search.storage={url}")])
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    assert "2 worker(s) x 1 threads (children forked)" in out
    study = load(root, storage=url)
    assert_accounted(study, 4, slack=1)
    pids = {t.user_attrs["worker"]: t.user_attrs["worker_pid"] for t in study.trials}
    assert pids[0] == proc.pid and pids[1] != proc.pid  # the child took trials too
