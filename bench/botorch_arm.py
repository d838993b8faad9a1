"""`gp_discrete` with BoTorch in place of archforge's own Gaussian process (issue 30).

The same sampler (`archforge.search.strategy.discrete_gp.DiscreteGPSampler`): the same
random start, the same candidate set (every cell of a small space), the same handling of
repeats and of candidates other workers are training; only the model and the acquisition's
maximisation differ. Here they are BoTorch's (Balandat et al., "BoTorch", NeurIPS 2020):

- `MixedSingleTaskGP` (a `CategoricalKernel` on the categorical parameters, Matern-5/2 on
  the numeric ones; a homoskedastic noise learned by the marginal likelihood), fitted by
  `fit_gpytorch_mll` on one row per distinct candidate, its mean value (standardised);
- `LogExpectedImprovement` over the best measured mean (Ament et al., "Unexpected
  Improvements to Expected Improvement", NeurIPS 2023), maximised exactly over the free
  candidates by `optimize_acqf_discrete`.

BoTorch is not an archforge dependency, only of the `bench` extra:
`pip install -c constraints.txt -e .[bench]`, then
`python bench/bench_search_quality.py --samplers gp_discrete botorch_discrete`.
"""

from __future__ import annotations

from typing import Any

import torch

from archforge.search.strategy.discrete_gp import DiscreteGPSampler, Observed


class BoTorchDiscreteSampler(DiscreteGPSampler):
    def propose(self, observed: Observed, candidates: torch.Tensor, free: torch.Tensor) -> int:
        from botorch.acquisition import LogExpectedImprovement
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import MixedSingleTaskGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.optim import optimize_acqf_discrete
        from gpytorch.mlls import ExactMarginalLogLikelihood

        x = observed.points.to(torch.float64)
        y = observed.means.to(torch.float64).unsqueeze(-1)
        # Numeric codes are already scaled to [0, 1] (discrete_gp._Dim).
        model: Any
        if observed.layout.cat:
            model = MixedSingleTaskGP(x, y, cat_dims=observed.layout.cat,
                                      outcome_transform=Standardize(m=1))
        else:
            model = SingleTaskGP(x, y, outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acquisition = LogExpectedImprovement(model, best_f=y.max())
        choices = candidates[free].to(torch.float64)
        best, _ = optimize_acqf_discrete(acquisition, q=1, choices=choices, unique=True)
        return int(torch.nonzero((candidates == best[0]).all(1)).flatten()[0])
