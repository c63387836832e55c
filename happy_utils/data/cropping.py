"""Face cropping with MTCNN: photos in, 64x64 face crops out, resumable, with a report of what was skipped.

Why: the paper (appendix A.5) trains on CelebA faces cropped to MTCNN's box and resized to 64x64. `facenet-pytorch`
ships MTCNN's weights in its wheel, so this runs offline. The square crop follows Talk-to-Edit's recipe by default
(the largest face; half side 0.55 x the mean box side; the centre moved down by 0.15 x the half side; replicate
padding where the square leaves the photo; area resampling). A photo without a face, or one that cannot be read,
is skipped, counted and listed in `report.json`, never a crash. Crops land in shards of one `.npz` each with
`index.json` naming them, written after every shard, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from ..config import device as default_device
from ..files import atomic_path, write_text

CROP_SIZE = 64
INDEX, REPORT = "index.json", "report.json"
CELEBA_SIZE = (178, 218)  # width, height of CelebA's img_align_celeba photos


@dataclass(frozen=True)
class CropRecipe:
    """The square around a detected box: half side = scale / 2 x mean box side, centre shifted down by shift x half."""

    scale: float = 1.1  # Talk-to-Edit: crop = mean side / 2 * 1.1
    shift: float = 0.15  # Talk-to-Edit: centre moved down by 0.15 x crop, towards mouth and chin
    size: int = CROP_SIZE


def square_box(box, recipe: CropRecipe = CropRecipe()) -> tuple[int, int, int]:
    """(left, top, side) in pixels of the recipe's square around an MTCNN box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    half = ((x1 - x0) + (y1 - y0)) / 2 / 2 * recipe.scale
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + recipe.shift * half
    side = max(1, int(round(2 * half)))
    return int(round(cx - half)), int(round(cy - half)), side


def crop_face(image: np.ndarray, box, recipe: CropRecipe = CropRecipe()) -> np.ndarray:
    """The recipe's square of an (H, W, 3) uint8 photo, edge-replicated where it leaves the photo, area-resized."""
    left, top, side = square_box(box, recipe)
    h, w = image.shape[:2]
    pad = ((max(0, -top), max(0, top + side - h)), (max(0, -left), max(0, left + side - w)), (0, 0))
    padded = np.pad(image, pad, mode="edge")
    top, left = top + pad[0][0], left + pad[1][0]
    square = padded[top:top + side, left:left + side]
    return np.asarray(Image.fromarray(square).resize((recipe.size, recipe.size), Image.Resampling.BOX))


def read_photo(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB; a truncated or unreadable file raises OSError."""
    try:
        with Image.open(path) as im:
            im.load()  # decodes fully: a truncated JPEG fails here, not later
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise OSError(f"cannot decode {path.name}: {err}") from err


class FaceDetector:
    """MTCNN from facenet-pytorch with its packaged weights, on the GPU when there is one: the largest face first."""

    def __init__(self, dev: torch.device | str | None = None, min_face_size: int = 20):
        from facenet_pytorch import MTCNN  # imported here: the synthetic path never needs it

        self.device = torch.device(dev) if dev is not None else default_device()
        self.mtcnn = MTCNN(select_largest=True, min_face_size=min_face_size, device=self.device)

    def largest_faces(self, photos: list[np.ndarray]) -> list[tuple[np.ndarray, float] | None]:
        """Per photo, the largest face's box (x0, y0, x1, y1) and probability, or None. Batches equal sizes."""
        found: list[tuple[np.ndarray, float] | None] = [None] * len(photos)
        by_size: dict[tuple, list[int]] = {}
        for i, photo in enumerate(photos):
            by_size.setdefault(photo.shape, []).append(i)
        for members in by_size.values():
            boxes, probs = self.mtcnn.detect(np.stack([photos[i] for i in members]))
            for i, box, prob in zip(members, boxes, probs):
                if box is not None and len(box):
                    found[i] = (np.asarray(box[0], dtype=np.float32), float(prob[0]))
        return found


@dataclass
class Crops:
    """Cropped faces: uint8 images (N, 3, 64, 64) in the order of `names`, with the detected boxes."""

    names: list[str]
    images: torch.Tensor
    boxes: np.ndarray  # (N, 4) float32, in the photo's pixels

    def __len__(self) -> int:
        return len(self.names)


def _read_index(out_dir: Path, recipe: CropRecipe) -> tuple[dict, dict]:
    index_path, report_path = out_dir / INDEX, out_dir / REPORT
    if not index_path.exists():
        return {"recipe": asdict(recipe), "shards": []}, {"cropped": 0, "no_face": [], "unreadable": []}
    index = json.loads(index_path.read_text())
    if index.get("recipe") != asdict(recipe):
        raise ValueError(f"{out_dir} holds crops made with {index.get('recipe')}, not {asdict(recipe)}: "
                         "choose another folder or delete this one")
    return index, json.loads(report_path.read_text())


def crop_photos(paths: list[Path], out_dir: Path, recipe: CropRecipe = CropRecipe(), batch_size: int = 256,
                detector: FaceDetector | None = None, progress: bool = True) -> dict:
    """Crop the largest face of every photo into `out_dir`, skipping photos done before; returns the report.

    The report counts the crops and lists, by name and reason, the photos without a face and the unreadable ones.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index, report = _read_index(out_dir, recipe)
    done = {name for shard in index["shards"] for name in shard["names"]}
    done |= {f["name"] for f in report["no_face"] + report["unreadable"]}
    todo = [Path(p) for p in paths if Path(p).name not in done]
    detector = detector if detector is not None or not todo else FaceDetector()
    bar = tqdm(total=len(paths), initial=len(paths) - len(todo), desc="cropping faces", disable=not progress)
    for start in range(0, len(todo), batch_size):
        chunk, photos = [], []
        for path in todo[start:start + batch_size]:
            try:
                photos.append(read_photo(path))
                chunk.append(path)
            except OSError as err:
                report["unreadable"].append({"name": path.name, "reason": str(err)})
        names, crops, boxes = [], [], []
        for path, photo, face in zip(chunk, photos, detector.largest_faces(photos) if photos else []):
            if face is None:
                report["no_face"].append({"name": path.name, "reason": "MTCNN found no face"})
                continue
            names.append(path.name)
            crops.append(crop_face(photo, face[0], recipe).transpose(2, 0, 1))
            boxes.append(face[0])
        if names:
            shard = f"crops-{len(index['shards']):05d}.npz"
            with atomic_path(out_dir / shard) as tmp:
                np.savez(tmp, images=np.stack(crops), names=np.array(names), boxes=np.stack(boxes))
            index["shards"].append({"file": shard, "names": names})
        report["cropped"] = sum(len(s["names"]) for s in index["shards"])
        write_text(out_dir / REPORT, json.dumps(report, indent=1))
        write_text(out_dir / INDEX, json.dumps(index, indent=1))
        bar.update(len(todo[start:start + batch_size]))
    bar.close()
    return report


def load_crops(out_dir: Path, names: list[str] | None = None) -> Crops:
    """The crops in `out_dir` (all, or those of `names` that were cropped, in that order)."""
    out_dir = Path(out_dir)
    if not (out_dir / INDEX).exists():
        raise FileNotFoundError(f"no crops in {out_dir} (no {INDEX}): crop the photos first with `crop_photos`")
    index = json.loads((out_dir / INDEX).read_text())
    all_names, images, boxes = [], [], []
    for shard in index["shards"]:
        with np.load(out_dir / shard["file"]) as z:
            all_names += z["names"].tolist()
            images.append(z["images"])
            boxes.append(z["boxes"])
    images = np.concatenate(images) if images else np.zeros((0, 3, CROP_SIZE, CROP_SIZE), np.uint8)
    boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
    if names is not None:
        where = {n: i for i, n in enumerate(all_names)}
        pick = [where[n] for n in names if n in where]
        all_names, images, boxes = [all_names[i] for i in pick], images[pick], boxes[pick]
    return Crops(names=all_names, images=torch.from_numpy(np.ascontiguousarray(images)), boxes=boxes)


def astronaut_photos(n: int, seed: int = 0) -> list[np.ndarray]:
    """n CelebA-sized photos of the astronaut's face, each framed, flipped and lit differently.

    `skimage.data.astronaut()` is the one real photo with a face available offline; its variants stand in for
    CelebA in the tests, the notebook and `bench celeba`.
    """
    from skimage import data

    photo = Image.fromarray(data.astronaut())  # her face is at about x 181-268, y 62-172
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        half = rng.uniform(95, 130)
        cx, cy = 224 + rng.uniform(-15, 15), 125 + rng.uniform(-10, 15)
        box = (int(cx - half), int(cy - half * 1.22), int(cx + half), int(cy + half * 1.22))
        arr = np.asarray(photo.crop(box).resize(CELEBA_SIZE, Image.Resampling.BICUBIC), dtype=np.float32)
        arr = arr * rng.uniform(0.75, 1.15)
        out.append(np.clip(arr[:, ::-1] if rng.random() < 0.5 else arr, 0, 255).astype(np.uint8))
    return out
