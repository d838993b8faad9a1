"""Two `archforge search` processes join one study in a real PostgreSQL server on loopback.

The fixture starts a throwaway cluster in a temporary directory (initdb + pg_ctl) as an
unprivileged user (the server refuses to run as root) and stops it afterwards. CI installs
Debian's server package with .ci/postgres.sh; the test skips only when no PostgreSQL server
binaries exist at all.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from search_helpers import assert_accounted, cli, load, tiny_args


def _bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user() -> tuple[list[str], str | None]:
    """The command prefix that runs the server unprivileged, and that user's name."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "archforge-pg"):
        try:
            pwd.getpwnam(name)
            break
        except KeyError:
            continue
    else:
        subprocess.run(["useradd", "--system", "--no-create-home", "archforge-pg"], check=True)
        name = "archforge-pg"
    runuser = shutil.which("runuser")
    return ([runuser, "-u", name, "--"] if runuser else ["su", name, "-s", "/bin/sh", "-c"]), name


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on PATH or under "
                    "/usr/lib/postgresql/*/bin; run .ci/postgres.sh")
    prefix, user = _as_user()
    tmp = Path(tempfile.mkdtemp(prefix="archforge-pg-"))
    data = tmp / "data"
    if user is not None:
        shutil.chown(tmp, user=user)
    port = _free_port()

    def run(*cmd: str) -> None:
        full = [*prefix, *cmd] if prefix[:1] != ["su"] else [*prefix, " ".join(cmd)]
        subprocess.run(full, check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
        "--no-sync", "-E", "UTF8")
    opts = f"-p {port} -k {tmp} -h 127.0.0.1 -c fsync=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "log"), "-w",
        "start")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
def test_two_processes_join_one_study_in_postgres(root: Path, postgres_url: str) -> None:
    pytest.importorskip("psycopg2")
    # trials of ~2 s, so that both processes are up before the study is done
    args = ["search", *tiny_args(root, "search.n_trials=6", f"search.storage={postgres_url}",
                                 "trainer.max_epochs=8", "trainer.limit_train_batches=4")]
    procs = [cli(args), cli(args)]  # two separate commands: the second joins the first
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    study = load(root, storage=postgres_url)
    assert_accounted(study, 6, slack=1)
    assert len({t.user_attrs["worker_pid"] for t in study.trials}) == 2
    assert not (root / "tiny" / "journal.log").exists()
