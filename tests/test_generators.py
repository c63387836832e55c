"""Both generators behind the loop's `Generator` protocol: latent shapes, quality, and fine-tunes drawn by weight."""

import pytest
import torch

from happy_utils.data.faces import render_faces
from happy_utils.experiments.baseline.vae import VAE, VAEConfig
from happy_utils.generators.base import Generator
from happy_utils.generators.vqvae import VQVAE, VQVAEConfig

KINDS = {
    "vqvae": (lambda: VQVAE(VQVAEConfig(width=8)), (8, 8), {"psnr_db", "codes_used", "perplexity"}),
    "vae": (lambda: VAE(VAEConfig(width=4)), (64,), {"psnr_db"}),
}


@pytest.fixture(scope="module")
def images():
    return render_faces(96, seed=21, progress=False).images


@pytest.mark.parametrize("kind", KINDS)
def test_a_generator_fine_tunes_only_on_what_its_weights_allow(kind, images):
    build, latent_shape, quality_keys = KINDS[kind]
    torch.manual_seed(0)
    model = build()
    assert isinstance(model, Generator) and model.latent_shape == latent_shape
    assert model.encode(images[:3]).shape == (3, *latent_shape)
    assert set(model.quality(images)) == quality_keys
    seen = []
    hook = model.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach() + 0.5))
    weights = torch.zeros(len(images))
    weights[:8] = 1.0  # weighted retraining: only the first eight faces may be drawn
    result = model.finetune(images, epochs=2, batch_size=16, weights=weights, seed=0)
    hook.remove()
    allowed = images[:8].float() / 255
    drawn = torch.cat(seen)
    assert len(drawn) == 16 * -(-2 * len(images) // 16) and result.history  # 2 epochs, drawn with replacement
    assert all(torch.isclose(allowed, x, atol=1e-6).flatten(1).all(1).any() for x in drawn)
