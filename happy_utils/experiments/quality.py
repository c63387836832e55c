"""Image quality of a set of faces, measured three ways: realism against the world's ground truth, Inception FID and
world FID; and `eval-quality`, which shows that the measures see controlled damage.

Why: a smile reader can be fooled and a smile-feature distance measures smiles; every score a run or a comparison
reports stands beside the fraction of its faces that a valid face explains, the Top-K over those alone, and FIDs
that read the whole image. `evaluate_quality` is the evidence that these measures work: clean renders of an unseen
seed pass and sit closest to other clean renders, and each distortion costs more the stronger it is.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import metrics
from ..config import get_paths
from ..data import world
from ..data.faces import FaceDataset, world_spec
from ..generators.vqvae import load_vqvae
from ..images import to_uint8
from ..scorers.fid import (
    Features,
    fid_table,
    frechet,
    inception_features,
    reference_features,
    smile_features,
    statistics,
    world_features,
)
from ..scorers.realism import RealismJudge
from . import summaries
from .distortions import DISTORTIONS, distort

#: The unseen happy faces the generated ones are compared with: all of levels 3-5, and each level alone.
FID_TARGETS = {"3-5": (3, 4, 5), "3": (3,), "4": (4,), "5": (5,)}
CALIBRATION_SEED = 901  # the realism threshold's seed: eval-quality refuses it


def sample(faces: FaceDataset, n: int, seed: int = 0) -> FaceDataset:
    """n of a data set's faces, drawn without replacement, in their original order."""
    pick = np.sort(np.random.default_rng(seed).permutation(len(faces))[:n])
    return faces.subset(torch.from_numpy(pick), rule=f"sample n={n} seed={seed}")


def fid_targets(train: FaceDataset, n: int) -> dict[str, list[FaceDataset]]:
    """n faces of each unseen level, and all of them together for "3-5" (their features are computed once)."""
    per_level = {level: sample(train.target((level,)), n, seed=level) for level in (3, 4, 5)}
    return {name: [per_level[level] for level in levels] for name, levels in FID_TARGETS.items()}


def extractors(scorers: dict, realism: RealismJudge | None) -> list[Features]:
    """The FIDs every table reports: Inception first, then world (synthetic only), then the smile reader's."""
    return [inception_features()] + ([world_features(realism)] if realism is not None else []) + \
        [smile_features(scorers)]


def fid_report(generated: dict[str, torch.Tensor], targets: dict[str, list[FaceDataset]], features: list[Features]
               ) -> dict:
    """Every FID of every generated set against every target set, per extractor, with the extractors' names. A target
    with fewer than 2 faces (a small CelebA subset may lack a level) is left out, with a note."""
    small = [name for name, parts in targets.items() if sum(len(p) for p in parts) < 2]
    targets = {name: parts for name, parts in targets.items() if name not in small}
    report = {"extractors": {f.key: f.name for f in features}, "fid": {},
              "notes": [f"target {name} left out: fewer than 2 faces of that level" for name in small],
              "images": {"generated": {k: len(v) for k, v in generated.items()},
                         "targets": {k: sum(len(p) for p in v) for k, v in targets.items()}}}
    for f in features:
        report["fid"][f.key], notes = fid_table(generated, targets, f)
        report["notes"] += notes
    return report


def assess(realism: RealismJudge, images: torch.Tensor) -> dict:
    """Per image: realism error, pass or fail, the re-render's true degree (lists, for records and summaries)."""
    report = realism.assess(images)
    return {"error": report.error.tolist(), "passed": report.passed.tolist(),
            "true_degree": report.true_degree.tolist()}


def control(generator, faces: FaceDataset, base_index: list[int], realism: RealismJudge, oracle) -> dict:
    """The t = 0 control: the generator's plain reconstructions of the faces the queries started from (their base
    faces, `base_index` into `faces`; no latent cell changed), measured as the queries are. Why: a query's realism is
    only as good as the decoder allows; the control's pass rate is what the optimiser would get by changing nothing.
    Returns how many pass, their mean realism error, the oracle's mean score, the inverse network's mean reading of
    the passing ones (their true degree) and of all ("reading, any")."""
    recon = to_uint8(generator.reconstruct(faces.images[torch.as_tensor(base_index, dtype=torch.long)]))
    report = realism.assess(recon)
    passed = report.passed.numpy().astype(bool)
    return {"faces": len(base_index), "passed": int(passed.sum()), "error": float(report.error.mean()),
            "oracle": float(oracle.score(recon).degree.mean()),
            "true_degree_valid": float(report.true_degree[torch.from_numpy(passed)].mean()) if passed.any() else None,
            "reading_any": float(report.true_degree.mean())}


def control_summary(per_seed: dict[int, dict | None]) -> dict | None:
    """A control over seeds: the pooled pass fraction with its Wilson interval, the per-seed fractions, and the
    realism error, the oracle's score and the readings as means with 95% intervals; None if a seed lacks it."""
    seeds = list(per_seed.values())
    if not seeds or any(c is None for c in seeds):
        return None
    return {"pass": metrics.proportion(sum(c["passed"] for c in seeds), sum(c["faces"] for c in seeds)),
            "pass_fraction_per_seed": [c["passed"] / c["faces"] for c in seeds],
            **{key: summaries.interval_of_all([c[key] for c in seeds])
               for key in ("error", "oracle", "true_degree_valid", "reading_any")}}


def valid_vs_control(realism: dict, per_seed: dict[int, dict], control: dict | None) -> dict | None:
    """A variant's valid share beside its control's (`summaries.aggregate`'s realism, `summaries.seed_summary` per
    seed): their ratio (pooled), the paired difference of the per-seed fractions (the seed's queries against the
    reconstructions of the same base faces; None for one seed) and Fisher's exact test on the pooled counts."""
    if control is None:
        return None
    ours, theirs = realism["pass"], control["pass"]
    mine = [s["realism"]["pass_fraction"] for s in per_seed.values()]
    return {"ratio": None if not theirs["fraction"] else ours["fraction"] / theirs["fraction"],
            "paired": metrics.paired_difference(mine, control["pass_fraction_per_seed"]) if len(mine) >= 2 else None,
            "fisher": summaries.fisher_test((ours["count"], ours["n"]), (theirs["count"], theirs["n"]))}


def evaluate_quality(realism: RealismJudge, seed: int, n: int = 200) -> dict:
    """Realism pass rate and error, Inception FID and world FID against clean renders of another seed, for n clean
    renders of `seed`, each distortion at its three strengths, and reconstructions by every cached VQ-VAE."""
    if seed == CALIBRATION_SEED or seed in range(3_000_000, 4_000_000):
        raise ValueError(f"seed {seed} calibrated or trained the realism judge; pick an unseen seed")
    clean = world.render(world.sample_faces(n, seed))
    donors = world.render(world.sample_faces(n, seed + 1))
    reference = world.render(world.sample_faces(n, seed + 2))
    inception, world_feats = inception_features(), world_features(realism)
    refs = {f.key: statistics(reference_features(reference, f, f"{world_spec(n, seed + 2)} unquantised"))
            for f in (inception, world_feats)}

    def measure(images: torch.Tensor) -> dict:
        report = realism.assess(images)
        out = {"pass": float(report.passed.float().mean()), "error": float(report.error.mean())}
        for f, key in ((inception, "fid_inception"), (world_feats, "fid_world")):
            out[key] = frechet(*statistics(f(images)), *refs[f.key]).value
        return out

    result = {"extractor": inception.name, "world_extractor": world_feats.name, "seed": seed, "n": n,
              "threshold": realism.threshold, "clean": measure(clean), "distortions": {}}
    for name, (_, strengths) in DISTORTIONS.items():
        result["distortions"][name] = [{"strength": s, **measure(distort(name, clean, s, seed=seed, others=donors))}
                                       for s in strengths]
    result["reconstructions"] = {}
    for path in sorted((get_paths().cache / "vqvae").glob("*.pt")):
        if not path.name.endswith(".state.pt"):
            model = load_vqvae(path, dev=torch.device("cpu"))
            result["reconstructions"][path.stem] = measure(model.reconstruct(clean))
    return result


def print_quality(result: dict) -> None:
    """The eval-quality table."""
    print(f"{result['n']} fresh renders of seed {result['seed']}; FIDs against {result['n']} clean renders of seed "
          f"{result['seed'] + 2}; realism threshold {result['threshold']:.4f}\n")
    print(f"{'set':<30}{'pass':>7}{'error':>9}{'Inception FID':>15}{'world FID':>11}")
    rows = [("clean renders", result["clean"])]
    rows += [(f"{name} {row['strength']:g}", row) for name, rs in result["distortions"].items() for row in rs]
    rows += [(f"VQ-VAE {name[:22]}", row) for name, row in result["reconstructions"].items()]
    for label, row in rows:
        print(f"{label:<30}{row['pass']:>7.2f}{row['error']:>9.4f}{row['fid_inception']:>15.1f}{row['fid_world']:>11.2f}")
