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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from optuna.trial import TrialState
from search_helpers import assert_accounted, cli, load, tiny_args

from archforge.cli.search import search
from archforge.search.runtime import study as study_module
from archforge.search.strategy import training as training_module


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


@dataclass
class Server:
    """A throwaway PostgreSQL cluster: its documented URL, and a switch for outages."""

    url: str
    pg_ctl: Callable[..., None]

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        self.pg_ctl("-w", "start")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) on PATH or under "
                    "/usr/lib/postgresql/*/bin; run .ci/postgres.sh")
    pytest.importorskip("psycopg2")  # what the [postgres] extra installs
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

    def pg_ctl(*args: str) -> None:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "log"), *args)

    pg_ctl("-w", "start")
    try:
        # the URL docs/search.md gives, with the driver the [postgres] extra installs
        yield Server(f"postgresql://postgres@127.0.0.1:{port}/postgres", pg_ctl)
    finally:
        pg_ctl("-m", "fast", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.slow
def test_two_processes_join_one_study_in_postgres(root: Path, postgres: Server) -> None:
    postgres_url = postgres.url
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


def _fake_train(cfg: Any, *, callbacks: Any, run_dir: Path, **kwargs: Any) -> Any:
    return SimpleNamespace(metrics={"val/acc": 0.5, "val/loss": 1.0}, run_dir=run_dir)


@pytest.mark.slow
def test_a_database_outage_is_one_line_per_process_and_resumable(
        root: Path, postgres: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    args = tiny_args(root, "search.study_name=outage", "search.n_trials=2",
                     "search.n_workers=2", f"search.storage={postgres.url}",
                     "trainer.max_epochs=1000", "search.max_retries=2")
    proc = cli(["search", *args])
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:  # both workers training
        study_module._storages.clear()
        try:
            running = [t for t in load(root, "outage", postgres.url).get_trials()
                       if t.state == TrialState.RUNNING and "heartbeat" in t.user_attrs]
        except KeyError:  # the study is not created yet
            running = []
        if {t.user_attrs["worker"] for t in running} == {0, 1}:
            break
        time.sleep(0.3)
    study_module._storages.clear()
    postgres.stop()
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        postgres.start()
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "max length" not in out, out
    lines = [line for line in out.splitlines() if "the storage failed" in line]
    assert len(lines) == 2, out  # the search's process and its worker, one line each
    assert all("the study is intact and resumable" in line for line in lines)
    # the resume (training faked, to be quick) re-queues both running trials and finishes
    monkeypatch.setattr(training_module, "run_training", _fake_train)
    assert search([*args, "search.n_workers=1"]) == 0
    assert_accounted(load(root, "outage", postgres.url), 2)


def test_the_documented_url_uses_the_installed_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"psycopg2"}
    monkeypatch.setattr(study_module.importlib.util, "find_spec",
                        lambda name: object() if name in installed else None)
    assert study_module.driver_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert study_module.driver_url("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert study_module.driver_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert study_module.driver_url("sqlite:///x.db") == "sqlite:///x.db"
    installed.add("psycopg")  # psycopg 3 present: SQLAlchemy's own default is kept
    assert study_module.driver_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_another_applications_postgres_database_is_refused_untouched(
        root: Path, postgres: Server) -> None:
    import sqlalchemy

    from archforge.errors import ConfigError
    from archforge.search.runtime.study import driver_url

    admin = sqlalchemy.create_engine(driver_url(postgres.url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text("CREATE DATABASE app"))
    admin.dispose()
    url = postgres.url.rsplit("/", 1)[0] + "/app"
    app = sqlalchemy.create_engine(driver_url(url))
    with app.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE accounts (id serial PRIMARY KEY, name text)"))
        conn.execute(sqlalchemy.text("INSERT INTO accounts (name) VALUES ('ann')"))
    study_module._storages.clear()
    with pytest.raises(ConfigError) as info:
        search(tiny_args(root, "search.study_name=app", f"search.storage={url}"))
    assert info.value.path == "search.storage" and "accounts" in str(info.value)
    assert set(sqlalchemy.inspect(app).get_table_names()) == {"accounts"}  # no Optuna table
    app.dispose()
