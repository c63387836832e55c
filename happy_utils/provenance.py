"""What made an artifact, and how this machine's faces compare with the ones it was made from.

Why: a pretrained model or a cached feature set is taken whenever the same specification made it: the data's recipe
(source, sizes, seeds, the restricted-set rule, the renderer's version), the model and its training settings. Its key
is a hash of that specification, never of float-computed pixels: CPUs round floats differently (measured here: torch's
generic kernels instead of AVX-512 change 53 of 146 million values of the laptop training faces, each by one level),
so a pixel hash sent every machine unlike the maker's into an hour of retraining. The pixels are still recorded, per
face, so that a difference is measured and said in one line.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch


def spec_key(spec: dict | list | str) -> str:
    """A short hash of a specification (JSON of names, integers, strings and configured constants; no computed
    floats), the name of what it makes."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _face_hashes(flat: np.ndarray) -> list[int]:
    return [int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little", signed=True)
            for row in flat]


def record_pixels(images: torch.Tensor) -> dict:
    """Per face of a uint8 set, a hash and the sum of its pixel values: what `compare_pixels` measures against."""
    if images.dtype != torch.uint8:
        raise ValueError(f"record the pixels of stored (uint8) images, got {images.dtype}")
    flat = np.ascontiguousarray(images.reshape(len(images), -1).numpy())
    return {"faces": len(flat), "values_per_face": int(flat.shape[1]) if len(flat) else 0,
            "hash": torch.tensor(_face_hashes(flat), dtype=torch.int64),
            "sum": torch.from_numpy(flat.sum(axis=1, dtype=np.int32))}


def compare_pixels(recorded: dict, images: torch.Tensor) -> str | None:
    """None when `images` are, face by face, the recorded ones; else one line that says how they differ: how many
    faces, and by how much their pixel sums moved (one value off by one level moves it by 1)."""
    now = record_pixels(images)
    if now["faces"] == recorded["faces"]:
        differ = now["hash"] != recorded["hash"]
        if not bool(differ.any()):
            return None
        moved = int((now["sum"].long() - recorded["sum"].long())[differ].abs().max())
        return (f"{int(differ.sum()):,} of {now['faces']:,} faces differ in their pixels from those it was made "
                f"from; their pixel sums ({now['values_per_face']:,} values of 0-255 a face) moved by at most {moved}")
    here, then = Counter(now["hash"].tolist()), Counter(recorded["hash"].tolist())
    return (f"{now['faces']:,} faces here, {recorded['faces']:,} when it was made; {sum((here - then).values()):,} "
            f"of these are not among those")


def _cpu() -> str:
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def made_with() -> dict:
    """The machine and versions an artifact was made with (recorded beside it, never part of its key)."""
    return {"python": sys.version.split()[0], "torch": str(torch.__version__), "numpy": np.__version__, "cpu": _cpu(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "platform": platform.platform()}
