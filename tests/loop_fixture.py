"""A tiny loop: a VQ-VAE of width 8 on 400 rendered faces and six queries (the `latent` and `oracle` fixtures of
conftest.py). Shared by the loop's tests and the fault-injection tests, which compare a disturbed run's queries with
an undisturbed one's."""

import torch

from happy_utils.data.faces import render_faces
from happy_utils.generators.vqvae import VQVAE, VQVAEConfig, train_vqvae
from happy_utils.latents import LatentSet
from happy_utils.loop import LoopConfig
from happy_utils.scorers.base import SmileScorer

CFG = LoopConfig(budget=6, retrain_every=3, rank_k=1e-3, free_cells=4, seed=7, batch_size=16, n_trees=40,
                 finetune_epochs=0.5, fit_set=(60, 90))


def tiny_latent(oracle: SmileScorer) -> LatentSet:
    faces = render_faces(400, seed=31, progress=False).restricted()
    torch.manual_seed(0)
    vq = VQVAE(VQVAEConfig(width=8))
    train_vqvae(vq, faces.images, epochs=3, batch_size=16, progress=False)
    return LatentSet(faces=faces, generator=vq, latents=vq.encode(faces.images),
                     labels=oracle.score(faces.images).degree.numpy(), target="raw")
