"""The seam between data sources: the faces of a split, for a preset's size, from the synthetic world or CelebA.

Why: every stage after the data asks for the same thing, `load_faces(split, preset, source)`; the synthetic world is
rendered once and cached, CelebA is cropped once (MTCNN) and labelled with CelebA-Dialog's smile levels.
"""

from __future__ import annotations

from ..config import SPLIT_SEEDS, Preset, Source, get_paths
from .celeba import load_celeba
from .faces import FaceDataset, build_world


def load_faces(split: str, preset: Preset, source: Source = Source.SYNTHETIC) -> FaceDataset:
    """The faces of a split ('train' or 'valid') for the preset's size, from a resolved `source` (`get_source`)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLIT_SEEDS)}")
    if source == Source.CELEBA:
        return load_celeba(split, preset)
    n = preset.train_size if split == "train" else preset.valid_size
    return build_world(n, SPLIT_SEEDS[split], get_paths().cache / "world", name=split)
