"""CelebA with CelebA-Dialog's smile levels: find the files, read the labels, crop the faces, return a FaceDataset.

Why: the paper's experiment runs on CelebA. Its images come in several layouts (torchvision's download, the Kaggle
mirror that nests `img_align_celeba/img_align_celeba`, a plain folder of JPEGs); the fine-grained smile levels come
from CelebA-Dialog (`combined_annotation.txt`, columns `img_name Bangs Eyeglasses No_Beard Smiling Young`, and the
`train/val/test_attr_list.txt` split files without a header). Everything is looked up under one folder,
$HAPPY_CELEBA_DIR (default `data/celeba`), and a missing piece is named with where to get it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import SPLIT_SEEDS, Preset, get_paths
from ..provenance import spec_key
from .cropping import CropRecipe, crop_photos, load_crops
from .faces import FaceDataset

CELEBA_ENV = "HAPPY_CELEBA_DIR"
ANNOTATION = "combined_annotation.txt"
SPLIT_FILES = {"train": "train_attr_list.txt", "valid": "val_attr_list.txt"}  # test_attr_list.txt is not used
ATTRIBUTES = ("Bangs", "Eyeglasses", "No_Beard", "Smiling", "Young")
SMILING = ATTRIBUTES.index("Smiling")  # the 4th attribute column

IMAGE_LAYOUTS = (
    ("celeba", "img_align_celeba"),  # torchvision.datasets.CelebA(root, download=True)
    ("img_align_celeba", "img_align_celeba"),  # the Kaggle mirror jessicali9530/celeba-dataset
    ("img_align_celeba",),  # the official zip unpacked
    (),  # a plain folder of JPEGs
)
LABEL_FOLDERS = ((), ("celeba_dialog",), ("CelebA-Dialog",), ("celeba-dialog",), ("celeba",))

WHERE_IMAGES = ("Get the aligned and cropped CelebA images with torchvision.datasets.CelebA(ROOT, download=True) "
                "(Google Drive; on a quota error use the Kaggle mirror jessicali9530/celeba-dataset) and point "
                f"${CELEBA_ENV} at ROOT.")
WHERE_LABELS = ("Get CelebA-Dialog's labels (combined_annotation.txt, train_attr_list.txt, val_attr_list.txt) from "
                "https://github.com/ziqihuangg/CelebA-Dialog (the Google Drive link in its README) and put them "
                f"in ${CELEBA_ENV} or a celeba_dialog/ folder inside it.")


def celeba_root() -> Path:
    """$HAPPY_CELEBA_DIR, or `celeba/` inside the data folder."""
    return Path(os.environ.get(CELEBA_ENV, get_paths().data / "celeba"))


@dataclass(frozen=True)
class CelebAFiles:
    """Where the images, the CelebA-Dialog labels and their split files are."""

    images: Path
    annotation: Path
    splits: dict[str, Path]


def _has_jpegs(folder: Path) -> bool:
    return folder.is_dir() and next(folder.glob("*.jpg"), None) is not None


def find_celeba(root: Path | None = None) -> CelebAFiles:
    """Find CelebA's images and CelebA-Dialog's labels under `root` in any of the known layouts."""
    root = Path(root) if root is not None else celeba_root()
    images = next((root.joinpath(*parts) for parts in IMAGE_LAYOUTS if _has_jpegs(root.joinpath(*parts))), None)
    if images is None:
        looked = ", ".join(str(root.joinpath(*p)) for p in IMAGE_LAYOUTS)
        raise FileNotFoundError(f"no CelebA images (*.jpg) found; looked in {looked}. {WHERE_IMAGES}")
    labels = next((root.joinpath(*parts) for parts in LABEL_FOLDERS if (root.joinpath(*parts) / ANNOTATION).exists()),
                  None)
    if labels is None:
        raise FileNotFoundError(f"CelebA-Dialog's {ANNOTATION} not found under {root}. {WHERE_LABELS}")
    missing = [name for name in SPLIT_FILES.values() if not (labels / name).exists()]
    if missing:
        raise FileNotFoundError(f"{labels} lacks {', '.join(missing)}. {WHERE_LABELS}")
    return CelebAFiles(images=images, annotation=labels / ANNOTATION,
                       splits={split: labels / name for split, name in SPLIT_FILES.items()})


def read_annotation(path: Path) -> dict[str, int]:
    """Image name -> Smiling level 0-5 from `combined_annotation.txt`; unlabeled rows are left out."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split() if lines else []
    if header[:1] != ["img_name"] or "Smiling" not in header:
        raise ValueError(f"{path} does not start with CelebA-Dialog's header 'img_name {' '.join(ATTRIBUTES)}'")
    column = header.index("Smiling")
    levels = {}
    for line in lines[1:]:
        fields = line.split()
        if len(fields) == len(header) and fields[column].isdigit() and int(fields[column]) <= 5:
            levels[fields[0]] = int(fields[column])
    return levels


def read_split(path: Path, levels: dict[str, int]) -> list[str]:
    """The labelled image names of a split file (one name per line, attribute columns after it), in file order."""
    names = [line.split()[0] for line in Path(path).read_text().splitlines() if line.strip()]
    return [n for n in names if n in levels]


def subsample(names: list[str], n: int, seed: int) -> list[str]:
    """A seeded subset of n names in their original order (all of them when there are at most n)."""
    if len(names) <= n:
        return list(names)
    pick = np.sort(np.random.default_rng(seed).choice(len(names), n, replace=False))
    return [names[i] for i in pick]


def load_celeba(split: str, cfg: Preset, root: Path | None = None, recipe: CropRecipe = CropRecipe(),
                progress: bool = True) -> FaceDataset:
    """The split's faces (the preset's number, a seeded subset), MTCNN-cropped once into the cache, with levels.

    Photos MTCNN cannot read or find a face in are skipped; `report.json` in the crop cache lists them.
    """
    files = find_celeba(root)
    levels = read_annotation(files.annotation)
    names = subsample(read_split(files.splits[split], levels),
                      cfg.train_size if split == "train" else cfg.valid_size, SPLIT_SEEDS[split])
    crop_dir = get_paths().cache / f"celeba-crops-{recipe.size}"
    crop_photos([files.images / n for n in names], crop_dir, recipe, progress=progress)
    crops = load_crops(crop_dir, names)
    if not len(crops):
        raise ValueError(f"none of the {len(names)} {split} photos gave a face crop; see {crop_dir / 'report.json'}")
    labels = torch.tensor([levels[n] for n in crops.names], dtype=torch.int64)
    spec = (f"celeba {split} n={len(crops.names)} crop={recipe.scale},{recipe.shift},{recipe.size} "
            f"photos={spec_key(list(crops.names))} levels={spec_key(labels.tolist())}")
    return FaceDataset(images=crops.images, labels=labels, spec=spec)
