import numpy as np
import pytest
import torch
from scipy.stats import norm

from happy_utils.proposers.slsqp import Density, _last_feasible, expected_improvement, optimise_cycle
from happy_utils.surrogates.dngo import DNGO, dngo_holdout_r2


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
    assert far > 1.5 * near  # tanh features saturate, so the growth is modest


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


def test_a_cycle_proposes_distinct_points_that_stay_near_the_data_and_improve():
    z, y = _smooth(500)
    optima, fit_s, solve_s = optimise_cycle(z, y, n_out=3, seed=0)
    assert len(optima) == 3 and fit_s > 0 and solve_s > 0
    latents = np.stack([o["latent"] for o in optima])
    assert min(np.linalg.norm(latents[i] - latents[j]) for i in range(3) for j in range(i)) > 1e-3
    density = Density(z.astype(np.float64), seed=0)
    threshold = np.quantile(density.gmm.score_samples(z), 0.1)
    assert all(o["log_density"] >= threshold - 1e-4 for o in optima)
    assert {o["status"] for o in optima} <= {"optimal", "stopped", "boundary"}
    assert [o["ei"] for o in optima] == sorted((o["ei"] for o in optima), reverse=True)
    assert optima[0]["mean"] > np.sort(y)[-10]  # it predicts a point above the data's 10th best
    again, _, _ = optimise_cycle(z, y, n_out=3, seed=0)
    assert all(np.array_equal(a["latent"], b["latent"]) for a, b in zip(optima, again))  # resumable: same points


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_dngo_refuses_nonfinite_scores(bad):
    z, y = _smooth(100)
    y[3] = bad
    with pytest.raises(ValueError, match="finite"):
        DNGO(8).fit(z, y)


def test_an_end_outside_the_density_is_pulled_back_to_the_last_feasible_point():
    margin = lambda v: 1.0 - np.linalg.norm(v)  # feasible inside the unit ball  # noqa: E731
    point = _last_feasible(np.zeros(3), np.array([4.0, 0, 0]), margin)
    assert margin(point) >= 0 and point[0] == pytest.approx(1.0, abs=1e-3)
    outside = np.array([2.0, 0, 0])
    assert np.array_equal(_last_feasible(outside, np.array([3.0, 0, 0]), margin), outside)  # nothing feasible
