"""Benchmarks: `python -m happy_utils bench NAME [--json]` prints a table that compares variants side by side.

Why: speed targets are shown by measurement in one run on the machine at hand, never asserted in timed unit tests.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from ..code_support import CodeSupport
from ..config import PRESETS, Source, device, get_preset
from ..data import world
from ..data.cropping import FaceDetector, astronaut_photos, crop_face, crop_photos
from ..data.faces import build_world, render_faces
from ..generators.training import count_parameters
from ..generators.vqvae import VQVAE, VQVAEConfig, train_step, train_vqvae
from ..latents import label_latents, latent_set
from ..loop import query, torch_threads
from ..proposers.base import Proposal
from ..proposers.manifold import ManifoldGuard
from ..proposers.mio import optimize
from ..records import RunDir
from ..scorers.fid import Features, inception_features, world_features
from ..scorers.loading import load_realism, load_scorer, load_scorers
from ..scorers.predictor import AttributePredictor
from ..surrogates.fit_set import best_and_random
from ..surrogates.holdout import holdout_split, r2_score
from ..surrogates.trees import N_VALUES, fit_trees
from .costs import seed_cost, timed, unit_costs
from .fanout import Job, run_jobs
from .planted import planted_codes
from .run import start_run
from .spec import RunSpec

DATA_TARGET_IMAGES_PER_S = 2000


def _throughput(fn, n: int, repeats: int = 3) -> float:
    """Best of a few runs, in items per second (the first call also warms up)."""
    fn()
    best = min(timed(fn) for _ in range(repeats))
    return n / best


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]

    def line(values: list) -> str:
        return "  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

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


def bench_mio(n: int = 3000, as_json: bool = False, draws: int = 5, free_cells: int = 8, preset: str | None = None
              ) -> dict:
    """ENTMOOT's full MIO against the pruned, value-classed one, at paper scale: 800 trees, 64 cells x 256 values.

    Codes: `planted_codes(n)` by default, or with `preset` the restricted training codes of that preset's VQ-VAE
    labelled with the oracle's scores of their decoded images (trains the VQ-VAE if it is not cached).
    """
    if preset is None:
        codes, scores = planted_codes(n, seed=0)
        source = f"planted codes, n={n}"
    else:
        latent = latent_set(get_preset(preset))
        codes, scores = latent.rows, latent.labels
        source = f"{preset} preset: restricted training codes, decoded-oracle scores, n={len(codes)}"
    surrogate = fit_trees(codes, scores, n_trees=800)
    cells = surrogate.top_cells(free_cells)
    bases = codes[np.random.default_rng(1).choice(len(codes), size=draws, replace=False)]
    variants = {"entmoot full model, HiGHS": ("full", "highs"), "pruned + value classes, HiGHS": ("pruned", "highs"),
                "pruned + value classes, Gurobi": ("pruned", "gurobi")}
    runs = {name: [optimize(surrogate, b, cells, method=m, solver=s) for b in bases]
            for name, (m, s) in variants.items()}
    reference = [r.objective for r in runs["entmoot full model, HiGHS"]]
    rows = []
    for name, results in runs.items():
        used = {r.solver for r in results}
        rows.append({
            "variant": name if used == {variants[name][1]} else f"{name} (licence refused: ran {', '.join(used)})",
            "median_s": round(float(np.median([r.seconds for r in results])), 3),
            "max_s": round(max(r.seconds for r in results), 3),
            "median_build_s": round(float(np.median([r.build_seconds for r in results])), 3),
            "variables": int(np.median([r.n_vars for r in results])),
            "constraints": int(np.median([r.n_constraints for r in results])),
            "status": ",".join(sorted({r.status for r in results})),
            "same_optimum": all(r.objective is not None and abs(r.objective - ref) <= 1e-6 * max(1, abs(ref))
                                for r, ref in zip(results, reference)),
        })
    full, pruned = rows[0]["median_s"], rows[1]["median_s"]
    guarded = _guarded_rows(surrogate, codes, bases, cells, runs["pruned + value classes, HiGHS"])
    result = {"bench": "mio", "source": source, "trees": 800, "t": free_cells, "draws": draws,
              "full_median_s": full, "pruned_median_s": pruned, "speedup": round(full / pruned, 1),
              "optima_agree": all(r["same_optimum"] for r in rows), "rows": rows, "guarded": guarded}
    if as_json:
        print(json.dumps(result))
    else:
        print(f"{source}; 800 trees, t = {free_cells}, {draws} fixed-code draws; seconds include building the model\n")
        print(_table(rows, list(rows[0])))
        print(f"\nspeedup of the pruned model with HiGHS: {result['speedup']}x (target >= 5x); "
              f"median {pruned} s (target <= 0.5 s); optima agree: {result['optima_agree']}")
        print("\nthe guarded programs (beyond the paper) on the same draws, HiGHS; each solves its own program, so "
              "its optimum is the trees' value within the guard, at most the unguarded one:\n")
        print(_table(guarded, list(guarded[0])))
    return result


#: The guards `bench mio` times beside the unguarded program: (name, guard, trust radius).
BENCH_GUARDS = (("supported codes (>= 5)", ManifoldGuard(min_count=5), None),
                ("compatible neighbours", ManifoldGuard(neighbours=True), None),
                ("supported + neighbours", ManifoldGuard(min_count=5, neighbours=True), None),
                ("pairwise prior, lambda 0.05", ManifoldGuard(prior_weight=0.05), None),
                ("trust region, radius 2", ManifoldGuard(trust_region=True), 2))


def _guarded_rows(surrogate, codes: np.ndarray, bases: np.ndarray, cells: np.ndarray, plain: list) -> list[dict]:
    """Each guard's program on the same bases, beside the unguarded one: time, size, and what the guard costs the
    trees' value."""
    support = CodeSupport.of(codes.reshape(-1, 8, 8), N_VALUES)
    rows = [{"program": "unguarded", "median_s": round(float(np.median([r.seconds for r in plain])), 3),
             "variables": int(np.median([r.n_vars for r in plain])),
             "constraints": int(np.median([r.n_constraints for r in plain])), "trees_value_lost": 0.0,
             "unseen_pairs": float(np.mean([support.unseen_pairs(r.code) for r in plain]))}]
    for name, guard, radius in BENCH_GUARDS:
        results = [optimize(surrogate, b, cells, guard=guard, support=support, max_changed=radius) for b in bases]
        rows.append({"program": name, "median_s": round(float(np.median([r.seconds for r in results])), 3),
                     "variables": int(np.median([r.n_vars for r in results])),
                     "constraints": int(np.median([r.n_constraints for r in results])),
                     "trees_value_lost": round(float(np.mean([p.value - r.value for p, r in zip(plain, results)])), 4),
                     "unseen_pairs": float(np.mean([support.unseen_pairs(r.code) for r in results]))})
    return rows


def bench_surrogate(n: int = 40, as_json: bool = False, preset: str | None = None) -> dict:
    """The surrogate's choices side by side on a preset's real codes (laptop by default): held-out R^2 per target
    (raw f(x), decoded f(d(e(x)))) and fit set (all, 2,000 best + 8,000 random, 1,000 + 4,000) on two splits, and gain
    against split importance for the free cells (n single queries from the same faces, t = the preset's)."""
    cfg = get_preset(preset or "laptop")
    scorers = load_scorers(Source.SYNTHETIC)
    data = latent_set(cfg, Source.SYNTHETIC, target="raw", scorer=scorers["oracle"])
    codes = data.rows
    labels = {"raw": data.labels, "decoded": label_latents(data.generator, data.latents, scorers["oracle"])}
    rows = []
    for target, y in labels.items():
        for name, fit_set in (("all", None), ("2,000 + 8,000", (2_000, 8_000)), ("1,000 + 4,000", (1_000, 4_000))):
            r2s, fits = [], []
            for seed in (0, 1):
                test, train = holdout_split(len(codes), 0.2, seed)
                fitted = train if fit_set is None else train[best_and_random(y[train], *fit_set, seed=seed)]
                start = time.perf_counter()
                model = fit_trees(codes[fitted], y[fitted], n_trees=cfg.surrogate_trees, seed=seed)
                fits.append(time.perf_counter() - start)
                r2s.append(r2_score(y[test], model.predict(codes[test])))
            rows.append({"target": target, "fit set": name, "points": len(fitted),
                         "heldout_r2": " / ".join(f"{r:.3f}" for r in r2s), "fit_s": round(float(np.mean(fits)), 2)})
    surrogate = fit_trees(codes, labels["raw"], n_trees=cfg.surrogate_trees)
    starts = np.random.default_rng(0).choice(len(codes), n, replace=False)
    importance = {}
    for kind in ("gain", "split"):
        cells = surrogate.top_cells(cfg.free_cells, kind)
        scores = [query(data.generator, int(i), codes[i], Proposal(optimize(surrogate, codes[i], cells).code, {}, 0, 0),
                        scorers["oracle"], scorers["judge"]) for i in starts]
        importance[kind] = {"cells": sorted(divmod(int(c), 8) for c in cells),
                            "oracle": round(float(np.mean([q.score for q in scores])), 3),
                            "oracle_se": round(float(np.std([q.score for q in scores]) / np.sqrt(n)), 3),
                            "judge": round(float(np.mean([q.judge for q in scores])), 3)}
    result = {"bench": "surrogate", "preset": cfg.name, "codes": len(codes), "trees": cfg.surrogate_trees,
              "rows": rows, "importance": importance}
    if as_json:
        print(json.dumps(result))
    else:
        print(f"{cfg.name} preset: {len(codes)} restricted codes, {cfg.surrogate_trees} trees, 20% held out "
              "(two splits)\n")
        print(_table(rows, ["target", "fit set", "points", "heldout_r2", "fit_s"]))
        print(f"\n{n} single queries, t = {cfg.free_cells}, raw target: mean score of the query")
        for kind, r in importance.items():
            print(f"  {kind:5s} importance: oracle {r['oracle']} ± {r['oracle_se']}, judge {r['judge']}; "
                  f"cells {r['cells']}")
    return result


def bench_celeba(n: int = 256, as_json: bool = False) -> dict:
    """The CelebA path's throughput per device: MTCNN cropping (batched, and the whole resumable folder job with
    JPEG decoding and shard writing) and the Talk-to-Edit predictor (random weights: speed does not depend on them)."""
    photos = astronaut_photos(n)
    faces = torch.rand(n, 3, 64, 64)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for dev in devices:
        detector = FaceDetector(dev)
        for batch in (32, 128):
            def crop(b=batch):
                for start in range(0, n, b):
                    chunk = photos[start:start + b]
                    for photo, face in zip(chunk, detector.largest_faces(chunk)):
                        crop_face(photo, face[0])
            rows.append({"device": dev, "step": "MTCNN detect + crop (in memory)", "batch": batch,
                         "images_per_s": round(_throughput(crop, n, repeats=1), 1)})
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for i, photo in enumerate(photos):
                paths.append(Path(tmp) / f"{i:06d}.jpg")
                Image.fromarray(photo).save(paths[-1], quality=95)
            seconds = timed(lambda: crop_photos(paths, Path(tmp) / "crops", batch_size=128, detector=detector,
                                                   progress=False))
            rows.append({"device": dev, "step": "crop_photos: read JPEG, detect, crop, write shards", "batch": 128,
                         "images_per_s": round(n / seconds, 1)})
        net = AttributePredictor().to(dev).eval()
        for batch in (64, 256):
            rows.append({"device": dev, "step": "predictor score (64 -> 128, ResNet-50)", "batch": batch,
                         "images_per_s": round(_throughput(lambda b=batch: net.score(faces, batch_size=b), n,
                                                           repeats=1), 1)})
    result = {"bench": "celeba", "images": n, "threads": torch.get_num_threads(), "devices": devices, "rows": rows}
    if as_json:
        print(json.dumps(result))
    else:
        print(_table(rows, ["device", "step", "batch", "images_per_s"]))
        if devices == ["cpu"]:
            print("\nno CUDA GPU here: run this on a GPU machine (e.g. Colab) for the GPU rows")
    return result


def bench_quality(n: int = 200, as_json: bool = False) -> dict:
    """The quality measures' throughput beside the renderer and the oracle: realism (inverse network, re-render,
    distance), world features, InceptionV3 pool3 (the FID's cost), in images/s on this machine."""
    params = world.sample_faces(n, seed=0)
    images = world.render(params)
    oracle, realism = load_scorer("oracle"), load_realism(Source.SYNTHETIC)
    inception, world_feats = inception_features(), world_features(realism)
    rows = []
    for step, fn, items in (("render (the synthetic world)", lambda: world.render(params), n),
                            ("oracle score", lambda: oracle.score(images), n),
                            ("realism: inverse net + re-render + distance", lambda: realism.assess(images), n),
                            ("world features (512)", lambda: world_feats(images), n),
                            ("InceptionV3 pool3 (resize to 299)", lambda: inception(images[:min(n, 100)]),
                             min(n, 100))):
        rows.append({"step": step, "images_per_s": round(_throughput(fn, items, repeats=1), 1)})
    by = {r["step"].split(" ")[0]: r["images_per_s"] for r in rows}
    gflop = _gflop_per_image(inception)
    result = {"bench": "quality", "images": n, "threads": torch.get_num_threads(), "rows": rows,
              "realism_images_per_s": by["realism:"], "inception_images_per_s": by["InceptionV3"],
              "inception_seconds_for_2000": round(2000 / by["InceptionV3"], 1),
              "inception_gflop_per_image": round(gflop, 2),
              "inception_gflop_per_s": round(gflop * by["InceptionV3"], 1),
              "inception_gflop_per_s_for_2000_in_60s": round(gflop * 2000 / 60, 1)}
    if as_json:
        print(json.dumps(result))
    else:
        print(_table(rows, ["step", "images_per_s"]))
        print(f"\nrealism: {by['realism:']} images/s (target >= 500); InceptionV3 features of 2,000 faces: "
              f"{result['inception_seconds_for_2000']} s (target <= 60 s): {result['inception_gflop_per_image']} "
              f"GFLOP per image at {result['inception_gflop_per_s']} GFLOP/s; 60 s would take "
              f"{result['inception_gflop_per_s_for_2000_in_60s']} GFLOP/s")
    return result


def _gflop_per_image(features: Features) -> float:
    """Floating-point operations of one image through a feature extractor, counted by torch (multiply-add = 2)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        features(torch.zeros(1, 3, 64, 64))
    return counter.get_total_flops() / 1e9


def _bench_jobs(preset: str, n: int, seeds: list[int], folder: Path) -> list[Job]:
    """Jobs of `vqvae-wr` at `preset`, n queries per seed, in `folder`, with the stages before the loop done."""
    spec = RunSpec.resolve(preset, Source.SYNTHETIC, "vqvae-wr", seeds, budget=n)
    with torch_threads(1):
        return start_run(spec, folder, progress=False).jobs()


def bench_loop(n: int = 10, as_json: bool = False, preset: str | None = None) -> dict:
    """Seconds per stage per query of `vqvae-wr` (one seed, n queries, one thread: a task's share of the cores):
    measured over the n queries, and projected over the preset's whole budget, where the first fine-tune (a full
    epoch) is paid once and each later cycle's (a tenth of one, then the re-encode) every r queries."""
    cfg = get_preset(preset)
    if n <= cfg.retrain_every:
        raise ValueError(f"--n must exceed the {cfg.name} preset's r = {cfg.retrain_every} (a first and a later "
                         f"fine-tune to project from), got {n}")
    with tempfile.TemporaryDirectory() as tmp:
        (job,) = _bench_jobs(cfg.name, n, [0], Path(tmp))
        start = time.perf_counter()
        _, errors = run_jobs([job], workers=1, progress=False)
        wall = time.perf_counter() - start
        if errors:
            raise RuntimeError(f"bench loop failed: {errors}")
        records = RunDir.existing(job.seed_dir).records()
    result = {"bench": "loop", "preset": cfg.name, "queries": len(records), "threads": 1,
              "rows": _loop_stages(records, cfg.budget, cfg.retrain_every),
              "wall_seconds_per_query": round(wall / len(records), 3), "budget": cfg.budget}
    result["seconds_per_query"] = result["rows"][-1]["measured"]
    result["projected_seconds_per_query"] = result["rows"][-1]["projected"]
    if as_json:
        print(json.dumps(result))
    else:
        print(_table(result["rows"], ["stage", "measured", "projected"]))
        print(f"\n{cfg.name}, vqvae-wr, one thread, s per query: {result['seconds_per_query']} measured over "
              f"{len(records)} queries ({result['wall_seconds_per_query']} wall, with loading the start latents); "
              f"{result['projected_seconds_per_query']} projected over the budget of {cfg.budget} "
              f"(goal at laptop: <= 2.0 s on 2 cores)")
    return result


def _loop_stages(records: list[dict], budget: int, every: int) -> list[dict]:
    """Per stage: mean seconds per query over the records, and projected over `budget` queries with a fine-tune
    every `every`: per-query stages as measured, the first cycle once, later cycles at their measured mean. Rows a
    query's base reads after its cycle began are encoded then (`LatentRows`): their seconds join the re-encode."""
    per_query = {k.removesuffix("_s"): float(np.mean([r["times"][k] for r in records]))
                 for k in records[0]["times"] if k != "retrain_s"}
    retrains = [r["retrain"] for r in records if r["retrain"]]
    if len(retrains) < 2:
        raise ValueError(f"projecting needs a first and a later fine-tune: run more than r = {every} queries "
                         f"(--n {every + 1} or more), got {len(records)} with {len(retrains)} fine-tune(s)")
    between = sum(r["times"]["retrain_s"] for r in records if not r["retrain"]) / len(records)
    parts = {"fine-tune": ([x["finetune_s"] for x in retrains], 0.0),
             "re-encode": ([x["seconds"] - x["finetune_s"] for x in retrains], between)}
    cycles = -(-budget // every)
    rows = [{"stage": k, "measured": round(v, 3), "projected": round(v, 3)} for k, v in per_query.items()]
    for name, (seconds, extra) in parts.items():
        later = float(np.mean(seconds[1:]))
        rows.append({"stage": f"{name} (first: {seconds[0]:.1f} s, later: {later:.1f} s each)",
                     "measured": round(sum(seconds) / len(records) + extra, 3),
                     "projected": round((seconds[0] + (cycles - 1) * later) / budget + extra, 3)})
    rows.append({"stage": "total", "measured": round(sum(r["measured"] for r in rows), 3),
                 "projected": round(sum(r["projected"] for r in rows), 3)})
    return rows


def _vqvae_gflop(cfg) -> tuple[float, float]:
    """GFLOP of encoding one image and of one training step of the preset's batch, counted by torch."""
    vq = VQVAE(VQVAEConfig(width=cfg.vqvae_width))
    images = torch.randint(0, 256, (cfg.vqvae_batch_size, 3, 64, 64), dtype=torch.uint8)
    with FlopCounterMode(display=False) as count:
        vq.encode(images)
    encode = count.get_total_flops() / len(images) / 1e9
    with FlopCounterMode(display=False) as count:
        train_step(vq, torch.optim.Adam(vq.parameters()), images.float() / 255)
    return encode, count.get_total_flops() / 1e9


def bench_stages(n: int = 100_000, as_json: bool = False, preset: str | None = None) -> dict:
    """The unit costs of a `vqvae-wr` query's stages at a preset's sizes (the VQ-VAE's width and batch size, its trees,
    fit set and t), from random weights and planted codes on one thread, and one seed's cost projected from them for
    n restricted faces: what the paper preset costs without its data (CelebA) or a trained model."""
    cfg = get_preset(preset or "paper")
    units = unit_costs(cfg, n)
    encode_s, step_s, fit_s, solve_s, dev = units.encode_s, units.step_s, units.fit_s, units.solve_s, units.device
    rows = seed_cost(cfg, n, units)
    encode_gflop, step_gflop = _vqvae_gflop(cfg)
    convolutions = [r for r in rows if "steps" in r or "encoded" in r]  # the fine-tunes and the re-encode
    gflop = sum(r.get("steps", 0) * step_gflop + r.get("encoded", 0) * encode_gflop for r in convolutions)
    conv_s = sum(r["seconds"] for r in convolutions)
    for r in rows:
        r["seconds"], r["hours"] = round(r["seconds"], 2), round(r["seconds"] / 3600, 2)
    result = {"bench": "stages", "preset": cfg.name, "device": str(dev), "threads": 1, "restricted_faces": n,
              "encode_s_per_image": round(encode_s, 5), "finetune_s_per_step": round(step_s, 3),
              "fit_s": round(fit_s, 3), "solve_s": round(solve_s, 3), "rows": rows,
              "seconds_per_query": round(sum(r["seconds"] for r in rows[:-1]) / cfg.budget, 2),
              "gflop_per_step": round(step_gflop, 2), "gflop_per_encode": round(encode_gflop, 3),
              "vqvae_gflop_per_query": round(gflop / cfg.budget, 1),
              "vqvae_gflop_per_s": round(gflop / conv_s, 1)}
    if as_json:
        print(json.dumps(result))
    else:
        print(f"{cfg.name} sizes on {dev}, one thread: encode {encode_s * 1000:.2f} ms per image, fine-tune step of "
              f"{cfg.vqvae_batch_size} {step_s:.3f} s, fit {fit_s:.2f} s, MIO {solve_s:.3f} s\n")
        print(_table(rows, ["stage", "seconds", "hours"]))
        print(f"\none vqvae-wr seed of {cfg.budget} queries over {n} restricted faces: {rows[-1]['hours']} h, "
              f"{result['seconds_per_query']} s per query")
        print(f"a training step {step_gflop:.2f} GFLOP, an encode {encode_gflop:.3f} GFLOP per face (torch's count); "
              f"the fine-tunes and the re-encode: {result['vqvae_gflop_per_query']} GFLOP per query, "
              f"run here at {result['vqvae_gflop_per_s']} GFLOP/s: a query's floor on a device of P GFLOP/s is "
              f"{result['vqvae_gflop_per_query']} / P s")
    return result


def bench_scale(n: int = 5, as_json: bool = False, preset: str | None = None) -> dict:
    """Throughput of the same four `vqvae-wr` seeds (n queries each) with 1 and with 2 workers (Ray tasks of one
    thread each), in queries per second, side by side in one run."""
    preset = get_preset(preset).name
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            jobs = _bench_jobs(preset, n, [0, 1, 2, 3], Path(tmp) / f"workers{workers}")
            start = time.perf_counter()
            _, errors = run_jobs(jobs, workers=workers, progress=False)
            wall = time.perf_counter() - start
            if errors:
                raise RuntimeError(f"bench scale failed with {workers} workers: {errors}")
            rows.append({"workers": workers, "seeds": len(jobs), "queries": n * len(jobs), "seconds": round(wall, 1),
                         "queries_per_s": round(n * len(jobs) / wall, 3)})
    speedup = round(rows[1]["queries_per_s"] / rows[0]["queries_per_s"], 2)
    result = {"bench": "scale", "preset": preset, "rows": rows, "speedup": speedup}
    if as_json:
        print(json.dumps(result))
    else:
        print(_table(rows, ["workers", "seeds", "queries", "seconds", "queries_per_s"]))
        print(f"\n2 workers / 1 worker: {speedup}x (goal on 2 cores: >= 1.7x; the 2-worker run includes starting "
              f"Ray, about 12 s)")
    return result


BENCHMARKS = {"data": bench_data, "vqvae": bench_vqvae, "mio": bench_mio, "surrogate": bench_surrogate,
              "celeba": bench_celeba, "quality": bench_quality, "loop": bench_loop, "scale": bench_scale,
              "stages": bench_stages}
