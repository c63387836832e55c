"""FID: how close generated faces are to the unseen happy faces, in features that are named in every result.

Why: the paper reports FID (Heusel et al.) between all generated images and the CelebA faces of smile degree 3-5, and
against each degree alone (its Figure 3b). The FID of every table is the real one: pytorch-fid's InceptionV3 pool3
(2048 features, images resized to 299 and scaled to [-1, 1] as pytorch-fid does), its weights converted offline
(`scorers.inception`). Two more distances stand beside it, each labelled: the *world FID* on the features of the
realism inverse network (trained to read the whole synthetic face), and the distance on the judge's features (on
CelebA: the predictor's), which reads smiles more than faces. InceptionV3 costs about 5.7 GFLOPs an image, so the
statistics of the reference sets are computed once and cached under the spec of their faces (what made them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from ..config import device as default_device
from ..config import get_paths
from ..data.faces import FaceDataset
from ..files import atomic_path
from ..images import as_float, check_images, to_uint8
from ..provenance import compare_pixels, record_pixels, spec_key
from .inception import inception_pool3

EPS = 1e-6  # pytorch-fid's offset for a singular covariance product
SINGULAR = 1e-12  # eigenvalue ratio below which the product counts as singular (float64 round-off)
#: When a cached reference set's pixels differ from this machine's (another CPU's rounding), the features of its first
#: faces are computed again: within this tolerance the cache is taken, else the set's features are recomputed.
RECHECK_FACES, RECHECK_TOLERANCE = 4, {"rtol": 1e-3, "atol": 1e-3}


class Features:
    """A named feature extractor: images (N, 3, 64, 64), uint8 or float in [0, 1] -> features (N, d)."""

    def __init__(self, key: str, name: str, net: torch.nn.Module, embed, batch_size: int = 100):
        self.key, self.name, self.net, self.embed, self.batch_size = key, name, net, embed, batch_size

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> np.ndarray:
        check_images(images)
        self.net.eval()
        dev = next(self.net.parameters()).device
        out = [self.embed(as_float(b).to(dev)).flatten(1).double().cpu() for b in images.split(self.batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, 0))


def inception_features(device: torch.device | str | None = None) -> Features:
    """pytorch-fid's InceptionV3 pool3: the FID of the literature (channels-last: 1.4x faster on a CPU, same sums)."""
    net = inception_pool3(device or default_device()).to(memory_format=torch.channels_last)
    return Features("inception", "InceptionV3 pool3 (pytorch-fid, TF 2015-12-05 weights)", net,
                    lambda x: net(x.contiguous(memory_format=torch.channels_last))[0], batch_size=50)


def smile_features(scorers: dict) -> Features:
    """The judge's 128 features (synthetic world) or the CelebA predictor's 512: they read smiles, not faces."""
    net = scorers["judge"] if "judge" in scorers else scorers["oracle"]
    name = ("judge features (a smile reader)" if "judge" in scorers
            else "Talk-to-Edit predictor features (a smile reader)")
    return Features("smile", name, net, net.embed)


def world_features(judge) -> Features:
    """The realism inverse network's 512 features: a network trained to read every part of a synthetic face."""
    return Features("world", judge.name, judge.net, judge.features)


@dataclass
class Frechet:
    """A Frechet distance and how it was reached."""

    value: float
    singular: bool  # the covariance product was singular; pytorch-fid's offset was added to the diagonals


def statistics(features: np.ndarray, what: str = "a set") -> tuple[np.ndarray, np.ndarray]:
    if len(features) < 2:
        raise ValueError(f"FID needs at least 2 images in {what} (their covariance is undefined otherwise), got "
                         f"{len(features)}")
    return features.mean(0), np.cov(features, rowvar=False)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """The symmetric square root of a covariance matrix."""
    w, u = np.linalg.eigh(sigma)
    return (u * np.sqrt(np.clip(w, 0, None))) @ u.T


def _trace_sqrt_product(sigma1: np.ndarray, root2: np.ndarray) -> tuple[float, float]:
    """tr sqrtm(sigma1 sigma2), given root2 = sigma2^(1/2), and the product's smallest/largest eigenvalue ratio.

    sigma1 sigma2 is similar to the symmetric A sigma1 A with A = sigma2^(1/2), so the trace is the sum of the square
    roots of A sigma1 A's eigenvalues: symmetric eigendecompositions (about 3 s at 2048-d on 2 cores) instead of
    scipy's general `sqrtm` (minutes at 2048-d), and no imaginary parts to discard.
    """
    eig = np.clip(np.linalg.eigvalsh(root2 @ sigma1 @ root2), 0, None)
    return float(np.sqrt(eig).sum()), float(eig.min() / max(eig.max(), np.finfo(float).tiny))


def frechet(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
            roots: dict | None = None) -> Frechet:
    """pytorch-fid's `calculate_frechet_distance`: |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

    As pytorch-fid, a singular covariance product (fewer images than features make it so) gets EPS added to both
    diagonals, and the result says so. `roots`: a dict kept across calls against the same target (mu2, sigma2), in
    which its square roots are computed once (a table of many sets against a few targets).
    """
    roots = {} if roots is None else roots
    diff = mu1 - mu2
    if "plain" not in roots:
        roots["plain"] = _psd_sqrt(sigma2)
    trace, conditioning = _trace_sqrt_product(sigma1, roots["plain"])
    singular = conditioning < SINGULAR
    if singular:
        offset = np.eye(sigma1.shape[0]) * EPS
        if "offset" not in roots:
            roots["offset"] = _psd_sqrt(sigma2 + offset)
        trace, _ = _trace_sqrt_product(sigma1 + offset, roots["offset"])
    value = float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace)
    return Frechet(value=value, singular=singular)


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
    """Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of the squared MMD between two feature
    sets under the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over `subsets` random subsets of
    min(subset_size, |a|, |b|) features of each (as torch-fidelity and the paper's code do).

    Why beside FID: on 100 queries the FID's covariance is singular and its estimate biased upwards by the set's size;
    KID is unbiased at any size (it can be slightly negative when two sets come from one distribution), so sets of
    different sizes compare. Returns the mean over subsets and their standard deviation."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 feature vectors in each set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    values = []
    for _ in range(subsets):
        x, y = a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2 * kxy.mean())
    return {"value": float(np.mean(values)), "std": float(np.std(values)), "subset_size": m}


def reference_features(images: torch.Tensor, extractor: Features, spec: str) -> np.ndarray:
    """The features of a reference set, computed once and cached under `spec` (what made its faces, e.g. a
    `FaceDataset.spec`) with a record of their pixels: when this machine's pixels differ, the features of the first
    faces are computed again and compared (`RECHECK_TOLERANCE`), and the difference is said in one line."""
    if not spec:
        raise ValueError("a reference set's features are cached under the spec of its faces, and these have none: "
                         "pass faces from `load_faces` or `render_faces` (or a subset of them)")
    made_by = {"faces": spec, "n": len(images), "extractor": extractor.name}
    path = get_paths().cache / "fid" / f"{extractor.key}-{spec_key(made_by)}.npz"
    stored = to_uint8(as_float(images))
    if path.exists():
        with np.load(path) as z:
            meta, features = json.loads(str(z["meta"])), z["features"]
            pixels = {**meta.pop("pixels"), "hash": torch.from_numpy(z["hash"]), "sum": torch.from_numpy(z["sum"])}
        if meta == made_by:
            differ = compare_pixels(pixels, stored)
            if differ is None:
                return features
            again = extractor(images[:RECHECK_FACES])
            if np.allclose(again, features[:RECHECK_FACES], **RECHECK_TOLERANCE):
                print(f"{path.name}: {differ}; the features of its first {len(again)} faces are the same within "
                      f"{RECHECK_TOLERANCE}: taking it", flush=True)
                return features
            print(f"{path.name}: {differ}, and their features moved: computing them again", flush=True)
    features = extractor(images)
    pixels = record_pixels(stored)
    with atomic_path(path) as tmp:
        np.savez(tmp, features=features, hash=pixels.pop("hash").numpy(), sum=pixels.pop("sum").numpy(),
                 meta=json.dumps({**made_by, "pixels": pixels}))
    return features


def target_features(targets: dict[str, list[FaceDataset]], extractor: Features) -> dict[str, np.ndarray]:
    """The cached features of every target set (a list of image sets, e.g. one per smile level, pooled)."""
    return {name: np.concatenate([reference_features(part.images, extractor, part.spec) for part in parts])
            for name, parts in targets.items()}


def kid_table(generated: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """KID of every generated feature set against every target feature set, {generated: {target: KID}}."""
    return {name: {target: kid(features, ref)["value"] for target, ref in targets.items()}
            for name, features in generated.items()}


def fid_table(generated: dict[str, torch.Tensor], targets: dict[str, list[FaceDataset]], extractor: Features,
              roots: dict | None = None) -> tuple[dict[str, dict[str, float]], list[str]]:
    """FID of every generated set against every target set, {generated: {target: FID}}, and notes on the pairs whose
    covariance product was singular. A target is a list of image sets (e.g. one per smile level), whose cached
    features are pooled. `roots`: a dict kept across calls with the same targets and extractor, so that their square
    roots are computed once (see `frechet`)."""
    refs = {name: statistics(features, repr(name)) for name, features in target_features(targets, extractor).items()}
    roots = {} if roots is None else roots
    for target in refs:
        roots.setdefault(target, {})
    table, notes = {}, []
    for name, images in generated.items():
        mu, sigma = statistics(extractor(images), repr(name))
        if len(images) <= len(mu):
            notes.append(f"{extractor.key}: {name}: {len(images)} images for {len(mu)} features, so its covariance "
                         "is rank-deficient and the FID is biased upwards; compare it only with sets of the same size")
        table[name] = {}
        for target, (mu_t, sigma_t) in refs.items():
            result = frechet(mu, sigma, mu_t, sigma_t, roots[target])
            table[name][target] = result.value
            if result.singular:
                notes.append(f"{extractor.key}: {name} against {target}: singular covariance product "
                             f"({len(images)} images); {EPS} added to the diagonals, as pytorch-fid does")
    return table, notes
