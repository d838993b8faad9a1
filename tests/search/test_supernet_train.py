"""Supernet training: resumable after a kill (the same final weights as an uninterrupted
run), trained once per study, and a whole `archforge search` with
`search.evaluator=supernet` that exports a winner `best_run.yaml` retrains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from optuna.trial import TrialState
from search_helpers import HERE, load

from archforge.cli.search import search
from archforge.search.runtime.prepare import prepare
from archforge.search.supernet import store
from archforge.search.supernet.engine import Engine
from archforge.search.supernet.evaluator import SupernetEvaluator

TINY = HERE / "supernet_tiny.yaml"


class _Killed(Exception):
    pass


def _engine(root: Path) -> Engine:
    prep = prepare([f"search={TINY}", f"search.root={root}", "search.progress=false",
                    "search.supernet.epochs=3"])
    assert isinstance(prep.evaluator, SupernetEvaluator)
    return prep.evaluator.make_engine()


def test_a_killed_supernet_training_resumes_to_the_same_weights(tmp_path: Path) -> None:
    whole = _engine(tmp_path / "a").ready()
    expected = {k: v.clone() for k, v in whole.supernet.state_dict().items()}

    def kill(done: int) -> None:
        if done == 1:
            raise _Killed

    with pytest.raises(_Killed):
        _engine(tmp_path / "b").ready(after_epoch=kill)
    path = tmp_path / "b" / "supernet_tiny" / store.FILE
    partial = torch.load(path, weights_only=True)
    assert partial["trainer"]["epoch"] == 1 and not partial["complete"]

    seen: list[int] = []
    resumed = _engine(tmp_path / "b").ready(after_epoch=seen.append)
    assert seen == [2, 3]  # continued from epoch 1, not from the start
    got = resumed.supernet.state_dict()
    changed = [k for k, v in expected.items() if not torch.equal(v, got[k])]
    assert changed == []
    # the first epoch moved the weights: the comparison above is not between two inits
    init = _engine(tmp_path / "c").supernet.state_dict()
    assert any(not torch.equal(init[k], v) for k, v in expected.items())

    # trained once: a later run (another worker, a resumed search) only loads it
    again: list[int] = []
    loaded = _engine(tmp_path / "b").ready(after_epoch=again.append)
    assert again == []
    assert all(torch.equal(v, loaded.supernet.state_dict()[k]) for k, v in got.items())


def test_a_checkpoint_of_another_supernet_is_refused(tmp_path: Path) -> None:
    _engine(tmp_path).ready()
    prep = prepare([f"search={TINY}", f"search.root={tmp_path}", "search.progress=false",
                    "search.supernet.epochs=3", "search.supernet.sandwich_random=0"])
    assert isinstance(prep.evaluator, SupernetEvaluator)
    with pytest.raises(ValueError, match=r"supernet.pt was trained for another space"):
        prep.evaluator.make_engine().ready()


def test_a_supernet_search_exports_a_winner_that_retrains(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    assert search([f"search={TINY}", f"search.root={root}", "search.progress=false"]) == 0
    study = load(root, "supernet_tiny")
    trials = study.get_trials()
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        assert 0.0 <= t.values[0] <= 1.0
        assert t.values[0] == t.user_attrs["metrics"]["val/acc"]
        assert t.user_attrs["supernet_branch"].startswith(
            f"model.block={t.params['model.block']}")
    assert torch.load(root / "supernet_tiny" / store.FILE, weights_only=True)["complete"]

    # stage 2: the two best by supernet score, trained alone with the training evaluator
    journal = str(root / "supernet_tiny" / "journal.log")
    stage2 = load(root, "supernet_tiny.stage2", storage=journal)
    top = sorted(trials, key=lambda t: (-t.values[0], t.number))[:2]
    done = stage2.get_trials()
    assert [t.user_attrs["stage1_trial"] for t in done] == [t.number for t in top]
    for t, source in zip(done, top, strict=True):
        assert t.state == TrialState.COMPLETE and t.params == source.params
        assert t.user_attrs["epochs"] == 2  # trained at the space's budget
        assert t.user_attrs["supernet_score"] == source.values
    winner = max(done, key=lambda t: t.values[0])
    cfg = OmegaConf.load(root / "supernet_tiny" / "best_run.yaml")
    assert "search" not in cfg  # retrained by `archforge train`, as any search's winner
    assert OmegaConf.to_container(cfg.model) == {**winner.user_attrs["model_config"],
                                                 "name": cfg.model.name}

    from archforge.training.fit import train

    result = train(cfg, run_dir=root / "retrain", progress=False, checkpoints=False)
    assert result.metrics["val/acc"] == winner.values[0]  # the same run, retrained

    # a resumed search trains nothing again
    assert search([f"search={TINY}", f"search.root={root}", "search.progress=false"]) == 0
    assert len(load(root, "supernet_tiny.stage2", storage=journal).get_trials()) == 2


def test_workers_share_one_training(tmp_path: Path) -> None:
    """Two workers at once: one trains under the lock, the other waits and loads."""
    import threading
    import time

    calls: list[str] = []

    def train(partial: dict | None) -> dict:
        calls.append(threading.current_thread().name)
        time.sleep(0.3)  # the other worker arrives meanwhile
        state = {"describe": "d", "complete": True, "trainer": {"epoch": 1}}
        store.save(tmp_path / store.FILE, state)
        return state

    got: list[dict] = []
    threads = [threading.Thread(target=lambda: got.append(store.trained_once(
        tmp_path, "d", train)), name=f"w{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 2
    assert all(g["complete"] and g["trainer"] == {"epoch": 1} for g in got)


@pytest.mark.parametrize(("override", "key"), [
    ("search.supernet.epochs=0", "search.supernet.epochs"),
    ("search.supernet.calib_batch=1", "search.supernet.calib_batch"),
    ("search.supernet.top_k=-1", "search.supernet.top_k"),
    ("++search.space.optim.lr=[0.1,0.2]", "search.space.optim.lr"),
])
def test_settings_the_supernet_cannot_use_name_their_key(tmp_path: Path, override: str,
                                                         key: str) -> None:
    with pytest.raises(ValueError, match=rf"^{key.replace('.', '[.]')}: "):
        prepare([f"search={TINY}", f"search.root={tmp_path}", override])
