"""The study runtime: preparing a worker, the study storage and its journal repair, the
worker processes, stop signals, and the one module that touches Optuna's private API."""
