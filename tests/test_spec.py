"""A run's spec: names, environment and overrides resolved once, with a defined precedence."""

import pytest

from happy_utils import config as config_module
from happy_utils.config import get_preset
from happy_utils.experiments import spec as spec_module
from happy_utils.experiments.spec import RunSpec, parse_seeds


def test_the_environment_is_read_once_at_the_edge(monkeypatch):
    monkeypatch.setenv("HAPPY_PRESET", "smoke")
    spec = RunSpec.resolve()
    assert spec.preset.name == "smoke" and spec.source == "synthetic" and spec.seeds == (0,)

    def resolved_again(*args, **kwargs):
        raise AssertionError("a preset or source was resolved again below the edge")

    for module in (config_module, spec_module):  # below the edge, nothing resolves a name or reads the environment
        monkeypatch.setattr(module, "get_preset", resolved_again)
        monkeypatch.setattr(module, "get_source", resolved_again)
    monkeypatch.setenv("HAPPY_PRESET", "paper")
    assert spec.loop_config(0).budget == get_preset("smoke").budget
    assert spec.config()["preset"]["name"] == "smoke" and spec.guard == spec.variant.guard


def test_variant_preset_and_overrides_make_the_loop_config():
    smoke = get_preset("smoke")
    cfg = RunSpec.resolve("smoke", variant="vqvae-wr", seeds="0-1").loop_config(1)
    assert (cfg.free_cells, cfg.target, cfg.fit_set, cfg.seed) == (smoke.free_cells, "raw", (200, 300), 1)
    assert RunSpec.resolve("smoke", variant="vqvae-wr-t16").loop_config(0).free_cells == 16  # the variant's t
    assert RunSpec.resolve("smoke", variant="vqvae-wr-decoded").loop_config(0).target == "decoded"
    over = RunSpec.resolve("smoke", variant="vqvae-wr", budget=9, free_cells=6, target="decoded").loop_config(0)
    assert (over.budget, over.free_cells, over.target) == (9, 6, "decoded")
    vae = RunSpec.resolve("smoke", variant="vae-wr").loop_config(0)
    assert vae.proposer == "slsqp" and vae.batch_size == 64  # the VAE's Table 7 batch size, not the VQ-VAE's
    assert RunSpec.resolve("smoke", variant="vqvae-wr-t4", free_cells=4).free_cells == 4  # agreeing is fine


def test_contradictions_and_bad_values_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="vqvae-wr-t4 fixes free_cells = 4, so --free-cells 8"):
        RunSpec.resolve("smoke", variant="vqvae-wr-t4", free_cells=8)
    with pytest.raises(ValueError, match="vqvae-wr-decoded fixes target = decoded, so --target raw"):
        RunSpec.resolve("smoke", variant="vqvae-wr-decoded", target="raw")
    with pytest.raises(ValueError, match="free_cells .* got 65"):
        RunSpec.resolve("smoke", free_cells=65)
    with pytest.raises(ValueError, match="unknown variant 'vqvae-xl'"):
        RunSpec.resolve("smoke", variant="vqvae-xl")
    with pytest.raises(ValueError, match="unknown overrides"):
        RunSpec.resolve("smoke", beta=1.0)
    with pytest.raises(ValueError, match="--seeds must name distinct"):
        parse_seeds("1,1")


def test_the_guard_comes_from_the_variant_and_its_knobs_can_be_overridden():
    from happy_utils.proposers.manifold import ManifoldGuard

    assert RunSpec.resolve("smoke", variant="vqvae-wr").loop_config(0).guard == ManifoldGuard()  # the paper's
    assert "guard" not in RunSpec.resolve("smoke").loop_config(0).as_record()  # earlier runs' configs resume
    neighbours = RunSpec.resolve("smoke", variant="vqvae-wr-neighbours").loop_config(0).guard
    assert neighbours.neighbours and neighbours.min_count == 5
    over = RunSpec.resolve("smoke", variant="vqvae-wr-neighbours", min_count=0, prior_weight=0.2).loop_config(0)
    assert over.guard == ManifoldGuard(neighbours=True, prior_weight=0.2)
    assert over.as_record()["guard"] == {"min_count": 0, "neighbours": True, "prior_weight": 0.2,
                                         "trust_region": False}
    with pytest.raises(ValueError, match="is for the MIO, not the slsqp proposer"):
        RunSpec.resolve("smoke", variant="vae-wr", neighbours=True)
    with pytest.raises(ValueError, match="prior_weight"):
        RunSpec.resolve("smoke", prior_weight=-1.0)
