import numpy as np
import pytest
import torch

from happy_utils.data import world
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
