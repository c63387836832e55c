"""The VQ-VAE whose discrete 8x8 latent codes are the search space (paper section 2.1, appendix A.3).

Why: the optimiser only ever sees code indices z in {0..255}^(8x8); the encoder maps a face to them and the decoder maps
any grid of indices back to a face. Its quality bounds what the optimiser can reach: a detail the decoder cannot
draw (teeth, a lifted corner) cannot be optimised. Architecture exactly as Tables 2 and 3 at the paper width (64);
smaller presets scale the channel width only. Dead codes are re-seeded from encoder outputs, which keeps the whole
codebook in use (without it a CPU-trained model collapses to a few dozen codes).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..config import Preset
from ..config import device as default_device
from ..data.faces import FaceDataset
from ..images import as_float, check_images
from ..progress import resume_progress, save_progress
from .training import (
    TrainResult,
    cached_or_trained,
    plan_fingerprint,
    pretrained_path,
    psnr,
    read_checkpoint,
    retrain_command,
    sample_plan,
    save_checkpoint,
    score_change,
)

LATENT_SIZE = 8
CHECKPOINT_FORMAT = "happy-vqvae-v1"
LR = 1e-3  # Adam's learning rate (paper appendix A.3)


@dataclass(frozen=True)
class VQVAEConfig:
    """The model's shape: channel width (the paper's 64; presets scale it), K codes of dimension D, commitment beta."""

    width: int = 64
    num_codes: int = 256
    code_dim: int = 64
    beta: float = 0.25


class ResidualBlock(nn.Module):
    """x + 1x1(LeakyReLU(3x3(LeakyReLU(x)))), the residual block of van den Oord et al."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(nn.LeakyReLU(), nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(),
                                   nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def encoder(cfg: VQVAEConfig) -> nn.Sequential:
    """Table 2: three strided 4x4 convs (64 -> 8 px), a 3x3 conv, two residual blocks, a 1x1 conv to D."""
    w = cfg.width
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, w, 4, 2, 1), nn.LeakyReLU()),
        nn.Sequential(nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU()),
        nn.Sequential(nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.LeakyReLU()),
        nn.Sequential(nn.Conv2d(4 * w, 4 * w, 3, 1, 1), nn.LeakyReLU()),
        ResidualBlock(4 * w),
        ResidualBlock(4 * w),
        nn.Sequential(nn.Conv2d(4 * w, cfg.code_dim, 1, 1, 0), nn.LeakyReLU()),
    )


def decoder(cfg: VQVAEConfig) -> nn.Sequential:
    """Table 3: a 3x3 conv from D, two residual blocks, three 4x4 transposed convs (8 -> 64 px)."""
    w = cfg.width
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(cfg.code_dim, 4 * w, 3, 1, 1), nn.LeakyReLU()),
        ResidualBlock(4 * w),
        ResidualBlock(4 * w),
        nn.Sequential(nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.LeakyReLU()),
        nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.LeakyReLU()),
        nn.ConvTranspose2d(w, 3, 4, 2, 1),
    )


class VectorQuantizer(nn.Module):
    """Nearest-codebook quantisation with the codebook and commitment losses and a straight-through gradient."""

    def __init__(self, cfg: VQVAEConfig):
        super().__init__()
        self.beta = cfg.beta
        self.codebook = nn.Embedding(cfg.num_codes, cfg.code_dim)
        self.codebook.weight.data.uniform_(-1 / cfg.num_codes, 1 / cfg.num_codes)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for every vector of z (N, D, H, W) -> (N, H, W)."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        book = self.codebook.weight
        dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.T + book.pow(2).sum(1)[None]
        return dist.argmin(dim=1).view(z.shape[0], z.shape[2], z.shape[3])

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Code vectors of indices (N, H, W) -> (N, D, H, W)."""
        return self.codebook(codes).permute(0, 3, 1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        codes = self.nearest(z)
        q = self.lookup(codes)
        loss = F.mse_loss(q, z.detach()) + self.beta * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), loss, codes


class VQVAE(nn.Module):
    """Encoder, vector quantiser and decoder. Images are float in [0, 1]; the nets see them centred at 0."""

    title = "VQ-VAE"
    loss_keys = ("recon", "vq")
    latent_shape = (LATENT_SIZE, LATENT_SIZE)  # one code index per cell

    def __init__(self, cfg: VQVAEConfig = VQVAEConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder(cfg)
        self.quantizer = VectorQuantizer(cfg)
        self.decoder = decoder(cfg)
        self.meta: dict = {}  # how it was trained: set when it is trained by `load_or_train_*` or loaded

    @property
    def device(self) -> torch.device:
        return self.quantizer.codebook.weight.device

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction (in [0, 1] up to overshoot), VQ loss, codes and the encoder output, for training."""
        z = self.encoder(x - 0.5)
        q, vq_loss, codes = self.quantizer(z)
        return self.decoder(q) + 0.5, vq_loss, codes, z

    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Code indices (N, 8, 8) int64 of images (N, 3, 64, 64), uint8 or float in [0, 1]."""
        check_images(images)
        self.eval()
        out = [self.quantizer.nearest(self.encoder(as_float(b).to(self.device) - 0.5)).cpu()
               for b in images.split(batch_size)]
        return torch.cat(out) if out else torch.empty(0, LATENT_SIZE, LATENT_SIZE, dtype=torch.long)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Images (N, 3, 64, 64) float in [0, 1] of code indices (N, 8, 8)."""
        codes = self.check_codes(codes)
        self.eval()
        out = [(self.decoder(self.quantizer.lookup(b.to(self.device))) + 0.5).clamp(0, 1).cpu()
               for b in codes.split(batch_size)]
        return torch.cat(out) if out else torch.empty(0, 3, 64, 64)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """decode(encode(images))."""
        return self.decode(self.encode(images))

    def check_codes(self, codes) -> torch.Tensor:
        """Fail clearly unless codes are integer indices (N, 8, 8) in 0..K-1."""
        codes = torch.as_tensor(codes)
        if codes.dim() != 3 or tuple(codes.shape[1:]) != (LATENT_SIZE, LATENT_SIZE):
            raise ValueError(f"codes must have shape (N, {LATENT_SIZE}, {LATENT_SIZE}), got {tuple(codes.shape)}")
        if codes.is_floating_point() or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integer indices, got {codes.dtype}")
        k = self.cfg.num_codes
        if len(codes) and (codes.min() < 0 or codes.max() >= k):
            raise ValueError(f"code indices must lie in 0..{k - 1}, got values in [{int(codes.min())}, "
                             f"{int(codes.max())}]")
        return codes.long()

    @torch.no_grad()
    def reseed_codes(self, unused: torch.Tensor, z: torch.Tensor, generator: torch.Generator) -> int:
        """Move unused codes onto randomly chosen encoder outputs of the current batch, so they get used again."""
        idx = unused.nonzero().flatten()
        if len(idx) == 0:
            return 0
        flat = z.detach().permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        pick = torch.randint(len(flat), (len(idx),), generator=generator).to(flat.device)
        self.quantizer.codebook.weight.data[idx] = flat[pick]
        return len(idx)

    def finetune(self, images: torch.Tensor, epochs: float, batch_size: int, weights: torch.Tensor,
                 seed: int) -> TrainResult:
        """Weighted retraining: `train_vqvae` on images drawn in proportion to `weights`, constant learning rate and,
        as in the paper and the authors' code, no re-seeding of unused codes (that only rescues the first training)."""
        return train_vqvae(self, images, epochs, batch_size, weights=weights, seed=seed, reseed_every=None,
                           progress=False, desc="fine-tune")

    def quality(self, images: torch.Tensor, scorers: dict | None = None) -> dict[str, float]:
        """Reconstruction PSNR, codebook use and, per scorer, how far the smile score moves through the model."""
        codes = self.encode(images)
        recon = self.decode(codes)
        return {"psnr_db": float(psnr(recon, images).mean()), **codebook_stats(codes, self.cfg.num_codes),
                **score_change(recon, images, scorers)}


@torch.no_grad()
def stage_shapes(model: VQVAE) -> dict[str, list[tuple[int, int, int]]]:
    """Output shape (C, H, W) of every encoder and decoder stage, to hold against the paper's Tables 2 and 3."""
    shapes: dict[str, list] = {"encoder": [], "decoder": []}
    x = torch.zeros(1, 3, 64, 64, device=model.device)
    for stage in model.encoder:
        x = stage(x)
        shapes["encoder"].append(tuple(x.shape[1:]))
    for stage in model.decoder:
        x = stage(x)
        shapes["decoder"].append(tuple(x.shape[1:]))
    return shapes


# ----------------------------------------------------------------------------------------------------------- training

def train_step(model: VQVAE, opt: torch.optim.Optimizer, x: torch.Tensor
               ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """One gradient step on a batch x (float, [0, 1]): the reconstruction error plus the quantiser's codebook and
    commitment losses; the straight-through estimator carries the gradient past the nearest-code lookup.
    Returns the losses, the batch's codes and the encoder's outputs (for re-seeding dead codes)."""
    recon, vq_loss, codes, z = model(x)
    rec_loss = F.mse_loss(recon, x)
    loss = rec_loss + vq_loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": loss, "recon": rec_loss, "vq": vq_loss}, codes, z


def train_vqvae(model: VQVAE, images: torch.Tensor, epochs: float, batch_size: int = 128, lr: float = LR,
                weights: torch.Tensor | None = None, seed: int = 0, state_path: Path | None = None,
                reseed_every: int | None = 50, log_every: int = 10, save_every: int = 200, cosine: bool = False,
                progress: bool = True, desc: str = "VQ-VAE") -> TrainResult:
    """Train (or fine-tune) on uint8 images for a number of epochs, which may be a fraction of one.

    `weights` makes it weighted retraining. Codes unused for `reseed_every` steps are moved onto encoder outputs
    (None: never). `cosine` decays the learning rate to 2% of `lr` along a half cosine
    (for a first training; a short fine-tune keeps it constant). With `state_path`, the model, optimiser and step are
    saved every `save_every` steps and at the end; a training started again with the same arguments resumes where it
    stopped, and ends with the same weights as one that was never interrupted.
    """
    check_images(images)
    plan = sample_plan(len(images), epochs, batch_size, weights, seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed + 1)
    fingerprint = plan_fingerprint(plan, model.cfg, lr, cosine)
    history: list[dict] = []
    start, reseeded, seconds = 0, 0, 0.0
    usage = torch.zeros(model.cfg.num_codes, dtype=torch.long)
    parts = {"model": model, "optimizer": opt, "generator": gen}
    state = resume_progress(state_path, fingerprint, parts, model.device)
    if state is not None:
        start, history, reseeded, seconds = state["step"], state["history"], state["reseeded"], state["seconds"]
        usage = state["usage"]
    usage = usage.to(model.device)
    model.train()
    began = time.perf_counter() - seconds
    bar = tqdm(range(start, len(plan)), desc=desc, initial=start, total=len(plan), disable=not progress)
    for step in bar:
        if cosine:
            for group in opt.param_groups:
                group["lr"] = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / len(plan))))
        losses, codes, z = train_step(model, opt, as_float(images[plan[step]]).to(model.device))
        usage += torch.bincount(codes.flatten(), minlength=model.cfg.num_codes)
        if reseed_every and (step + 1) % reseed_every == 0:
            reseeded += model.reseed_codes(usage == 0, z, gen)
            usage.zero_()
        if step % log_every == 0 or step == len(plan) - 1:
            history.append({"step": step, **{k: v.item() for k, v in losses.items()}})
            bar.set_postfix(recon=f"{losses['recon'].item():.4f}", vq=f"{losses['vq'].item():.4f}")
        if state_path is not None and ((step + 1) % save_every == 0 or step == len(plan) - 1):
            save_progress(state_path, fingerprint, parts, step=step + 1, history=history,
                          seconds=time.perf_counter() - began, usage=usage.cpu(), reseeded=reseeded)
    model.eval()
    return TrainResult(history=history, reseeded=reseeded, seconds=time.perf_counter() - began)


# -------------------------------------------------------------------------------------------------------- checkpoints

def save_vqvae(model: VQVAE, path: Path, meta: dict | None = None) -> None:
    save_checkpoint(model, path, CHECKPOINT_FORMAT, meta)


def load_vqvae(path: Path, expected: VQVAEConfig | None = None, dev: torch.device | None = None) -> VQVAE:
    """Load a checkpoint on CPU or GPU; with `expected`, refuse one saved for another config."""
    ckpt = read_checkpoint(path, CHECKPOINT_FORMAT, "VQ-VAE")
    cfg = VQVAEConfig(**ckpt["config"])
    if expected is not None and cfg != expected:
        raise ValueError(f"{path} was saved for {cfg}, but {expected} is wanted; delete it or use a matching preset")
    model = VQVAE(cfg)
    model.load_state_dict(ckpt["state_dict"])
    model.meta = ckpt["meta"]
    return model.to(dev or default_device()).eval()


# --------------------------------------------------------------------------------------------------------- evaluation

def codebook_stats(codes: torch.Tensor, num_codes: int = 256) -> dict[str, float]:
    """How many codes a set of code grids uses, and the perplexity of their frequencies (num_codes if uniform)."""
    counts = torch.bincount(codes.flatten(), minlength=num_codes).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"codes_used": int((counts > 0).sum()), "perplexity": float(entropy.exp())}


def vqvae_made_by(preset: Preset, faces: FaceDataset, seed: int = 0) -> dict:
    """What makes the preset's pretrained VQ-VAE: its faces' spec, its config and its training settings."""
    return {"faces": faces.spec, "model": asdict(VQVAEConfig(width=preset.vqvae_width)), "epochs": preset.vqvae_epochs,
            "batch_size": preset.vqvae_batch_size, "lr": LR, "cosine": True, "seed": seed}


def vqvae_checkpoint(preset: Preset, faces: FaceDataset, seed: int = 0) -> Path:
    """The cache file of the preset's VQ-VAE for these faces, named by what makes it (`vqvae_made_by`)."""
    return pretrained_path("vqvae", f"{preset.name}-w{preset.vqvae_width}-seed{seed}",
                           vqvae_made_by(preset, faces, seed))


def load_or_train_vqvae(preset: Preset, faces: FaceDataset, seed: int = 0, progress: bool = True,
                        retrain: bool = False) -> VQVAE:
    """The preset's pretrained VQ-VAE for these (restricted training) faces: from the cache (`vqvae_checkpoint`),
    the repository's shipped copy, resumed, or trained (`retrain`: trained even though one exists)."""
    made_by = vqvae_made_by(preset, faces, seed)
    cfg = VQVAEConfig(**made_by["model"])

    def train(state: Path) -> tuple[VQVAE, dict]:
        torch.manual_seed(seed)
        model = VQVAE(cfg).to(default_device())
        result = train_vqvae(model, faces.images, preset.vqvae_epochs, preset.vqvae_batch_size, lr=LR, seed=seed,
                             state_path=state, cosine=True, progress=progress, desc=f"training VQ-VAE ({preset.name})")
        return model, {"history": result.history, "seconds": round(result.seconds, 1), "reseeded": result.reseeded}

    return cached_or_trained(vqvae_checkpoint(preset, faces, seed), made_by, faces.images,
                             lambda p: load_vqvae(p, expected=cfg), train, save_vqvae,
                             command=retrain_command(preset, faces, "vqvae"), retrain=retrain)
