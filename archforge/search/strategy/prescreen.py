"""Proxy pre-screening: warm-start a search with the candidates a zero-cost proxy likes best.

`search.prescreen: {samples: 100, top: 10, proxy: synflow}`: before the first trial of a new
study, `samples` candidates are drawn at random from the space, each is built (real weights,
PyTorch's default initialisation, seed 0) and scored with the proxy at initialisation, and
the `top` best are enqueued as the study's first trials. The evaluator - training or the
table - then spends its budget on them first, and the sampler learns from their results like
from any other trial. Only a fresh study is pre-screened; a resumed one is left as it is.
Candidates that do not build score lowest. Proxies and their papers: archforge/search/proxies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import optuna

from archforge.search.space.search_space import SearchSpace

Params = dict[str, Any]


def random_candidates(space: SearchSpace, samples: int, seed: int | None) -> list[Params]:
    """`samples` candidates drawn at random from the space (Optuna's parameter names)."""
    pool = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(samples):
        trial = pool.ask()
        space.sample(trial)
        out.append(dict(trial.params))
        pool.tell(trial, 0.0)
    return out


def enqueue_best(study: optuna.Study, candidates: Sequence[Params],
                 scores: Sequence[float], top: int) -> list[Params]:
    """Enqueue the `top` highest-scoring distinct candidates, best first; return them."""
    order = sorted(range(len(candidates)),
                   key=lambda i: -scores[i] if math.isfinite(scores[i]) else math.inf)
    chosen: list[Params] = []
    for i in order:
        if len(chosen) == top:
            break
        if candidates[i] not in chosen:
            chosen.append(candidates[i])
    for params in chosen:
        study.enqueue_trial(params, user_attrs={"prescreened": True})
    return chosen


def prescreen(study: optuna.Study, space: SearchSpace, samples: int, top: int,
              score: Callable[[Params], float], seed: int | None) -> list[Params]:
    """Score `samples` random candidates and enqueue the `top` best into `study`."""
    candidates = random_candidates(space, samples, seed)
    return enqueue_best(study, candidates, [score(c) for c in candidates], top)


def proxy_scorer(base_overrides: Sequence[str], space: SearchSpace, proxy: str,
                 data: dict[str, Any] | None, batch_size: int) -> Callable[[Params], float]:
    """Score a candidate's network at initialisation with `proxy` (search.prescreen.proxy):
    composed and built like a trial's; a candidate that does not build scores -inf. The
    data-dependent proxies read one batch of the search's data (`data`), the others only
    its shape."""
    import torch

    from archforge.config.run import parse_model_untraced
    from archforge.model.builder import build_network
    from archforge.model.check import RUN_ERRORS
    from archforge.search.proxies import DATA_FREE, PROXIES
    from archforge.search.proxies.base import disposable
    from archforge.search.proxies.batch import data_batch, random_batch
    from archforge.search.space.search_space import trial_config
    from archforge.search.trial.outcome import INVALID

    fn = PROXIES.get(proxy, "search.prescreen.proxy")
    batches: dict[str, Any] = {}

    def score(params: Params) -> float:
        # FixedTrial answers each suggestion with the given value, as the trial will
        _, overrides = space.sample(cast(optuna.Trial, optuna.trial.FixedTrial(params)))
        try:
            # not traced on the meta device: the proxy runs the real network at once, and an
            # error there (RUN_ERRORS) rejects the candidate as the trace would; the trial
            # itself is checked in full
            model = parse_model_untraced(trial_config(base_overrides, overrides))
            if "batch" not in batches:
                batches["batch"] = (random_batch(model, batch_size) if proxy in DATA_FREE
                                    or data is None else data_batch(data, batch_size))
            torch.manual_seed(0)
            return float(fn(disposable(build_network(model)), batches["batch"]))
        except (*INVALID, *RUN_ERRORS):
            return -math.inf

    return score
