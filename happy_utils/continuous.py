"""The continuous baseline's optimiser: DNGO surrogate, Gaussian-mixture density constraint, SLSQP (paper A.1).

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
from torch import nn

HIDDEN = 50  # DNGO's three tanh layers of 50
EPOCHS, BATCH, LR, MAX_STEPS = 100, 128, 1e-3, 3000  # 100 epochs, at most 3,000 Adam steps
GMM_COMPONENTS = 10
N_STARTS = 10  # SLSQP from the 10 best data points
DENSITY_QUANTILE = 0.1  # queries must be at least as typical (GMM log-density) as the data's 10th percentile
MAX_ITER = 100


class DNGO:
    """A tanh MLP trained by least squares, then Bayesian linear regression on its last hidden layer.

    The prior and noise precisions are set by evidence maximisation (MacKay's fixed point), so the predictive
    variance grows away from the data: that is what expected improvement needs.
    """

    def __init__(self, dim: int, seed: int = 0):
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Linear(dim, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh(),
                                      nn.Linear(HIDDEN, HIDDEN), nn.Tanh())
        self.head = nn.Linear(HIDDEN, 1)
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> DNGO:
        if len(x) != len(y) or not np.all(np.isfinite(y)) or not np.all(np.isfinite(x)):
            raise ValueError(f"DNGO needs as many finite scores as latents, got {len(y)} scores for {len(x)}")
        x_t, y_t = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        self.x_mean, self.x_std = x_t.mean(0), x_t.std(0).clamp(min=1e-6)
        self.y_mean, self.y_std = float(y_t.mean()), float(y_t.std().clamp(min=1e-6))
        xs, ys = (x_t - self.x_mean) / self.x_std, (y_t - self.y_mean) / self.y_std
        params = list(self.features.parameters()) + list(self.head.parameters())
        opt = torch.optim.Adam(params, lr=LR)
        gen = torch.Generator().manual_seed(self.seed)
        for _ in range(min(MAX_STEPS, EPOCHS * math.ceil(len(xs) / BATCH))):
            idx = torch.randint(len(xs), (min(BATCH, len(xs)),), generator=gen)
            loss = (self.head(self.features(xs[idx])).squeeze(1) - ys[idx]).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            phi = self._phi(xs).double()
        self._bayesian_last_layer(phi, ys.double())
        return self

    def _phi(self, xs: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.features(xs), torch.ones(len(xs), 1)], dim=1)

    def _bayesian_last_layer(self, phi: torch.Tensor, y: torch.Tensor, iterations: int = 20) -> None:
        n, d = phi.shape
        eig = torch.linalg.eigvalsh(phi.T @ phi)
        alpha, beta = 1.0, 1.0
        for _ in range(iterations):  # MacKay's updates of the evidence's fixed point
            a = alpha * torch.eye(d, dtype=phi.dtype) + beta * phi.T @ phi
            m = beta * torch.linalg.solve(a, phi.T @ y)
            gamma = float((beta * eig / (alpha + beta * eig)).sum())
            alpha = gamma / max(float(m @ m), 1e-10)
            beta = (n - gamma) / max(float((y - phi @ m).pow(2).sum()), 1e-10)
        a = alpha * torch.eye(d, dtype=phi.dtype) + beta * phi.T @ phi
        self.a_inv = torch.linalg.inv(a).float()
        self.m = (beta * self.a_inv.double() @ phi.T @ y).float()
        self.noise = 1.0 / beta

    def predict(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictive mean and variance (in score units) at latents z (N, dim), differentiable in z."""
        phi = self._phi((z - self.x_mean) / self.x_std)
        mean = phi @ self.m
        var = (phi @ self.a_inv * phi).sum(1) + self.noise
        return mean * self.y_std + self.y_mean, var * self.y_std ** 2


def dngo_holdout_r2(z: np.ndarray, y: np.ndarray, holdout: float = 0.2, seed: int = 0
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """Held-out R^2 of DNGO's predictive mean; also the held-out scores and predictions (like the trees' check)."""
    from sklearn.metrics import r2_score

    order = np.random.default_rng(seed).permutation(len(z))
    test, train = np.split(order, [max(1, int(round(holdout * len(z))))])
    model = DNGO(z.shape[1], seed).fit(z[train], y[train])
    with torch.no_grad():
        pred = model.predict(torch.as_tensor(z[test], dtype=torch.float32))[0].numpy()
    return float(r2_score(y[test], pred)), y[test], pred


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


def propose(q: int, cfg, data) -> dict:
    """The q-th query of the loop: one of its retraining cycle's optima, fitted at the cycle's start."""
    cycle, slot = divmod(q, cfg.retrain_every)
    cache = data.__dict__.setdefault("dngo_cycles", {})
    first = cycle not in cache
    if first:
        n = len(data.train_images) + cycle * cfg.retrain_every  # the data as it was when the cycle began
        cache.clear()
        cache[cycle] = optimise_cycle(data.codes[:n].astype(np.float64), data.labels[:n], cfg.retrain_every,
                                      seed=cfg.seed * 1000 + cycle)
    optima, fit_s, solve_s = cache[cycle]
    o = optima[min(slot, len(optima) - 1)]
    return {"code": o["latent"].astype(np.float32), "free": None, "surrogate": o["mean"], "objective": o["ei"],
            "status": o["status"], "gap": None, "solver": "slsqp",
            "n_vars": len(o["latent"]), "message": o["message"], "log_density": o["log_density"],
            "fit_s": fit_s if first and slot == 0 else 0.0, "solve_s": solve_s if first and slot == 0 else 0.0}
