import json

import numpy as np
import pytest
from celeba_fixture import make_celeba

from happy_utils.data.cropping import CropRecipe, FaceDetector, crop_face, crop_photos, load_crops, square_box

ASTRONAUT_FACE = (181, 62, 268, 172)  # x0, y0, x1, y1 of her face in skimage's photo


@pytest.fixture(scope="module")
def detector():
    return FaceDetector("cpu")


def test_mtcnn_finds_the_astronauts_face_offline(detector):
    from skimage import data

    photo = data.astronaut()
    [(box, prob)] = detector.largest_faces([photo])
    inter = np.prod(np.clip(np.minimum(box[2:], ASTRONAUT_FACE[2:]) - np.maximum(box[:2], ASTRONAUT_FACE[:2]), 0, None))
    union = np.prod(box[2:] - box[:2]) + np.prod(np.subtract(ASTRONAUT_FACE[2:], ASTRONAUT_FACE[:2])) - inter
    assert inter / union > 0.8 and prob > 0.99
    crop = crop_face(photo, box)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8
    # The square is centred a little below the box's centre: her chin is in, the top of her hair is cut.
    left, top, side = square_box(box)
    assert top + side / 2 > (box[1] + box[3]) / 2 and side > box[2] - box[0]


def test_square_box_follows_talk_to_edit():
    # mean side 30 -> half side 16.5, centre (20, 40) moved down by 0.15 * 16.5
    assert square_box((10, 20, 30, 60)) == (4, 26, 33)
    assert square_box((10, 20, 30, 60), CropRecipe(scale=2.0, shift=0.0)) == (-10, 10, 60)


def test_a_square_beyond_the_photo_replicates_its_edge():
    photo = np.zeros((100, 100, 3), np.uint8)
    photo[:, :10] = (255, 0, 0)  # a red left edge
    photo[:, 10:] = (0, 0, 255)
    crop = crop_face(photo, (-20, 30, 20, 70), CropRecipe(shift=0.0))  # the square reaches 22 px left of the photo
    assert (crop[:, :8, 0] == 255).all() and (crop[:, :8, 2] == 0).all()
    assert (crop[:, -8:, 2] == 255).all()


def test_crop_photos_skips_and_reports_faceless_and_corrupt_photos(tmp_path, detector):
    info = make_celeba(tmp_path / "celeba", n_faces=6, n_synthetic=2)
    photos = sorted(info["images"].glob("*.jpg"))
    report = crop_photos(photos, tmp_path / "crops", batch_size=4, detector=detector, progress=False)
    no_face = {f["name"] for f in report["no_face"]}
    unreadable = {f["name"]: f["reason"] for f in report["unreadable"]}
    assert info["faceless"] in no_face and set(unreadable) == {info["corrupt"]}
    assert "truncated" in unreadable[info["corrupt"]]
    assert report["cropped"] + len(no_face) + len(unreadable) == len(photos)
    crops = load_crops(tmp_path / "crops")
    assert set(info["faces"]) <= set(crops.names) and len(crops) == report["cropped"]
    assert crops.images.shape == (report["cropped"], 3, 64, 64) and crops.boxes.shape == (report["cropped"], 4)
    assert json.loads((tmp_path / "crops" / "report.json").read_text()) == report
    # Names picked in a given order; names never cropped are left out.
    picked = load_crops(tmp_path / "crops", [info["faces"][3], info["faceless"], info["faces"][1]])
    assert picked.names == [info["faces"][3], info["faces"][1]]
    assert (picked.images[1] == crops.images[crops.names.index(info["faces"][1])]).all()


class _Crash(FaceDetector):
    """Detects faithfully for `calls` batches, then dies like a killed process."""

    def __init__(self, inner, calls):
        self.inner, self.calls = inner, calls

    def largest_faces(self, photos):
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        return self.inner.largest_faces(photos)


def test_an_interrupted_cropping_resumes_without_redoing_or_losing_a_photo(tmp_path, detector):
    info = make_celeba(tmp_path / "celeba", n_faces=9, n_synthetic=0)
    photos = sorted(info["images"].glob("*.jpg"))
    whole = crop_photos(photos, tmp_path / "whole", batch_size=3, detector=detector, progress=False)
    with pytest.raises(KeyboardInterrupt):
        crop_photos(photos, tmp_path / "cut", batch_size=3, detector=_Crash(detector, calls=2), progress=False)
    assert 0 < len(load_crops(tmp_path / "cut")) < whole["cropped"]
    resumed = crop_photos(photos, tmp_path / "cut", batch_size=3, detector=_Crash(detector, calls=2), progress=False)
    assert resumed == whole
    a, b = load_crops(tmp_path / "whole"), load_crops(tmp_path / "cut")
    assert a.names == b.names and (a.images == b.images).all()
    # Done is done: a third run detects nothing at all.
    assert crop_photos(photos, tmp_path / "cut", detector=_Crash(detector, calls=0), progress=False) == whole


def test_crops_made_with_another_recipe_are_refused(tmp_path, detector):
    info = make_celeba(tmp_path / "celeba", n_faces=2, n_synthetic=0)
    photos = sorted(info["images"].glob("*.jpg"))
    crop_photos(photos, tmp_path / "crops", detector=detector, progress=False)
    with pytest.raises(ValueError, match="crops made with .*choose another folder"):
        crop_photos(photos, tmp_path / "crops", CropRecipe(scale=1.3), detector=detector, progress=False)
    with pytest.raises(FileNotFoundError, match="no crops in"):
        load_crops(tmp_path / "nothing")
