"""archforge's default storage is readable by optuna-dashboard (through its WSGI app, no
server or network): the study and its trials come back as stored."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

from archforge.search.runtime.study import open_storage

optuna_dashboard = pytest.importorskip("optuna_dashboard")


def get(app: Any, path: str) -> Any:
    status: list[str] = []

    def start(line: str, headers: list, exc_info: object = None) -> None:
        status.append(line)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http",
               "wsgi.errors": sys.stderr}
    body = b"".join(app(environ, start))
    assert status == ["200 OK"], body[:500]
    return json.loads(body)


def test_dashboard_reads_the_journal_storage(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "study" / "journal.log"))
    study = optuna.create_study(study_name="arch", storage=storage, direction="maximize")
    study.optimize(lambda t: t.suggest_float("width", 0.5, 2.0), n_trials=3)
    pruned = study.ask()
    pruned.report(0.1, 1)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)

    app = optuna_dashboard.wsgi(open_storage(str(tmp_path / "study" / "journal.log")))
    (summary,) = get(app, "/api/studies")["study_summaries"]
    assert summary["study_name"] == "arch"
    trials = get(app, f"/api/studies/{summary['study_id']}")["trials"]
    assert [t["state"] for t in trials] == ["Complete", "Complete", "Complete", "Pruned"]
