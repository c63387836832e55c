import numpy as np
import pytest
import torch

from happy_utils.data import world
from happy_utils.experiments.distortions import distort
from happy_utils.scorers import realism as R
from happy_utils.scorers.loading import load_realism

FRESH_SEED = 5_151  # neither the inverse network's training seeds nor its calibration seed


def test_every_parameter_round_trips_through_the_networks_encoding():
    params = world.sample_faces(64, 3)
    cont, classes = R.encode(params)
    assert cont.shape == (64, R.N_CONTINUOUS) and cont.abs().max() <= 1
    logits = {k: torch.nn.functional.one_hot(v, R.CLASSES[k]).float() for k, v in classes.items()}
    back = R.decode(cont, logits)
    quiet = params.copy()
    quiet.noise_amp[:] = 0
    assert (world.render(back) - world.render(quiet)).abs().max() < 1e-4  # the same faces, without sensor noise
    # (top, bottom, angle) and (bottom, top, angle + pi) draw one background: the encoding makes them one target
    flipped = params.copy()
    flipped.bg_top, flipped.bg_bottom, flipped.bg_angle = params.bg_bottom, params.bg_top, params.bg_angle + np.pi
    assert torch.allclose(R.encode(flipped)[0], cont, atol=1e-5)


def test_the_error_is_local_to_the_cells_that_no_face_explains():
    faces = world.render(world.sample_faces(4, 8))
    assert torch.allclose(R.realism_error(faces, faces), torch.zeros(4))
    damaged = faces.clone()
    damaged[:, :, 32:40, 24:32] = 0.0  # one cell painted black
    cells = R.cell_errors(damaged, faces)
    assert cells[:, 4, 3].min() > 0.1 and cells[:, 0, 0].max() == 0  # the cell itself, not a far one
    assert torch.all(R.realism_error(damaged, faces) > R.realism_error(faces, faces))


def test_the_matrix_blur_is_the_separable_gaussian_with_replicate_padding():
    x = torch.rand(3, 3, 64, 48)
    radius = int(np.ceil(3 * R.BLUR_SIGMA))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-t * t / (2 * R.BLUR_SIGMA ** 2))
    k = k / k.sum()
    padded = torch.nn.functional.pad(x, (radius,) * 4, mode="replicate")
    rows = torch.nn.functional.conv2d(padded, k.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    reference = torch.nn.functional.conv2d(rows, k.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    assert torch.allclose(R._blur(x), reference, atol=1e-6)
    assert torch.allclose(R._blur(torch.ones(1, 3, 16, 16)), torch.ones(1, 3, 16, 16), atol=1e-6)  # edges kept


def test_with_a_perfect_inverse_clean_faces_pass_and_patch_swaps_fail(monkeypatch):
    params = world.sample_faces(60, 9)
    clean, donors = world.render(params), world.render(world.sample_faces(60, 10))
    judge = R.RealismJudge(R.InverseNet(), threshold=0.0)
    quiet = params.copy()
    quiet.noise_amp[:] = 0
    monkeypatch.setattr(judge, "predict", lambda images: quiet)  # knows every face's parameters exactly
    calibration = R.calibrate_threshold(judge, seed=9, n=60, quantile=0.98)
    assert calibration["threshold"] == pytest.approx(float(torch.quantile(judge.assess(clean).error, 0.98)))
    report = judge.assess(clean)
    assert report.passed.float().mean() >= 0.95
    assert torch.allclose(report.true_degree, torch.from_numpy(params.degree.astype(np.float32)))
    swapped = judge.assess(distort("patch_swap", clean, 16, seed=0, others=donors))
    assert swapped.passed.float().mean() < 0.05


def test_a_checkpoint_of_another_kind_is_refused(tmp_path):
    torch.save({"format": "happy-oracle-v1"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a realism checkpoint"):
        R.load_judge(tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError, match="train-realism"):
        load_realism("synthetic", path=tmp_path / "absent.pt")
    assert load_realism("celeba") is None  # no ground truth for photographs


@pytest.fixture(scope="module")
def shipped():
    return load_realism("synthetic", dev=torch.device("cpu"))


def test_the_shipped_judge_passes_clean_faces_and_fails_patch_swaps(shipped):
    params = world.sample_faces(300, FRESH_SEED)
    clean, donors = world.render(params), world.render(world.sample_faces(300, FRESH_SEED + 1))
    report = shipped.assess(clean)
    assert report.passed.float().mean() >= 0.90
    assert np.abs(report.true_degree.numpy() - params.degree).mean() < 0.2  # a physical judge of the smile
    swaps = [shipped.assess(distort("patch_swap", clean, k, seed=1, others=donors)) for k in (4, 8, 16)]
    errors = [float(r.error.mean()) for r in swaps]
    assert float(report.error.mean()) < errors[0] < errors[1] < errors[2]
    assert swaps[2].passed.float().mean() <= 0.30
    assert shipped.embed(clean[:5]).shape == (5, 512)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        shipped.assess(clean * 2 - 1)
