"""Search strategies: how a candidate is proposed (samplers.py: Optuna's samplers and
archforge's regularised evolution) and how it is evaluated (evaluator.py: training, the
NAS-Bench-201 table, the supernet). Importing this package registers the built-in
evaluators."""

from archforge.search.strategy import table, training
from archforge.search.strategy.evaluator import EVALUATORS, Evaluator, make_evaluator
from archforge.search.supernet import evaluator as supernet

__all__ = ["EVALUATORS", "Evaluator", "make_evaluator", "supernet", "table", "training"]
