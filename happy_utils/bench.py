"""Benchmarks: `python -m happy_utils bench NAME [--json]` prints a table that compares variants side by side.

Why: speed targets are shown by measurement in one run on the machine at hand, never asserted in timed unit tests.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch

from . import world
from .config import PRESETS, device
from .data import build_world, render_faces

DATA_TARGET_IMAGES_PER_S = 2000


def _throughput(fn, n: int, repeats: int = 3) -> float:
    """Best of a few runs, in items per second (the first call also warms up)."""
    fn()
    best = min(_seconds(fn) for _ in range(repeats))
    return n / best


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    line = lambda vals: "  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in
                                  enumerate(zip(vals, widths)))
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line([r[c] for c in columns]) for r in rows])


def bench_data(n: int = 8192, as_json: bool = False) -> dict:
    """Rendering throughput of the synthetic world: batch sizes, one thread against all, and the cache."""
    params = world.sample_faces(n, seed=0)
    threads = torch.get_num_threads()
    rows = []

    def add(variant: str, fn, items: int = n):
        rows.append({"variant": variant, "images_per_s": round(_throughput(fn, items))})

    for batch in (64, 128, 512):
        add(f"render, batch {batch}, {threads} threads" + (" (default)" if batch == 128 else ""),
            lambda b=batch: world.render(params, batch_size=b))
    torch.set_num_threads(1)
    try:
        add("render, batch 128, 1 thread", lambda: world.render(params))
    finally:
        torch.set_num_threads(threads)
    add("sample parameters only", lambda: world.sample_faces(n, seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        build_world(n, 0, Path(tmp), name="bench")  # render and write the cache once
        add("load a built data set from its cache", lambda: build_world(n, 0, Path(tmp), name="bench"))
    default = next(r["images_per_s"] for r in rows if "(default)" in r["variant"])
    result = {"bench": "data", "images": n, "threads": threads, "images_per_s": default,
              "target_images_per_s": DATA_TARGET_IMAGES_PER_S, "meets_target": default >= DATA_TARGET_IMAGES_PER_S,
              "rows": rows}
    if as_json:
        print(json.dumps(result))
    else:
        print(_table(rows, ["variant", "images_per_s"]))
        print(f"\ndefault renderer: {default} images/s on {threads} threads "
              f"(target >= {DATA_TARGET_IMAGES_PER_S}: {'met' if result['meets_target'] else 'NOT met'})")
    return result


def bench_vqvae(n: int = 1024, as_json: bool = False) -> dict:
    """VQ-VAE throughput per preset (its width and batch size): training, encoding and decoding, in images/s."""
    from .vqvae import VQVAE, VQVAEConfig, count_parameters, train_vqvae

    images = render_faces(n, seed=0, progress=False).images
    dev = device()
    rows = []
    for preset in ("paper", "laptop", "smoke"):
        width, batch = PRESETS[preset].vqvae_width, PRESETS[preset].vqvae_batch_size
        model = VQVAE(VQVAEConfig(width=width)).to(dev)
        train_vqvae(model, images[:256], epochs=1, batch_size=batch, progress=False)  # warm-up
        train = n / train_vqvae(model, images, epochs=1, batch_size=batch, progress=False).seconds
        codes = model.encode(images)
        rows.append({"preset": preset, "width": width, "batch": batch, "parameters": count_parameters(model),
                     "train_images_per_s": round(train, 1),
                     "encode_images_per_s": round(_throughput(lambda: model.encode(images), n)),
                     "decode_images_per_s": round(_throughput(lambda: model.decode(codes), n))})
    by = {r["preset"]: r for r in rows}
    result = {"bench": "vqvae", "device": str(dev), "threads": torch.get_num_threads(), "images": n,
              "paper_width_train_images_per_s": by["paper"]["train_images_per_s"],
              "laptop_width_train_images_per_s": by["laptop"]["train_images_per_s"], "rows": rows}
    if as_json:
        print(json.dumps(result))
    else:
        print(_table(rows, list(rows[0])))
    return result


BENCHMARKS = {"data": bench_data, "vqvae": bench_vqvae}
