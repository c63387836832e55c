import pytest
import torch

from happy_utils.config import get_preset
from happy_utils.data.faces import render_faces
from happy_utils.experiments.baseline.vae import (
    BETA_FINAL,
    BETA_START,
    PAPER_STEPS,
    VAE,
    VAEConfig,
    beta_at,
    load_or_train_vae,
    train_vae,
)


@pytest.fixture(scope="module")
def faces():
    return render_faces(96, seed=5, progress=False)


def test_the_architecture_follows_tables_5_and_6():
    vae = VAE(VAEConfig(width=32))
    convs = [m for m in vae.encoder if isinstance(m, torch.nn.Sequential)]
    assert [c[0].out_channels for c in convs] == [32, 64, 128, 256, 512] and all(c[0].stride == (2, 2) for c in convs)
    assert vae.encoder[-1].in_features == 2048 and vae.encoder[-1].out_features == 128  # mean and log-variance
    assert vae.decoder[0].out_features == 2048
    x = torch.rand(2, 3, 64, 64)
    logits, mu, logvar = vae(x)
    assert logits.shape == (2, 3, 64, 64) and mu.shape == logvar.shape == (2, 64)
    z = vae.encode(x)
    assert z.shape == (2, 64) and torch.equal(z, vae.encode(x))  # the posterior mean, no sampling
    images = vae.decode(z)
    assert images.shape == (2, 3, 64, 64) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match=r"latents must have shape \(N, 64\)"):
        vae.decode(torch.zeros(2, 8, 8))


def test_the_kl_weight_follows_table_7():
    assert beta_at(0, PAPER_STEPS) == beta_at(4999, PAPER_STEPS) == BETA_START
    assert beta_at(5000, PAPER_STEPS) == pytest.approx(BETA_START * 1.1)
    assert beta_at(5050, PAPER_STEPS) == pytest.approx(BETA_START * 1.1 ** 2)
    assert beta_at(PAPER_STEPS - 1, PAPER_STEPS) == BETA_FINAL
    # a training a tenth as long reaches the final weight after a tenth of the steps
    full = next(s for s in range(PAPER_STEPS) if beta_at(s, PAPER_STEPS) == BETA_FINAL)
    short = next(s for s in range(PAPER_STEPS // 10) if beta_at(s, PAPER_STEPS // 10) == BETA_FINAL)
    assert short == pytest.approx(full / 10, rel=0.05)


def test_training_lowers_the_loss_and_resumes_to_the_same_weights(tmp_path, faces):
    torch.manual_seed(0)
    a = VAE(VAEConfig(width=4))
    b = VAE(VAEConfig(width=4))
    b.load_state_dict(a.state_dict())
    result = train_vae(a, faces.images, epochs=3, batch_size=16, seed=1, progress=False)
    assert result.history[-1]["recon"] < result.history[0]["recon"]

    class Killed(Exception):
        pass

    original_step = torch.optim.Adam.step
    calls = {"n": 0}

    def dies(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 10:
            raise Killed
        return original_step(self, *args, **kwargs)

    torch.optim.Adam.step = dies
    try:
        with pytest.raises(Killed):
            train_vae(b, faces.images, epochs=3, batch_size=16, seed=1, state_path=tmp_path / "s.pt", save_every=4,
                      progress=False)
    finally:
        torch.optim.Adam.step = original_step
    train_vae(b, faces.images, epochs=3, batch_size=16, seed=1, state_path=tmp_path / "s.pt", save_every=4,
              progress=False)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(p.float(), q.float(), atol=1e-5), name


def test_the_pretrained_vae_is_cached(faces):
    smoke = get_preset("smoke")
    first = load_or_train_vae(smoke, faces, progress=False)
    again = load_or_train_vae(smoke, faces, progress=False)
    assert again.meta["made_by"] == first.meta["made_by"] and first.meta["made_by"]["epochs"] == smoke.vae_epochs
    assert again.meta["history"] == first.meta["history"]
    assert all(torch.equal(p, q) for p, q in zip(first.state_dict().values(), again.state_dict().values()))
