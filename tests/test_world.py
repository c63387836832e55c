import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from happy_utils.config import repo_root
from happy_utils.data import faces, world
from happy_utils.images import to_uint8


def test_rendering_is_deterministic_and_batch_independent():
    params = world.sample_faces(40, seed=7)
    a = world.render(params)
    assert a.shape == (40, 3, 64, 64) and a.dtype == torch.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert torch.equal(a, world.render(world.sample_faces(40, seed=7)))
    assert torch.equal(a, world.render(params, batch_size=7))
    assert not torch.equal(a, world.render(world.sample_faces(40, seed=8)))


def test_images_are_anti_aliased():
    """Soft edges: many pixels lie strictly between the colours of two neighbouring regions."""
    params = world.sample_faces(8, seed=1)
    params.noise_amp[:] = 0
    img = to_uint8(world.render(params)).numpy().astype(int)
    horizontal_steps = np.abs(np.diff(img, axis=3)).sum(axis=1)
    assert np.mean((horizontal_steps > 0) & (horizontal_steps < 20)) > 0.05


@pytest.mark.parametrize("name", world.INGREDIENTS)
def test_each_ingredient_changes_pixels_in_its_own_region(name):
    params = world.sample_faces(48, seed=3)
    low, high = params.with_ingredient(name, 0.0), params.with_ingredient(name, 1.0)
    diff = (world.render(high) - world.render(low)).abs().sum(dim=1).numpy()
    region = world.ingredient_regions(params)[name]
    assert region.mean() < 0.25, "a region must be a small part of the image"
    inside = (diff * region).sum(axis=(1, 2)) / diff.sum(axis=(1, 2))
    assert inside.min() > 0.95, f"{name}: only {inside.min():.3f} of its change lies in its region"
    changed = (diff > 0.1).sum(axis=(1, 2))
    assert changed.min() >= 40, f"{name} must change a visible area (>= 40 px), changed {changed.min()}"


def test_corner_lifts_are_left_and_right():
    params = world.sample_faces(16, seed=4)
    params.angle[:] = 0
    params.center_x[:] = 0
    for name, half in (("lift_left", slice(0, 30)), ("lift_right", slice(34, 64))):
        diff = (world.render(params.with_ingredient(name, 1.0)) - world.render(params.with_ingredient(name, 0.0)))
        diff = diff.abs().sum(dim=1)
        assert diff[:, :, half].sum() > 0.95 * diff.sum()


def test_degree_and_labels():
    ing = np.zeros((3, len(world.INGREDIENTS)))
    ing[1] = 1.0
    ing[2] = 0.5
    np.testing.assert_allclose(world.smile_degree(ing), [0.0, 5.0, 2.5])
    np.testing.assert_array_equal(world.degree_label([0.49, 2.49, 2.5, 4.9]), [0, 2, 3, 5])
    labels = world.sample_faces(6000, seed=5).label
    counts = np.bincount(labels, minlength=6)
    assert counts.min() > 0.1 * len(labels), f"every level must be common, got {counts}"


def test_nuisance_factors_leave_the_label_alone():
    a, b = world.sample_faces(200, seed=10), world.sample_faces(200, seed=11)
    mixed = a.with_nuisance_of(b)
    np.testing.assert_array_equal(mixed.label, a.label)
    np.testing.assert_array_equal(mixed.degree, a.degree)
    assert (world.render(mixed[:20]) - world.render(a[:20])).abs().mean() > 0.05, "nuisance must change the image"
    # ... and no nuisance factor is correlated with the degree.
    many = world.sample_faces(20_000, seed=12)
    for name in world.NUISANCE_FIELDS:
        values = np.asarray(getattr(many, name), dtype=float).reshape(len(many), -1)
        for column in values.T:
            if column.std() > 0:
                assert abs(np.corrcoef(column, many.degree)[0, 1]) < 0.04, name


def test_restricted_set_has_every_ingredient_near_maximum_but_never_all():
    faces = world.sample_faces(20_000, seed=13)
    restricted = faces[faces.label <= world.RESTRICTED_MAX_LABEL]
    assert np.all(restricted.degree < 2.5)
    ing = restricted.ingredients
    assert np.all(ing.max(axis=0) >= 0.98), "each ingredient must reach its maximum inside the restricted set"
    near_max = ing >= 0.9
    assert near_max.sum(axis=0).min() >= 50, "and not just once"
    assert near_max.sum(axis=1).max() <= 4, "no restricted face has most ingredients near their maximum"
    mouth = [world.ingredient_index(n) for n in ("mouth_width", "lift_left", "lift_right", "opening", "teeth")]
    assert not np.any(np.all(ing[:, mouth] >= 0.8, axis=1)), "no restricted face has the whole big smile"
    assert not np.any(np.all(ing >= 0.5, axis=1))


def test_ingredients_vary_partly_independently():
    ing = world.sample_faces(10_000, seed=14).ingredients
    corr = np.corrcoef(ing.T)[np.triu_indices(len(world.INGREDIENTS), 1)]
    assert 0.3 < corr.min() and corr.max() < 0.9


def test_unknown_ingredient_is_an_error():
    with pytest.raises(ValueError, match="mouth_width"):
        world.sample_faces(2, 0).with_ingredient("dimples", 1.0)


PROBE = repo_root() / "data" / faces.PROBE_FILE


def test_the_renderer_draws_the_probe_faces_as_its_version_stored_them():
    diff = faces.check_renderer(PROBE)
    assert diff.values == faces.PROBE_FACES * 3 * 64 * 64 and faces.within_rounding(diff), str(diff)


def test_another_cpus_kernels_render_the_probe_within_rounding():
    """torch's generic kernels instead of this CPU's vector units (another CPU, as far as one machine can show):
    the renderer command passes, and says what kernels it ran."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    done = subprocess.run([sys.executable, "-m", "happy_utils", "renderer"], env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(DEFAULT)" in done.stdout and "within rounding" in done.stdout


@pytest.mark.parametrize("constant, value", [("_TEETH", (0.96, 0.96, 0.92)), ("_MOUTH_V", 10.6)])
def test_a_changed_drawing_is_beyond_rounding(monkeypatch, constant, value):
    """Teeth 1% darker, or the mouth a tenth of a pixel lower: the probe no longer matches, so the version must be
    bumped."""
    monkeypatch.setattr(world, constant, value)
    assert not faces.within_rounding(faces.check_renderer(PROBE))


def test_a_probe_of_another_version_is_refused_with_the_command(monkeypatch):
    monkeypatch.setattr(world, "RENDERER_VERSION", world.RENDERER_VERSION + 1)
    with pytest.raises(ValueError, match="python -m happy_utils renderer --write"):
        faces.check_renderer(PROBE)


def test_the_probe_is_written_with_its_version(tmp_path, monkeypatch):
    monkeypatch.setattr(world, "RENDERER_VERSION", 7)
    faces.write_renderer_probe(tmp_path / "probe.npz")
    assert faces.check_renderer(tmp_path / "probe.npz").differing == 0
