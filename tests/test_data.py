import numpy as np
import pytest
import torch

from happy_utils.config import get_paths, get_preset
from happy_utils.data import faces as data
from happy_utils.data import world
from happy_utils.data.sources import load_faces
from happy_utils.images import to_uint8


def test_build_world_caches_and_reloads(tmp_path):
    first = data.build_world(300, seed=4, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    again = data.build_world(300, seed=4, cache_dir=tmp_path)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    params = world.sample_faces(300, seed=4)
    assert torch.equal(first.images[:5], to_uint8(world.render(params[:5])))
    np.testing.assert_array_equal(first.labels.numpy(), params.label)


def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path):
    good = data.build_world(100, seed=5, cache_dir=tmp_path)
    path = next(tmp_path.glob("*.npz"))
    path.write_bytes(path.read_bytes()[:1000])  # a truncated file, as after a crash or a full disk
    with pytest.warns(UserWarning, match="corrupt face cache"):
        rebuilt = data.build_world(100, seed=5, cache_dir=tmp_path)
    assert torch.equal(rebuilt.images, good.images)
    data.build_world(100, seed=5, cache_dir=tmp_path)  # and the rewritten cache loads silently


def test_stale_cache_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    data.build_world(100, seed=6, cache_dir=tmp_path)
    monkeypatch.setattr(world, "RENDERER_VERSION", world.RENDERER_VERSION + 1)
    with pytest.warns(UserWarning, match="stale face cache"):
        data.build_world(100, seed=6, cache_dir=tmp_path)


def test_splits_of_the_preset():
    train = load_faces("train", get_preset("smoke"))
    assert len(train) == 1200 and train.images.dtype == torch.uint8 and train.images.shape[1:] == (3, 64, 64)
    restricted, target = train.restricted(), train.target()
    assert len(restricted) + len(target) == len(train)
    assert restricted.labels.max() <= 2 and bool(torch.all(restricted.degree < 2.5))
    assert set(target.labels.unique().tolist()) == {3, 4, 5}
    assert set(train.target((4,)).labels.tolist()) == {4}
    valid = load_faces("valid", get_preset("smoke"))
    assert len(valid) == 300 and not torch.equal(valid.images[:10], train.images[:10])
    assert list((get_paths().cache / "world").glob("*.npz")), "splits are cached under $HAPPY_CACHE_DIR"


def test_float_images_and_subset():
    faces = data.render_faces(10, seed=1, progress=False)
    x = faces.float_images()
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    sub = faces.subset(np.array([1, 3]))
    assert len(sub) == 2 and torch.equal(sub.images[1], faces.images[3]) and sub.ingredients.shape == (2, 8)


def test_bad_requests_get_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="valid splits: train, valid"):
        load_faces("test", get_preset("smoke"))
    monkeypatch.setenv("HAPPY_CELEBA_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="no CelebA images .*HAPPY_CELEBA_DIR"):
        load_faces("train", get_preset("smoke"), source="celeba")
    with pytest.raises(ValueError, match=r"uint8 \(N, 3, 64, 64\)"):
        data.FaceDataset(images=torch.zeros(2, 64, 64, 3, dtype=torch.uint8), labels=torch.zeros(2))
