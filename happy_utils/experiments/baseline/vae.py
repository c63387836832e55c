"""The continuous baseline's generator: the VAE of the paper's appendix A.4 (Tables 5-7).

Why: the paper compares discrete latent space optimisation with the usual continuous one (Tripp et al. 2020): a VAE
with a 64-dimensional Gaussian latent, searched by gradient-based optimisation. Encoder: five stride-2 3x3 convolutions
(LeakyReLU, BatchNorm), 32 to 512 channels at the paper width, flattened to a dense layer giving mean and log-variance;
decoder: dense, five transposed convolutions, a last 3x3 convolution. Presets scale the width only. Training follows
Table 7: Adam 1e-4, batches of 64, the KL weight beta held at 1e-6 for a warm-up, then multiplied by 1.1 every 50
steps up to 0.215 (for a shorter training the warm-up and the step interval shrink in proportion to its length).
Fine-tuning with rank weights goes through the same `sample_plan` as the VQ-VAE's.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ...config import Preset
from ...config import device as default_device
from ...data.faces import FaceDataset
from ...generators.training import (
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
from ...images import as_float, check_images
from ...progress import resume_progress, save_progress

CHECKPOINT_FORMAT = "happy-vae-v1"
BATCH_SIZE, LR = 64, 1e-4  # Table 7
BETA_START, BETA_FINAL, BETA_WARMUP, BETA_STEP, BETA_EVERY = 1e-6, 0.215, 5000, 1.1, 50  # Table 7
PAPER_STEPS = 30 * 160_000 // BATCH_SIZE  # the paper's training length, to which the beta schedule belongs


@dataclass(frozen=True)
class VAEConfig:
    """Channel width of the first conv (the paper's 32) and the latent dimension (64)."""

    width: int = 32
    latent_dim: int = 64


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), nn.LeakyReLU(), nn.BatchNorm2d(cout))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), nn.LeakyReLU(),
                         nn.BatchNorm2d(cout))


class VAE(nn.Module):
    """64x64 images in [0, 1] <-> 64-dimensional Gaussian latents; `encode` gives the posterior means."""

    title = "VAE"
    loss_keys = ("recon", "kl")

    def __init__(self, cfg: VAEConfig = VAEConfig()):
        super().__init__()
        self.cfg = cfg
        w, top = cfg.width, 16 * cfg.width
        self.latent_shape = (cfg.latent_dim,)
        self.meta: dict = {}  # how it was trained: set when it is trained by `load_or_train_*` or loaded
        self.encoder = nn.Sequential(_down(3, w), _down(w, 2 * w), _down(2 * w, 4 * w), _down(4 * w, 8 * w),
                                     _down(8 * w, top), nn.Flatten(), nn.Linear(top * 4, 2 * cfg.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, top * 4), nn.LeakyReLU(), nn.Unflatten(1, (top, 2, 2)),
                                     _up(top, 8 * w), _up(8 * w, 4 * w), _up(4 * w, 2 * w), _up(2 * w, w), _up(w, w),
                                     nn.Conv2d(w, 3, 3, 1, 1))

    @property
    def device(self) -> torch.device:
        return self.decoder[0].weight.device

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits, mean and log-variance, for training (one reparameterised sample)."""
        mu, logvar = self.encoder(x - 0.5).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar

    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Posterior means (N, 64) of images (N, 3, 64, 64), uint8 or float in [0, 1]."""
        check_images(images)
        self.eval()
        out = [self.encoder(as_float(b).to(self.device) - 0.5).chunk(2, dim=1)[0].cpu()
               for b in images.split(batch_size)]
        return torch.cat(out) if out else torch.empty(0, self.cfg.latent_dim)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Images (N, 3, 64, 64) in [0, 1] of latents (N, 64)."""
        latents = torch.as_tensor(latents, dtype=torch.float32)
        if latents.dim() != 2 or latents.shape[1] != self.cfg.latent_dim:
            raise ValueError(f"latents must have shape (N, {self.cfg.latent_dim}), got {tuple(latents.shape)}")
        self.eval()
        out = [torch.sigmoid(self.decoder(b.to(self.device))).cpu() for b in latents.split(batch_size)]
        return torch.cat(out) if out else torch.empty(0, 3, 64, 64)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    def finetune(self, images: torch.Tensor, epochs: float, batch_size: int, weights: torch.Tensor,
                 seed: int) -> TrainResult:
        """Weighted retraining: `train_vae` on images drawn in proportion to `weights`, beta at its final value."""
        return train_vae(self, images, epochs, batch_size, weights=weights, seed=seed, anneal=False, progress=False,
                         desc="fine-tune")

    def quality(self, images: torch.Tensor, scorers: dict | None = None) -> dict[str, float]:
        """Reconstruction PSNR (through the posterior mean) and how far each scorer's smile score moves."""
        recon = self.reconstruct(images)
        return {"psnr_db": float(psnr(recon, images).mean()), **score_change(recon, images, scorers)}


def beta_at(step: int, total_steps: int) -> float:
    """Table 7's KL weight at a step, its warm-up and interval scaled to a training of `total_steps` steps."""
    scale = min(1.0, total_steps / PAPER_STEPS)
    warmup, every = BETA_WARMUP * scale, max(1.0, BETA_EVERY * scale)
    if step < warmup:
        return BETA_START
    return min(BETA_FINAL, BETA_START * BETA_STEP ** (1 + int((step - warmup) // every)))


def train_vae(model: VAE, images: torch.Tensor, epochs: float, batch_size: int = BATCH_SIZE, lr: float = LR,
              weights: torch.Tensor | None = None, seed: int = 0, state_path: Path | None = None,
              anneal: bool = True, save_every: int = 200, log_every: int = 10, progress: bool = True,
              desc: str = "VAE") -> TrainResult:
    """Train (anneal=True, Table 7's beta schedule) or fine-tune (beta at its final value) on uint8 images.

    `weights` makes it weighted retraining. With `state_path` it saves every `save_every` steps and resumes there.
    """
    check_images(images)
    plan = sample_plan(len(images), epochs, batch_size, weights, seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator(device=model.device).manual_seed(seed + 1)
    fingerprint = plan_fingerprint(plan, model.cfg, lr, anneal)
    history: list[dict] = []
    start, seconds = 0, 0.0
    parts = {"model": model, "optimizer": opt, "generator": gen}
    state = resume_progress(state_path, fingerprint, parts, model.device)
    if state is not None:
        start, history, seconds = state["step"], state["history"], state["seconds"]
    model.train()
    began = time.perf_counter() - seconds
    bar = tqdm(range(start, len(plan)), desc=desc, initial=start, total=len(plan), disable=not progress)
    for step in bar:
        x = as_float(images[plan[step]]).to(model.device)
        mu, logvar = model.encoder(x - 0.5).chunk(2, dim=1)
        z = mu + torch.randn(mu.shape, generator=gen, device=mu.device) * (0.5 * logvar).exp()
        recon = F.binary_cross_entropy_with_logits(model.decoder(z), x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
        beta = beta_at(step, len(plan)) if anneal else BETA_FINAL
        loss = recon + beta * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == len(plan) - 1:
            history.append({"step": step, "loss": loss.item(), "recon": recon.item(), "kl": kl.item(), "beta": beta})
            bar.set_postfix(recon=f"{recon.item():.1f}", kl=f"{kl.item():.1f}", beta=f"{beta:.2g}")
        if state_path is not None and ((step + 1) % save_every == 0 or step == len(plan) - 1):
            save_progress(state_path, fingerprint, parts, step=step + 1, history=history,
                          seconds=time.perf_counter() - began)
    model.eval()
    return TrainResult(history=history, reseeded=0, seconds=time.perf_counter() - began)


def save_vae(model: VAE, path: Path, meta: dict | None = None) -> None:
    save_checkpoint(model, path, CHECKPOINT_FORMAT, meta)


def load_vae(path: Path, dev: torch.device | None = None) -> VAE:
    ckpt = read_checkpoint(path, CHECKPOINT_FORMAT, "VAE")
    model = VAE(VAEConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    model.meta = ckpt["meta"]
    return model.to(dev or default_device()).eval()


def vae_made_by(preset: Preset, faces: FaceDataset, seed: int = 0) -> dict:
    """What makes the preset's pretrained VAE: its faces' spec, its config and Table 7's training settings."""
    return {"faces": faces.spec, "model": asdict(VAEConfig(width=preset.vae_width)), "epochs": preset.vae_epochs,
            "batch_size": BATCH_SIZE, "lr": LR, "anneal": True, "seed": seed}


def vae_checkpoint(preset: Preset, faces: FaceDataset, seed: int = 0) -> Path:
    """The cache file of the preset's VAE for these faces, named by what makes it (`vae_made_by`)."""
    return pretrained_path("vae", f"{preset.name}-w{preset.vae_width}-seed{seed}", vae_made_by(preset, faces, seed))


def load_or_train_vae(preset: Preset, faces: FaceDataset, seed: int = 0, progress: bool = True,
                      retrain: bool = False) -> VAE:
    """The preset's pretrained VAE for these (restricted training) faces: from the cache, the repository's shipped
    copy, resumed, or trained (`retrain`: trained even though one exists)."""
    made_by = vae_made_by(preset, faces, seed)
    cfg = VAEConfig(**made_by["model"])

    def train(state: Path) -> tuple[VAE, dict]:
        torch.manual_seed(seed)
        model = VAE(cfg).to(default_device())
        result = train_vae(model, faces.images, preset.vae_epochs, seed=seed, state_path=state, progress=progress,
                           desc=f"training VAE ({preset.name})")
        return model, {"history": result.history, "seconds": round(result.seconds, 1)}

    return cached_or_trained(vae_checkpoint(preset, faces, seed), made_by, faces.images, load_vae, train, save_vae,
                             command=retrain_command(preset, faces, "vae"), retrain=retrain)
