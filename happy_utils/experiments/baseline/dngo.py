"""DNGO (Snoek et al. 2015): the continuous baseline's surrogate over a VAE's latent means, with uncertainty.

Why: the paper compares its discrete MIO with continuous latent space optimisation as Tripp et al. (2020) do it: a
neural network whose last layer is Bayesian linear regression models the score over the VAE's 64-dimensional latent
means, and its predictive variance feeds expected improvement (`slsqp`). Training as the authors' code
runs it (`src/dngo/dngo.py` through `dngo_train.py`): three tanh layers of 50, Adam at 0.01, batches of 10, 50
epochs of shuffled batches (the last incomplete one dropped), squared error, no input or output normalisation (the
flags that would turn it on are never passed), and the last layer's two precisions chosen by maximising the
marginal likelihood (the authors: Nelder-Mead from a prior draw; here MacKay's fixed point for the same maximum).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...surrogates.holdout import holdout_split, r2_score

HIDDEN = 50  # DNGO's three tanh layers of 50
EPOCHS, BATCH, LR = 50, 10, 0.01  # the authors' settings


class DNGO:
    """A tanh MLP trained by least squares, then Bayesian linear regression on its last hidden layer.

    The prior and noise precisions are set by evidence maximisation (MacKay's fixed point), so the predictive
    variance grows away from the data: that is what expected improvement needs.
    """

    def __init__(self, dim: int, seed: int = 0, epochs: int = EPOCHS):
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Linear(dim, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, HIDDEN), nn.Tanh(),
                                      nn.Linear(HIDDEN, HIDDEN), nn.Tanh())
        self.head = nn.Linear(HIDDEN, 1)
        self.seed, self.epochs = seed, epochs

    def fit(self, x: np.ndarray, y: np.ndarray) -> DNGO:
        if len(x) != len(y) or not np.all(np.isfinite(y)) or not np.all(np.isfinite(x)):
            raise ValueError(f"DNGO needs as many finite scores as latents, got {len(y)} scores for {len(x)}")
        xs, ys = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        opt = torch.optim.Adam(list(self.features.parameters()) + list(self.head.parameters()), lr=LR)
        gen = torch.Generator().manual_seed(self.seed)
        batches = max(1, len(xs) // BATCH)
        for _ in range(self.epochs):
            order = torch.randperm(len(xs), generator=gen)[:batches * BATCH].view(batches, -1)
            for idx in order:
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
        """Predictive mean and variance at latents z (N, dim), differentiable in z."""
        phi = self._phi(z)
        return phi @ self.m, (phi @ self.a_inv * phi).sum(1) + self.noise


def dngo_holdout_r2(z: np.ndarray, y: np.ndarray, holdout: float = 0.2, seed: int = 0
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """Held-out R^2 of DNGO's predictive mean; also the held-out scores and predictions (like the trees' check)."""
    test, train = holdout_split(len(z), holdout, seed)
    model = DNGO(z.shape[1], seed).fit(z[train], y[train])
    with torch.no_grad():
        pred = model.predict(torch.as_tensor(z[test], dtype=torch.float32))[0].numpy()
    return float(r2_score(y[test], pred)), y[test], pred
