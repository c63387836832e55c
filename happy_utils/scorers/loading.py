"""Where each data source's black box comes from: the shipped synthetic oracle and judge, or Talk-to-Edit's predictor.

Why: every stage asks for "the oracle of this source" (and the judge, where one exists); the weights the repository
ships are verified against their checksums before use, and a missing or damaged file says how to get it back.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..config import Source, get_paths
from ..config import device as default_device
from ..data.celeba import celeba_root
from ..data.faces import FaceDataset, render_faces
from ..files import verify_checksum
from .base import SmileScorer, oracle_metrics
from .predictor import find_predictor, load_predictor
from .realism import RealismJudge, load_judge
from .synthetic import ARCHITECTURES, CHECKPOINT_FORMAT

#: Shipped weights and their training seed; `data/SHA256SUMS` holds their checksums.
SHIPPED = {"oracle": ("oracle_synthetic.pt", 1), "judge": ("judge_synthetic.pt", 2)}
REALISM_FILE = "realism_synthetic.pt"


def load_scorer(which: str = "oracle", path: Path | None = None, dev: torch.device | None = None,
                verify: bool = True, source: Source = Source.SYNTHETIC) -> SmileScorer:
    """The black box of a data source: the shipped synthetic oracle or judge (checksum-verified), a checkpoint saved
    by `train_scorer`, or on CelebA Talk-to-Edit's predictor in $HAPPY_CELEBA_DIR (the authors' temperature-scaled
    `predictor_128_scaled3.pth.tar`, else `predictor_128.pth.tar` with the temperature `calibrate` fitted)."""
    if which not in SHIPPED:
        raise ValueError(f"unknown scorer {which!r}; valid: {', '.join(SHIPPED)}")
    if source == Source.CELEBA:
        if which == "judge":
            raise FileNotFoundError("CelebA has no independent judge: the paper's only black box is Talk-to-Edit's "
                                    "predictor, the oracle. Use `load_scorers`, which leaves the judge out there")
        return load_predictor(path or find_predictor(celeba_root()), dev)
    path = Path(path) if path is not None else get_paths().data / SHIPPED[which][0]
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the repository ships it in data/; recreate it with "
                                f"`python -m happy_utils train-oracle --which {which}`")
    if verify:
        verify_checksum(path, remedy="retrain it with `python -m happy_utils train-oracle`")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or ckpt.get("arch") != which:
        raise ValueError(f"{path} is not a {which} checkpoint of format {CHECKPOINT_FORMAT}")
    net = ARCHITECTURES[which]()
    net.load_state_dict(ckpt["state_dict"])
    net.temperature = float(ckpt["temperature"])
    net.meta = ckpt["meta"]
    return net.to(dev or default_device()).eval()


def load_scorers(source: Source = Source.SYNTHETIC, dev: torch.device | None = None) -> dict[str, SmileScorer]:
    """Every scorer of a data source by role: the oracle, and the judge where there is one (synthetic only)."""
    if source == Source.CELEBA:
        return {"oracle": load_scorer("oracle", dev=dev, source=Source.CELEBA)}
    return {which: load_scorer(which, dev=dev, source=Source.SYNTHETIC) for which in SHIPPED}


def evaluate_scorers(seed: int, n: int = 2000) -> dict[str, dict[str, float]]:
    """Oracle and judge quality on n freshly rendered faces of a seed that neither saw in training."""
    scorers = {which: load_scorer(which, source=Source.SYNTHETIC) for which in SHIPPED}
    for which, net in scorers.items():
        if seed in net.meta["data_seeds"]:
            raise ValueError(f"seed {seed} was used to train the {which} (its seeds: {net.meta['data_seeds']}); "
                             "pick another seed")
    faces: FaceDataset = render_faces(n, seed, progress=False)
    x = faces.float_images()
    return {which: oracle_metrics(net.score(x), faces.labels, faces.degree) for which, net in scorers.items()}



def load_realism(source: Source = Source.SYNTHETIC, path: Path | None = None, dev: torch.device | None = None,
                 verify: bool = True) -> RealismJudge | None:
    """The synthetic world's realism judge (shipped, checksum-verified); None on CelebA, which has no ground truth."""
    if source == Source.CELEBA:
        return None
    path = Path(path) if path is not None else get_paths().data / REALISM_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: the repository ships it in data/; recreate it with "
                                "`python -m happy_utils train-realism`")
    if verify:
        verify_checksum(path, remedy="retrain it with `python -m happy_utils train-realism`")
    return load_judge(path, dev)
