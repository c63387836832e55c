import numpy as np
import pytest
import torch
from scipy.stats import norm

from happy_utils.experiments.baseline import slsqp
from happy_utils.experiments.baseline.dngo import DNGO, dngo_holdout_r2
from happy_utils.experiments.baseline.slsqp import Density, expected_improvement, optimise_cycle


def _smooth(n, seed=0, dim=8):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, dim)).astype(np.float32)
    return z, np.sin(z[:, 0]) + 0.5 * z[:, 1] + 0.05 * rng.normal(size=n)


def test_dngo_learns_a_smooth_function_and_is_unsure_away_from_the_data():
    z, y = _smooth(600)
    r2, _, _ = dngo_holdout_r2(z, y)
    assert r2 > 0.8
    model = DNGO(8).fit(z, y)
    with torch.no_grad():
        _, near = model.predict(torch.zeros(1, 8))
        _, far = model.predict(torch.full((1, 8), 8.0))
    assert far > near  # tanh features saturate, so the growth is modest (measured: 0.0038 against 0.0031)


def test_expected_improvement_matches_its_closed_form():
    mean, var, best = torch.tensor([1.0, 2.0]), torch.tensor([0.25, 4.0]), 1.5
    sd = var.sqrt().numpy()
    u = (mean.numpy() - best) / sd
    expected = sd * (u * norm.cdf(u) + norm.pdf(u))
    np.testing.assert_allclose(expected_improvement(mean, var, best).numpy(), expected, rtol=1e-5)


def test_the_density_is_sklearns_mixture_with_gradients():
    z, _ = _smooth(500)
    density = Density(z.astype(np.float64))
    points = np.random.default_rng(1).normal(size=(5, 8))
    np.testing.assert_allclose(density.log_pdf(torch.tensor(points)).numpy(), density.gmm.score_samples(points),
                               rtol=1e-6)
    zt = torch.tensor(points[:1], requires_grad=True)
    density.log_pdf(zt).sum().backward()
    assert torch.isfinite(zt.grad).all() and zt.grad.abs().sum() > 0


def test_a_cycle_runs_slsqp_from_the_best_typical_candidates_until_ten_succeed(monkeypatch):
    z, y = _smooth(2000)
    runs = []
    real = slsqp.minimize
    monkeypatch.setattr(slsqp, "minimize", lambda *a, **k: runs.append(a[1]) or real(*a, **k))
    optima, cost = optimise_cycle(z, y, n_out=3, seed=0, n_candidates=20_000)
    assert cost["succeeded"] == 10 and cost["runs"] == len(runs) >= 10 and cost["fit_s"] > 0
    # Candidates: drawn, kept above the data's 10th percentile of log-density, ranked by expected improvement over
    # the 90th percentile of the scores; SLSQP starts from the best of them first.
    assert 2_000 < cost["candidates"] < 20_000
    density, model = Density(z.astype(np.float64)), DNGO(8, 0).fit(z, y)
    threshold = np.percentile(density.gmm.score_samples(z), 10)
    assert all(density.gmm.score_samples(x0[None])[0] > threshold for x0 in runs)
    with torch.no_grad():
        ei = expected_improvement(*model.predict(torch.as_tensor(np.stack(runs), dtype=torch.float32)),
                                  float(np.percentile(y, 90)))
    assert ei[0] >= ei[-1]
    # The optima: distinct (at least 0.01 apart), inside the density, best expected improvement first, improving.
    latents = np.stack([o["latent"] for o in optima])
    assert len(optima) == 3 and min(np.linalg.norm(latents[i] - latents[j]) for i in range(3) for j in range(i)) >= 0.01
    assert all(o["log_density"] >= threshold - 1e-4 and o["status"] == "optimal" for o in optima)
    assert [o["ei"] for o in optima] == sorted((o["ei"] for o in optima), reverse=True)
    assert optima[0]["mean"] > np.percentile(y, 90)
    again, _ = optimise_cycle(z, y, n_out=3, seed=0, n_candidates=20_000)
    assert all(np.array_equal(a["latent"], b["latent"]) for a, b in zip(optima, again))  # resumable: same points


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_dngo_refuses_nonfinite_scores(bad):
    z, y = _smooth(100)
    y[3] = bad
    with pytest.raises(ValueError, match="finite"):
        DNGO(8).fit(z, y)
