"""The continuous baseline's proposer: DNGO surrogate, Gaussian-mixture density constraint, SLSQP (paper A.1).

Why: the paper compares its discrete MIO with continuous latent space optimisation as Tripp et al. (2020) do it: a
neural network whose last layer is Bayesian linear regression (DNGO, Snoek et al. 2015) models the score over the
VAE's 64-dimensional latent means; expected improvement is maximised by SLSQP from the best data points, subject to
the latent staying where a 10-component Gaussian mixture fitted to the data has density (Notin et al. 2021): a VAE
decodes nonsense far from its data. Like the authors (`n_out = r`), one fit serves r queries: at the start of each
retraining cycle the surrogate and the mixture are fitted on the data as it is then, and the cycle's queries are the
r best distinct optima. A resumed run recomputes its cycle from the same data, so it proposes the same points.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.mixture import GaussianMixture

from ..surrogates.dngo import DNGO
from .base import Proposal

GMM_COMPONENTS = 10
N_STARTS = 10  # SLSQP from the 10 best data points
DENSITY_QUANTILE = 0.1  # queries must be at least as typical (GMM log-density) as the data's 10th percentile
MAX_ITER = 100


def expected_improvement(mean: torch.Tensor, var: torch.Tensor, best: float) -> torch.Tensor:
    sd = var.clamp(min=1e-12).sqrt()
    u = (mean - best) / sd
    normal = torch.distributions.Normal(0.0, 1.0)
    return sd * (u * normal.cdf(u) + normal.log_prob(u).exp())


class Density:
    """A Gaussian mixture (full covariances) fitted to the latents; its log-density in torch, with gradients."""

    def __init__(self, z: np.ndarray, seed: int = 0):
        self.gmm = GaussianMixture(GMM_COMPONENTS, covariance_type="full", reg_covar=1e-4, random_state=seed).fit(z)
        self.means = torch.as_tensor(self.gmm.means_, dtype=torch.float64)
        self.prec_chol = torch.as_tensor(self.gmm.precisions_cholesky_, dtype=torch.float64)
        self.log_weights = torch.as_tensor(np.log(self.gmm.weights_), dtype=torch.float64)
        d = z.shape[1]
        log_det = torch.log(torch.diagonal(self.prec_chol, dim1=1, dim2=2)).sum(1)
        self.const = self.log_weights + log_det - 0.5 * d * math.log(2 * math.pi)

    def log_pdf(self, z: torch.Tensor) -> torch.Tensor:
        diff = z.double()[:, None, :] - self.means[None]  # (N, C, d)
        y = torch.einsum("ncd,cde->nce", diff, self.prec_chol)
        return torch.logsumexp(self.const[None] - 0.5 * y.pow(2).sum(-1), dim=1)


def optimise_cycle(z: np.ndarray, y: np.ndarray, n_out: int, seed: int) -> tuple[list[dict], float, float]:
    """Fit DNGO and the density on (z, y), run SLSQP from the N_STARTS best points, return the n_out best optima.

    Each optimum: latent, predicted mean, expected improvement, log-density, status (optimal; stopped at the
    iteration limit; boundary: SLSQP ended outside the density, so the last feasible point on the way is taken).
    Returns the optima, the fit seconds and the optimisation seconds.
    """
    start = time.perf_counter()
    model = DNGO(z.shape[1], seed).fit(z, y)
    density = Density(z, seed)
    threshold = float(np.quantile(density.gmm.score_samples(z), DENSITY_QUANTILE))
    fit_s = time.perf_counter() - start
    best = float(np.max(y))
    start = time.perf_counter()

    def neg_ei(v: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.tensor(v[None], dtype=torch.float32, requires_grad=True)
        ei = expected_improvement(*model.predict(zt), best).sum()
        (-ei).backward()
        return -float(ei.detach()), zt.grad.double().numpy()[0]

    def density_margin(v: np.ndarray) -> float:
        return float(density.log_pdf(torch.tensor(v[None])).detach()) - threshold

    def density_grad(v: np.ndarray) -> np.ndarray:
        zt = torch.tensor(v[None], requires_grad=True)
        density.log_pdf(zt).sum().backward()
        return zt.grad.numpy()[0]

    optima = []
    for i in np.argsort(-y, kind="stable")[:N_STARTS]:
        res = minimize(neg_ei, z[i].astype(np.float64), jac=True, method="SLSQP",
                       constraints=[{"type": "ineq", "fun": density_margin, "jac": density_grad}],
                       options={"maxiter": MAX_ITER})
        point, status = res.x, "optimal" if res.success else "stopped"
        if density_margin(point) < -1e-6:  # SLSQP ended outside the density: go back towards the start
            point, status = _last_feasible(z[i].astype(np.float64), res.x, density_margin), "boundary"
        with torch.no_grad():
            mean, var = model.predict(torch.tensor(point[None], dtype=torch.float32))
        optima.append({"latent": point, "mean": float(mean[0]), "ei": float(expected_improvement(mean, var, best)[0]),
                       "log_density": density_margin(point) + threshold, "status": status,
                       "message": str(res.message)})
    order = sorted(range(len(optima)), key=lambda k: -optima[k]["ei"])
    distinct: list[int] = []
    for k in order:  # several starts may end at one optimum: distinct ones first, repeats only to fill up
        if all(np.linalg.norm(optima[k]["latent"] - optima[d]["latent"]) > 1e-3 for d in distinct):
            distinct.append(k)
    chosen = [optima[k] for k in (distinct + [k for k in order if k not in distinct])[:n_out]]
    return chosen, fit_s, time.perf_counter() - start


def _last_feasible(start: np.ndarray, end: np.ndarray, margin, steps: int = 12) -> np.ndarray:
    """The point furthest along the segment start -> end that satisfies the constraint (bisection); the start
    itself when it does not."""
    if margin(start) < 0:
        return start
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if margin(start + mid * (end - start)) >= 0 else (lo, mid)
    return start + lo * (end - start)


class SLSQPProposer:
    """The q-th query is one of its retraining cycle's optima, fitted at the cycle's start (the authors' n_out = r).

    The cycle's optima are kept here, on the proposer, between the queries of a cycle; a resumed run starts with none
    and recomputes its cycle from the same data, so it proposes the same points.
    """

    name = "slsqp"

    def __init__(self, per_cycle: int, seed: int):
        self.per_cycle, self.seed = per_cycle, seed
        self._cycle: tuple | None = None  # (cycle, optima, fit seconds, optimisation seconds)

    def propose(self, q: int, latents: np.ndarray, labels: np.ndarray, base: np.ndarray) -> Proposal:
        cycle, slot = divmod(q, self.per_cycle)
        first = self._cycle is None or self._cycle[0] != cycle
        if first:
            n = len(latents) - slot  # the data as it was when the cycle began
            self._cycle = (cycle, *optimise_cycle(latents[:n].astype(np.float64), labels[:n], self.per_cycle,
                                                  seed=self.seed * 1000 + cycle))
        _, optima, fit_s, solve_s = self._cycle
        o = optima[min(slot, len(optima) - 1)]
        charged = first and slot == 0  # the cycle's fit is charged to its first query
        return Proposal(latent=o["latent"].astype(np.float32), fit_s=fit_s if charged else 0.0,
                        solve_s=solve_s if charged else 0.0,
                        record={"free": None, "surrogate": o["mean"], "objective": o["ei"], "status": o["status"],
                                "gap": None, "solver": "slsqp", "n_vars": len(o["latent"]), "message": o["message"],
                                "log_density": o["log_density"]})
