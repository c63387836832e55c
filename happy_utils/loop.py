"""Latent space optimisation with weighted retraining (paper sections 2.2-2.3): one query, and the loop.

Why: a query is the unit of the method: pick a real training point, let a proposer change it (the paper's MIO over
the t most important cells), decode the result and ask the black box. The loop repeats it, adds every query to the
data, and before every block of r queries (the first included, as the authors' code does) fine-tunes the generator
on data drawn by rank weight, so that its distribution shifts towards the high scorers (Tripp et al. 2020). Without
weighted retraining the same loop simply never fine-tunes. Notebooks 04-05 and the main job all go through this
module: `query` is the one path from a proposal to a scored face.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .config import Preset
from .generators.base import Generator
from .images import to_uint8
from .latents import SURROGATE_TARGETS, LatentRows, LatentSet, label_latents
from .proposers.base import Proposal, Proposer
from .proposers.manifold import ManifoldGuard
from .proposers.mio import MIOProposer
from .proposers.random_search import RandomProposer
from .records import RunDir
from .scorers.base import SmileScorer

#: How a query is proposed, by name: the trees and the MIO over the t most important cells of a training code (the
#: paper's method), or t random cells of a training code set to random codes (the floor). The experiment harness adds
#: the paper's continuous baseline, "slsqp" (`experiments.baseline.slsqp`), which the lesson never uses.
PROPOSERS: dict[str, Callable[[LoopConfig], Proposer]] = {
    "mio": lambda cfg: MIOProposer(cfg.free_cells, cfg.n_trees, cfg.seed, cfg.retrain_every, cfg.fit_set, cfg.solver,
                                   cfg.time_limit, cfg.beta, cfg.threads, cfg.guard),
    "random": lambda cfg: RandomProposer(cfg.free_cells, cfg.seed),
}


@dataclass(frozen=True)
class LoopConfig:
    """Every setting of one seed's optimisation run. Without weighted retraining the generator is never fine-tuned."""

    budget: int  # queries
    retrain_every: int  # r: fine-tune before every block of r queries
    rank_k: float  # k of the rank weights 1 / (kN + rank)
    free_cells: int  # t
    seed: int
    weighted_retraining: bool = True
    first_finetune_epochs: float = 1.0  # the authors: a full epoch the first time ...
    finetune_epochs: float = 0.1  # ... then a tenth of one
    batch_size: int = 128  # of the generator's fine-tunes
    n_trees: int = 800
    target: str = "raw"  # surrogate targets: f(x), the paper's, or f(d(e(x))): see `latents`
    fit_set: tuple[int, int] | None = None  # the surrogate's data per cycle: all, or (n best, n random)
    solver: str = "highs"
    time_limit: float = 60.0
    beta: float = 0.0  # exploration weight; 0 = pure exploitation
    proposer: str = "mio"  # how a query is proposed: see PROPOSERS
    threads: int = 1  # torch's and LightGBM's; torch's results depend on it, so a run records it
    # What keeps the MIO on the data (`proposers.manifold`); none: the paper's.
    guard: ManifoldGuard = field(default_factory=ManifoldGuard)

    def __post_init__(self):
        problems = [msg for ok, msg in (
            (self.budget >= 1, f"budget must be >= 1, got {self.budget}"),
            (self.retrain_every >= 1, f"retrain_every (r) must be >= 1, got {self.retrain_every}"),
            (self.rank_k > 0, f"rank_k (k) must be > 0, got {self.rank_k}"),
            (isinstance(self.free_cells, (int, np.integer)) and 1 <= self.free_cells <= 64,
             f"free_cells (t) must be an integer in 1..64, got {self.free_cells!r}"),
            (self.target in SURROGATE_TARGETS, f"target must be one of {SURROGATE_TARGETS}, got {self.target!r}"),
            (self.fit_set is None or min(self.fit_set) >= 0, f"fit_set must be None or two counts, got {self.fit_set}"),
            (self.beta >= 0, f"beta must be >= 0, got {self.beta}"),
            (self.proposer in PROPOSERS, f"proposer must be one of {', '.join(PROPOSERS)}, got {self.proposer!r} "
                                         "(the continuous baseline's slsqp: import happy_utils.experiments.variants)"),
            (self.threads >= 1, f"threads must be >= 1, got {self.threads}"),
            (not self.guard.active or self.proposer == "mio",
             f"a guard ({self.guard.describe()}) is for the MIO, not the {self.proposer} proposer"),
        ) if not ok]
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_preset(cls, preset: Preset, seed: int = 0, **settings) -> LoopConfig:
        """The preset's loop for one seed: the paper's VQ-VAE with weighted retraining at the preset's sizes, any
        field overridden by `settings` (e.g. `guard=ManifoldGuard(neighbours=True)`, `weighted_retraining=False`)."""
        sizes = dict(budget=preset.budget, retrain_every=preset.retrain_every, rank_k=preset.rank_k,
                     free_cells=preset.free_cells, batch_size=preset.vqvae_batch_size, n_trees=preset.surrogate_trees,
                     target=preset.surrogate_target, fit_set=preset.surrogate_fit_set,
                     time_limit=preset.solver_time_limit_s)
        return cls(seed=seed, **{**sizes, **settings})

    def as_record(self) -> dict:
        """The settings as a run's config.json records them: without the guard when there is none, as runs made
        before the guards existed recorded them (so they resume)."""
        out = asdict(self)
        if not self.guard.active:
            del out["guard"]
        return out

    def make_proposer(self) -> Proposer:
        """A fresh proposer of this run's kind."""
        return PROPOSERS[self.proposer](self)


def rank_weights(values: np.ndarray, k: float) -> np.ndarray:
    """Weighted retraining's rank weights w_i = 1 / (kN + rank_i), rank 0 the best, normalised to sum 1."""
    values = np.asarray(values, dtype=np.float64)
    ranks = np.empty(len(values))
    ranks[np.argsort(-values, kind="stable")] = np.arange(len(values))
    w = 1.0 / (k * len(values) + ranks)
    return w / w.sum()


def draw_base(seed: int, q: int, n_train: int) -> int:
    """The training point query q starts from: drawn at random, keyed by seed and query, so a resume draws it again."""
    return int(np.random.default_rng([seed, q]).integers(n_train))


@dataclass
class Query:
    """One query: the training point it started from, the proposal, both decoded faces and the black box's scores."""

    base_index: int
    base: np.ndarray  # the base's latent point, flat
    proposal: Proposal
    images: torch.Tensor  # uint8 (2, 3, 64, 64): the decoded base, the decoded query
    scores: np.ndarray  # the oracle's (2,): f(d(z_base)), f(d(z~))
    judge: float | None  # the judge's score of the query, where there is a judge
    decode_score_s: float

    @property
    def image(self) -> torch.Tensor:
        return self.images[1]

    @property
    def score(self) -> float:
        return float(self.scores[1])

    @property
    def changed(self) -> np.ndarray:
        """Which latent entries the proposer changed (an (8, 8) grid of cells for a VQ-VAE's codes)."""
        changed = np.asarray(self.proposal.latent) != self.base
        return changed.reshape(8, 8) if changed.size == 64 else changed

    def record(self, q: int, seed: int, data_size: int) -> dict:
        """The query's line in queries.jsonl."""
        times = {"fit_s": round(self.proposal.fit_s, 4), "solve_s": round(self.proposal.solve_s, 4),
                 "decode_score_s": round(self.decode_score_s, 4), "retrain_s": 0.0}
        return {"index": q, "seed": seed, "base_index": self.base_index, "base_code": self.base.tolist(),
                "code": self.proposal.latent.tolist(), "score": self.score, "judge": self.judge,
                "base_score": float(self.scores[0]), **self.proposal.record, "data_size": data_size, "retrain": None,
                "times": times}


def query(generator: Generator, base_index: int, base: np.ndarray, proposal: Proposal, oracle: SmileScorer,
          judge: SmileScorer | None = None) -> Query:
    """Decode a proposal and the base it started from, and ask the black box (and the judge) about them."""
    start = time.perf_counter()
    latents = torch.from_numpy(np.stack([base, proposal.latent])).reshape(2, *generator.latent_shape)
    images = to_uint8(generator.decode(latents))
    scores = oracle.score(images).degree.numpy()
    judged = float(judge.score(images[1:]).degree[0]) if judge is not None else None
    return Query(base_index=base_index, base=base, proposal=proposal, images=images, scores=scores, judge=judged,
                 decode_score_s=time.perf_counter() - start)


class LoopData:
    """Everything the loop knows: the restricted faces, the queries so far, and all their current latents and labels."""

    def __init__(self, latent: LatentSet, values: np.ndarray):
        self.train_images = latent.faces.images
        self.train_values = values  # f(x) of the restricted faces: their objective values
        self.query_images = torch.empty(0, 3, 64, 64, dtype=torch.uint8)
        self.query_values = np.empty(0)
        self.query_latents = np.empty((0, latent.rows.shape[1]), dtype=latent.rows.dtype)  # as queried
        self.latents = LatentRows(latent.rows.copy())  # current latent points of all data, the surrogate's features
        self.labels = latent.labels.astype(np.float64).copy()  # the surrogate's targets

    @property
    def images(self) -> torch.Tensor:
        return torch.cat([self.train_images, self.query_images])

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([self.train_values, self.query_values])

    def add(self, image: torch.Tensor, value: float, latent: np.ndarray) -> None:
        self.query_images = torch.cat([self.query_images, image[None]])
        self.query_values = np.append(self.query_values, value)
        self.query_latents = np.vstack([self.query_latents, latent])
        self.latents.append(latent)
        self.labels = np.append(self.labels, value)  # f(d(z~)) is the query's score

    def reencode(self, generator: Generator, scorer: SmileScorer, target: str, upto: int) -> None:
        """Re-encode the data known at the last fine-tune (`upto` queries): codes only where the surrogate and the
        bases read them, when they read them (`LatentRows`); with the "decoded" target relabel all of it too (the
        paper's "raw" labels, f(x), do not change). Later queries keep the latents they were queried with."""
        images = torch.cat([self.train_images, self.query_images[:upto]])
        tail = self.query_latents[upto:]
        # A continuous encoding (the VAE's means) varies with its batch at round-off, and SLSQP follows such
        # differences: encoded on read only where latents are codes (argmins, measured batch-independent).
        head = np.concatenate([self.train_values, self.query_values[:upto]])  # f(x): a fine-tune leaves it
        if target == "decoded" or not np.issubdtype(tail.dtype, np.integer):
            latents = generator.encode(images)
            self.latents = LatentRows(np.vstack([latents.reshape(len(images), -1).numpy(), tail]))
            if target == "decoded":
                head = label_latents(generator, latents, scorer)
        else:
            self.latents = LatentRows.encoded_on_read(generator, images, tail)
        self.labels = np.concatenate([head, self.query_values[upto:]])


@dataclass
class SeedRun:
    """A finished seed: its records (one per query), the queried images in order, and the generator as it ended."""

    records: list[dict]
    images: torch.Tensor
    generator: Generator


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch on n threads inside the block, as before after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_loop(run_dir: Path, latent: LatentSet, cfg: LoopConfig, oracle: SmileScorer, judge: SmileScorer | None = None,
             extra_config: dict | None = None, progress: bool = True,
             on_query: Callable[[dict], None] | None = None) -> SeedRun:
    """Run (or resume) one seed: `cfg.budget` queries, fine-tuning the generator on rank-weighted data before every
    block of r of them.

    Each query asks the proposer for a point near a randomly drawn restricted training point (the MIO refits the
    trees on the cycle's data first), decodes and scores it, appends it to the data, and is recorded in
    `run_dir/queries.jsonl`; the state is saved after each. A run started again with the same config continues where
    it stopped, with the same results. It runs on `cfg.threads` torch threads (restored after): torch's results
    depend on the thread count. `on_query` is called with each new record.
    """
    with torch_threads(cfg.threads):
        return _run_loop(run_dir, latent, cfg, oracle, judge, extra_config, progress, on_query)


def _run_loop(run_dir: Path, latent: LatentSet, cfg: LoopConfig, oracle: SmileScorer, judge: SmileScorer | None,
              extra_config: dict | None, progress: bool, on_query: Callable[[dict], None] | None) -> SeedRun:
    if cfg.target != latent.target:
        raise ValueError(f"the loop's target {cfg.target!r} differs from the latent set's {latent.target!r}")
    with RunDir(run_dir, {"loop": cfg.as_record(), **(extra_config or {})}) as run:
        return _resume_loop(run, latent, cfg, oracle, judge, progress, on_query)


def _resume_loop(run: RunDir, latent: LatentSet, cfg: LoopConfig, oracle: SmileScorer, judge: SmileScorer | None,
                 progress: bool, on_query: Callable[[dict], None] | None) -> SeedRun:
    generator = copy.deepcopy(latent.generator)
    proposer = cfg.make_proposer()
    data = LoopData(latent, oracle.score(latent.faces.images).degree.numpy().astype(np.float64))
    state = run.resume() or {"done": 0, "retrains": 0, "last_retrain_at": 0, "records": []}
    done = state["done"]
    if done:
        generator.load_state_dict(state["generator"])
        for image, value, latent_point in zip(state["query_images"], state["query_values"], state["query_latents"]):
            data.add(image, float(value), latent_point)
        if state["retrains"]:
            data.reencode(generator, oracle, cfg.target, state["last_retrain_at"])
    bar = tqdm(range(done, cfg.budget), desc=f"seed {cfg.seed}", initial=done, total=cfg.budget, disable=not progress)
    for q in bar:
        record = iteration(q, cfg, generator, proposer, data, state, oracle, judge)
        state.update(done=q + 1, generator=generator.state_dict(), query_images=data.query_images,
                     query_values=data.query_values, query_latents=data.query_latents,
                     records=state["records"] + [record])
        run.save_state(state)
        if on_query is not None:
            on_query(record)
        bar.set_postfix(score=f"{record['score']:.2f}", best=f"{max(data.query_values):.2f}")
    return SeedRun(records=run.records(), images=data.query_images, generator=generator)


def iteration(q: int, cfg: LoopConfig, generator: Generator, proposer: Proposer, data: LoopData, state: dict,
              oracle: SmileScorer, judge: SmileScorer | None = None) -> dict:
    """Query q of the loop, and its record: at the start of a block of r queries, weighted retraining first (rank
    weights, fine-tune, re-encode); then draw a training point, let the proposer fit and solve, decode and score
    the proposal, and append it to the data. `state` counts the retrainings."""
    retrain = None
    if cfg.weighted_retraining and q % cfg.retrain_every == 0:  # before each block, the first one included
        retrain = retrain_generator(state["retrains"], cfg, generator, data, oracle, upto=q)
        state["retrains"] += 1
        state["last_retrain_at"] = q
    encoding = data.latents.seconds
    base_index = draw_base(cfg.seed, q, len(data.train_images))
    base = data.latents[base_index]
    result = query(generator, base_index, base, proposer.propose(q, data.latents, data.labels, base), oracle, judge)
    encoded_s = data.latents.seconds - encoding  # the re-encode's rows read by this query: retraining's cost
    data.add(result.image, result.score, result.proposal.latent)
    record = result.record(q, cfg.seed, data_size=len(data.labels) - 1)
    record["times"]["retrain_s"] = round(encoded_s, 4)
    if retrain is not None:
        retrain["seconds"] = round(retrain["seconds"] + encoded_s, 3)
        retrain["encoded_on_read"] = data.latents.encoded
        record["retrain"] = retrain
        record["times"]["retrain_s"] = retrain["seconds"]
    return record


def retrain_generator(number: int, cfg: LoopConfig, generator: Generator, data: LoopData, oracle: SmileScorer,
                      upto: int) -> dict:
    """Fine-tune the generator on all data drawn by rank weight, then re-encode (and, decoded target, relabel) it."""
    start = time.perf_counter()
    epochs = cfg.first_finetune_epochs if number == 0 else cfg.finetune_epochs
    weights = rank_weights(data.values, cfg.rank_k)
    result = generator.finetune(data.images, epochs, cfg.batch_size, weights=torch.from_numpy(weights),
                                seed=cfg.seed * 100_003 + number)
    data.reencode(generator, oracle, cfg.target, upto)
    top_share = float(np.sort(weights)[::-1][: max(1, len(weights) // 100)].sum())
    return {"number": number, "epochs": epochs, "data_size": len(weights), "seconds": round(time.perf_counter() -
                                                                                             start, 3),
            "finetune_s": round(result.seconds, 3), "final_recon": result.history[-1]["recon"],
            "reseeded": result.reseeded, "weight_of_top_1pct": top_share}
