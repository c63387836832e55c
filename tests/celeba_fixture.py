"""A tiny CelebA in the real layouts and label formats, made from the one real photo available offline.

`skimage.data.astronaut()` is a real photo with a face; shifted, scaled, flipped and re-lit copies of it at CelebA's
aligned size (178 x 218) stand in for celebrities. Beside them: synthetic faces renamed as CelebA files, a truncated
JPEG, and a photo without a face. Labels follow CelebA-Dialog's `combined_annotation.txt` and split files.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from happy_utils.data.cropping import CELEBA_SIZE, astronaut_photos
from happy_utils.data.faces import render_faces

LAYOUTS = {"torchvision": ("celeba", "img_align_celeba"), "kaggle": ("img_align_celeba", "img_align_celeba"),
           "plain": ()}


def synthetic_photos(n: int) -> list[Image.Image]:
    """Synthetic faces of the world, at CelebA's size (MTCNN may or may not see a face in a cartoon)."""

    faces = render_faces(n, seed=777, progress=False).images
    return [Image.fromarray(f.permute(1, 2, 0).numpy()).resize(CELEBA_SIZE, Image.Resampling.BICUBIC) for f in faces]


def faceless_photo() -> Image.Image:
    """A smooth colour gradient: nothing for MTCNN to find."""
    y, x = np.mgrid[0:CELEBA_SIZE[1], 0:CELEBA_SIZE[0]]
    arr = np.stack([x * 255 / x.max(), y * 255 / y.max(), np.full_like(x, 128)], -1).astype(np.uint8)
    return Image.fromarray(arr)


def make_celeba(root: Path, layout: str = "torchvision", n_faces: int = 8, n_synthetic: int = 2,
                levels_seed: int = 0) -> dict:
    """Write the fixture under root; returns names by kind and the Smiling level of each labelled name."""
    images = Path(root).joinpath(*LAYOUTS[layout])
    images.mkdir(parents=True, exist_ok=True)
    photos = [Image.fromarray(p) for p in astronaut_photos(n_faces)] + synthetic_photos(n_synthetic)
    photos.append(faceless_photo())
    names = [f"{i + 1:06d}.jpg" for i in range(len(photos) + 1)]
    for name, photo in zip(names, photos):
        photo.save(images / name, quality=95)
    buf = io.BytesIO()
    photos[0].save(buf, format="JPEG", quality=95)
    (images / names[-1]).write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])  # truncated: half a JPEG
    rng = np.random.default_rng(levels_seed)
    attrs = {n: rng.integers(0, 6, size=5) for n in names}
    for a in attrs.values():  # three in four faces at Smiling <= 2, roughly as in CelebA-Dialog
        a[3] = rng.choice(6, p=[0.25, 0.25, 0.25, 0.1, 0.1, 0.05])
    lines = ["img_name Bangs Eyeglasses No_Beard Smiling Young"]
    lines += [f"{n} {' '.join(map(str, a))}" for n, a in attrs.items()]
    lines += ["202598.jpg", "202599.jpg"]  # unlabeled rows, as CelebA-Dialog has 21
    labels_dir = Path(root) / "celeba_dialog"
    labels_dir.mkdir(exist_ok=True)
    (labels_dir / "combined_annotation.txt").write_text("\n".join(lines) + "\n")
    faces, synthetic = names[:n_faces], names[n_faces:n_faces + n_synthetic]
    n_valid = max(1, n_faces // 5)
    train, valid = faces[:-n_valid] + synthetic, faces[-n_valid:] + names[-2:]  # faceless and corrupt: valid
    for file, part in (("train_attr_list.txt", train), ("val_attr_list.txt", valid), ("test_attr_list.txt", [])):
        (labels_dir / file).write_text("".join(f"{n} {' '.join(map(str, attrs[n]))}\n" for n in part))
    return {"images": images, "faces": faces, "synthetic": synthetic, "faceless": names[-2], "corrupt": names[-1],
            "train": train, "valid": valid, "smiling": {n: int(a[3]) for n, a in attrs.items()}}
