import numpy as np
import pytest
import torch

from happy_utils.data import world
from happy_utils.experiments.distortions import DISTORTIONS, distort


@pytest.fixture(scope="module")
def faces():
    return world.render(world.sample_faces(12, 5)), world.render(world.sample_faces(12, 6))


@pytest.mark.parametrize("name", DISTORTIONS)
def test_each_distortion_damages_more_the_stronger_it_is(name, faces):
    clean, donors = faces
    strengths = DISTORTIONS[name][1]
    assert list(strengths) == sorted(strengths)  # mildest first
    changes = []
    for s in strengths:
        out = distort(name, clean, s, seed=1, others=donors)
        assert out.shape == clean.shape and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
        assert torch.equal(out, distort(name, clean, s, seed=1, others=donors))  # reproducible
        changes.append(float((out - clean).abs().mean()))
    assert 0 < changes[0] < changes[1] < changes[2], changes


def _changed_cells(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return ((a - b).abs().amax(dim=1).reshape(-1, 8, 8, 8, 8).amax(dim=(2, 4)) > 0).sum(dim=(1, 2)).numpy()


def test_patch_swaps_replace_k_cells_by_the_same_cells_of_another_face(faces):
    clean, donors = faces
    out = distort("patch_swap", clean, 8, seed=2, others=donors)
    assert np.all(_changed_cells(out, clean) <= 8) and _changed_cells(out, clean).mean() > 6
    cells = out.reshape(12, 3, 8, 8, 8, 8)
    donor_cells = donors.reshape(12, 3, 8, 8, 8, 8)
    changed = (out - clean).abs().amax(dim=1).reshape(12, 8, 8, 8, 8).amax(dim=(2, 4)) > 0
    i, r, c = [x[0] for x in torch.nonzero(changed, as_tuple=True)]
    assert any(torch.equal(cells[i, :, r, :, c], donor_cells[j, :, r, :, c]) for j in range(12))


def test_unknown_distortion_and_bad_images_are_refused(faces):
    with pytest.raises(ValueError, match="unknown distortion 'rotate'; valid: blur"):
        distort("rotate", faces[0], 1, seed=0)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 64, 64\)"):
        distort("blur", torch.rand(2, 64, 64, 3), 1.0, seed=0)
