"""A Gaussian-process surrogate for mixed categorical / numeric points, and log expected
improvement - the model behind the `gp_discrete` sampler (discrete_gp.py).

A point is a row of codes: a categorical dimension holds the index of its choice, a numeric
one its value scaled to [0, 1] (log-scaled where the parameter is). The kernel is

    k(x, x') = s2 * exp(-(sum_cat w_d [x_d != x'_d] + sum_num w_d (x_d - x'_d)^2)),

the product of an exponentiated Hamming kernel over the categorical dimensions (as in the
COMBO and CoCaBO categorical BO papers) and a squared-exponential one over the numeric ones,
with one weight (inverse lengthscale) per dimension. Both parts are positive definite, so is
their product. Distances are computed with matrix products over one-hot codes, so scoring
every cell of a 15,625-cell space against a few hundred observations takes milliseconds.

Observations of the same point (a candidate trained again with another seed) are merged
into their mean with noise variance noise / runs; the marginal likelihood keeps the exact
terms of the merged runs' spread, so merging changes no fitted value, only the cost.
Hyperparameters (weights, signal variance, noise variance) are the maximum a posteriori
values under log-normal priors, fitted with L-BFGS on standardised targets.

Log expected improvement (Jones et al. 1998; computed stably as in Ament et al., NeurIPS
2023, "Unexpected Improvements to Expected Improvement") is taken against the best single
value measured (`ei`), against the best posterior mean among the observed points (`ei_mean`,
the plug-in incumbent for noisy observations), or as augmented EI (`aei`, Huang et al.
2006), discounted where a point's value is already known (ACQUISITIONS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_DTYPE = torch.float64
_LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class Layout:
    """Which columns of a code row are categorical, and each one's number of choices."""

    sizes: tuple[int | None, ...]  # choices per dimension; None for a numeric one

    @property
    def cat(self) -> list[int]:
        return [i for i, s in enumerate(self.sizes) if s is not None]

    @property
    def num(self) -> list[int]:
        return [i for i, s in enumerate(self.sizes) if s is None]


class Encoded:
    """Points as one-hot categorical blocks plus numeric columns, ready for distances."""

    def __init__(self, codes: torch.Tensor, layout: Layout) -> None:
        self.layout = layout
        cat = layout.cat
        blocks = [torch.nn.functional.one_hot(codes[:, i].long(), int(layout.sizes[i] or 0))
                  for i in cat]
        self.onehot = (torch.cat(blocks, 1).to(_DTYPE) if blocks
                       else torch.zeros(len(codes), 0, dtype=_DTYPE))
        self.num = codes[:, layout.num].to(_DTYPE)

    def __len__(self) -> int:
        return len(self.onehot)

    def rows(self, index: torch.Tensor) -> Encoded:
        out = Encoded.__new__(Encoded)
        out.layout, out.onehot, out.num = self.layout, self.onehot[index], self.num[index]
        return out


def distances(a: Encoded, b: Encoded, weights: torch.Tensor) -> torch.Tensor:
    """The weighted distance matrix (len(a), len(b)) of the kernel's exponent."""
    layout = a.layout
    w_cat, w_num = weights[layout.cat], weights[layout.num]
    out = torch.zeros(len(a), len(b), dtype=_DTYPE)
    if layout.cat:
        repeats = torch.tensor([int(layout.sizes[i] or 0) for i in layout.cat])
        per_column = w_cat.repeat_interleave(repeats)
        out = out + (w_cat.sum() - (a.onehot * per_column) @ b.onehot.T)
    if layout.num:
        out = out + ((a.num ** 2) @ w_num)[:, None] + ((b.num ** 2) @ w_num)[None, :] \
            - 2 * (a.num * w_num) @ b.num.T
    return out.clamp_min(0.0)


@dataclass
class Hyper:
    """Log hyperparameters: per-dimension weights, signal variance, noise variance."""

    log_w: torch.Tensor
    log_signal: torch.Tensor
    log_noise: torch.Tensor

    @classmethod
    def initial(cls, dims: int) -> Hyper:
        return cls(torch.full((dims,), math.log(0.5), dtype=_DTYPE),
                   torch.zeros((), dtype=_DTYPE), torch.tensor(math.log(0.01), dtype=_DTYPE))

    def vector(self) -> torch.Tensor:
        return torch.cat([self.log_w, self.log_signal[None], self.log_noise[None]])

    @classmethod
    def from_vector(cls, v: torch.Tensor) -> Hyper:
        return cls(v[:-2], v[-2], v[-1])


_NOISE_FLOOR = 1e-6


def _noise(h: Hyper) -> torch.Tensor:
    return h.log_noise.exp() + _NOISE_FLOOR


def _train_cholesky(h: Hyper, x: Encoded, runs: torch.Tensor) -> torch.Tensor:
    """Cholesky factor of the observations' covariance: kernel plus noise / runs."""
    k = h.log_signal.exp() * torch.exp(-distances(x, x, h.log_w.exp()))
    return torch.linalg.cholesky(k + torch.diag(_noise(h) / runs))  # the floor keeps it PD


def _neg_log_posterior(v: torch.Tensor, x: Encoded, y: torch.Tensor, runs: torch.Tensor,
                       spread: torch.Tensor) -> torch.Tensor:
    h = Hyper.from_vector(v)
    noise = _noise(h)
    chol = _train_cholesky(h, x, runs)
    alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
    nll = 0.5 * (y @ alpha) + torch.log(torch.diagonal(chol)).sum()
    nll = nll + 0.5 * ((runs - 1).sum() * torch.log(noise) + spread.sum() / noise)
    # log-normal priors (standardised targets): weights around 0.5, signal around 1,
    # noise around 0.01 of the targets' variance, each wide
    prior = (((h.log_w - math.log(0.5)) / 1.5) ** 2).sum() + h.log_signal ** 2 \
        + ((h.log_noise - math.log(0.01)) / 2.0) ** 2
    return nll + 0.5 * prior


class GaussianProcess:
    """Fitted to observations (codes, values, runs per point, within-point sum of squares)."""

    def __init__(self, x: Encoded, values: torch.Tensor, runs: torch.Tensor,
                 spread: torch.Tensor, start: Hyper | None = None,
                 best: float | None = None) -> None:
        """`values`: the mean of each point's runs; `best`: the best single run (default:
        the best mean)."""
        self.x = x
        self.runs = runs.to(_DTYPE)
        y = values.to(_DTYPE)
        # standardise by the observations' own mean and spread (merged points weighted by runs)
        total = self.runs.sum()
        self.mean = float((y * self.runs).sum() / total)
        var = float(((self.runs * (y - self.mean) ** 2).sum() + spread.sum()) / total)
        self.scale = math.sqrt(var) if var > 1e-18 else 1.0
        self.y = (y - self.mean) / self.scale
        self.best = ((best if best is not None else float(y.max())) - self.mean) / self.scale
        self.spread = spread.to(_DTYPE) / self.scale ** 2
        self.hyper = self._fit(start or Hyper.initial(len(x.layout.sizes)))
        self._factor()

    def _fit(self, start: Hyper) -> Hyper:
        best = start.vector().clone()
        for first in (start.vector(), Hyper.initial(len(self.x.layout.sizes)).vector()):
            v = first.clone().requires_grad_(True)
            opt = torch.optim.LBFGS([v], max_iter=60, line_search_fn="strong_wolfe")

            def closure(v: torch.Tensor = v, opt: torch.optim.LBFGS = opt) -> torch.Tensor:
                opt.zero_grad()
                loss = _neg_log_posterior(v, self.x, self.y, self.runs, self.spread)
                loss.backward()
                return loss

            try:
                opt.step(closure)
                with torch.no_grad():
                    loss = float(_neg_log_posterior(v, self.x, self.y, self.runs, self.spread))
            except RuntimeError:  # a Cholesky failure along the way: try the next start
                continue
            if math.isfinite(loss):
                best = v.detach().clamp(-12.0, 12.0)
                break
        return Hyper.from_vector(best)

    def _factor(self) -> None:
        h = self.hyper
        self.signal = float(h.log_signal.exp())
        self.weights = h.log_w.exp()
        self.chol = _train_cholesky(h, self.x, self.runs)
        self.alpha = torch.cholesky_solve(self.y[:, None], self.chol)[:, 0]
        # L^-1 once: every posterior variance is then one matrix product, not a solve
        eye = torch.eye(len(self.y), dtype=_DTYPE)
        self.chol_inv = torch.linalg.solve_triangular(self.chol, eye, upper=False)

    @torch.no_grad()
    def posterior(self, at: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the latent (noise-free) value, standardised units."""
        cross = self.signal * torch.exp(-distances(at, self.x, self.weights))
        mean = cross @ self.alpha
        half = cross @ self.chol_inv.T
        var = (self.signal - (half ** 2).sum(1)).clamp_min(1e-12)
        return mean, var.sqrt()

    @torch.no_grad()
    def log_expected_improvement(self, at: Encoded, kind: str = "ei",
                                 chunk: int = 8192) -> torch.Tensor:
        """log EI of each point of `at` (`kind`, see ACQUISITIONS)."""
        if kind not in ACQUISITIONS:
            raise ValueError(f"unknown acquisition {kind!r}")
        if kind == "ei":
            incumbent = float(self.best)
        else:  # the observed points' posterior: only the plug-in incumbents need it
            mean_x, std_x = self.posterior(self.x)
            incumbent = float(mean_x.max() if kind == "ei_mean"
                              else mean_x[(mean_x - std_x).argmax()])
        noise = float(_noise(self.hyper))
        out = []
        for start in range(0, len(at), chunk):
            mean, std = self.posterior(at.rows(torch.arange(start, min(start + chunk,
                                                                        len(at)))))
            score = std.log() + log_h((mean - incumbent) / std)
            if kind == "aei":
                score = score + torch.log1p(-math.sqrt(noise) / (std ** 2 + noise).sqrt())
            out.append(score)
        return torch.cat(out) if out else torch.zeros(0, dtype=_DTYPE)


ACQUISITIONS = {
    "ei": "expected improvement over the best single value measured (Jones et al. 1998; "
          "Optuna's GPSampler does the same)",
    "ei_mean": "expected improvement over the best posterior mean of a measured point (the "
               "plug-in incumbent for noisy measurements)",
    "aei": "augmented EI (Huang et al. 2006, 'Global optimization of stochastic black-box "
           "systems via sequential kriging meta-models'): the incumbent is the measured point "
           "with the best mean minus one standard deviation, and EI is scaled by "
           "1 - noise_sd / sqrt(var + noise), which falls to 0 as a point's value becomes "
           "known, so a well-measured candidate is not measured again and again",
}


def log_h(z: torch.Tensor) -> torch.Tensor:
    """log(phi(z) + z * Phi(z)), the standard-normal part of EI, without underflow."""
    z = z.to(_DTYPE)
    out = torch.empty_like(z)
    high = z > -1.0
    zh = z[high]
    normal = torch.distributions.Normal(torch.zeros((), dtype=_DTYPE),
                                        torch.ones((), dtype=_DTYPE))
    out[high] = torch.log(torch.exp(normal.log_prob(zh)) + zh * normal.cdf(zh))
    t = -z[~high]  # z = -t, t >= 1: phi(t) * (1 - t * Mills(t)), Mills(t) = Phi(-t) / phi(t)
    mills = math.sqrt(math.pi / 2) * torch.special.erfcx(t / math.sqrt(2))
    out[~high] = -0.5 * t ** 2 - _LOG_2PI_HALF + torch.log1p(-(t * mills).clamp(max=1 - 1e-16))
    return out
