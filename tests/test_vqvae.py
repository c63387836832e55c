import pytest
import torch
from torch import nn

from happy_utils.config import get_paths, get_preset
from happy_utils.data.faces import render_faces
from happy_utils.files import write_checksum
from happy_utils.generators import training, vqvae
from happy_utils.generators.vqvae import VQVAE, VQVAEConfig

PAPER = VQVAEConfig()  # width 64, K = 256, D = 64, beta = 0.25
TINY = VQVAEConfig(width=8)


@pytest.fixture(scope="module")
def faces():
    return render_faces(96, seed=21, progress=False)


def _first_conv(stage: nn.Module) -> nn.Module:
    return next(m for m in stage.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def test_layers_match_tables_2_and_3_at_paper_width():
    model = VQVAE(PAPER)
    shapes = vqvae.stage_shapes(model)
    # Table 2, stages 1-7 (channels, H, W) and (kernel, padding, stride) of the convolutions.
    assert shapes["encoder"] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (256, 8, 8), (256, 8, 8),
                                               (256, 8, 8), (64, 8, 8)]
    enc_convs = [model.encoder[i] for i in (0, 1, 2, 3, 6)]
    assert [(_first_conv(s).kernel_size[0], _first_conv(s).padding[0], _first_conv(s).stride[0]) for s in enc_convs] \
        == [(4, 1, 2), (4, 1, 2), (4, 1, 2), (3, 1, 1), (1, 0, 1)]
    # Table 3, stages 1-6.
    assert shapes["decoder"] == [(256, 8, 8), (256, 8, 8), (256, 8, 8), (128, 16, 16), (64, 32, 32),
                                               (3, 64, 64)]
    dec_convs = [model.decoder[i] for i in (0, 3, 4, 5)]
    assert [(_first_conv(s).kernel_size[0], _first_conv(s).padding[0], _first_conv(s).stride[0],
             type(_first_conv(s)).__name__) for s in dec_convs] == [
        (3, 1, 1, "Conv2d"), (4, 1, 2, "ConvTranspose2d"), (4, 1, 2, "ConvTranspose2d"), (4, 1, 2, "ConvTranspose2d")]
    assert all(isinstance(model.encoder[i], vqvae.ResidualBlock) for i in (4, 5))
    assert model.quantizer.codebook.weight.shape == (256, 64) and model.quantizer.beta == 0.25


def test_width_scales_channels_only():
    small = VQVAE(VQVAEConfig(width=16))
    assert vqvae.stage_shapes(small)["encoder"] == [(16, 32, 32), (32, 16, 16), (64, 8, 8), (64, 8, 8), (64, 8, 8),
                                                     (64, 8, 8), (64, 8, 8)]
    assert len(small.encoder) == len(VQVAE(PAPER).encoder) and len(small.decoder) == len(VQVAE(PAPER).decoder)


def test_encode_decode_shapes_and_dtypes(faces):
    model = VQVAE(TINY)
    codes = model.encode(faces.images[:5])
    assert codes.shape == (5, 8, 8) and codes.dtype == torch.int64
    assert 0 <= codes.min() and codes.max() < 256
    assert torch.equal(codes, model.encode(faces.float_images()[:5]))
    images = model.decode(codes)
    assert images.shape == (5, 3, 64, 64) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    assert model.encode(faces.images[:0]).shape == (0, 8, 8)


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, faces):
    model = VQVAE(TINY)
    vqvae.train_vqvae(model, faces.images, epochs=0.5, batch_size=16, progress=False)
    vqvae.save_vqvae(model, tmp_path / "m.pt", meta={"note": "test"})
    loaded = vqvae.load_vqvae(tmp_path / "m.pt", expected=TINY, dev=torch.device("cpu"))
    assert loaded.meta == {"note": "test"}
    codes = model.encode(faces.images)
    assert torch.equal(codes, loaded.encode(faces.images))
    assert torch.equal(model.decode(codes), loaded.decode(codes))


def test_checkpoint_of_another_config_is_refused(tmp_path):
    vqvae.save_vqvae(VQVAE(TINY), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="width=8.*width=16"):
        vqvae.load_vqvae(tmp_path / "m.pt", expected=VQVAEConfig(width=16))
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a VQ-VAE checkpoint"):
        vqvae.load_vqvae(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        vqvae.load_vqvae(tmp_path / "missing.pt")


def test_bad_input_gets_clear_errors():
    model = VQVAE(TINY)
    with pytest.raises(ValueError, match=r"shape \(N, 3, 64, 64\)"):
        model.encode(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        model.encode(torch.rand(2, 3, 64, 64) * 255)
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8\)"):
        model.decode(torch.zeros(2, 64, dtype=torch.long))
    with pytest.raises(ValueError, match=r"0\.\.255, got values in \[256, 256\]"):
        model.decode(torch.full((1, 8, 8), 256))
    with pytest.raises(ValueError, match=r"0\.\.255, got values in \[-1, -1\]"):
        model.decode(torch.full((1, 8, 8), -1))
    with pytest.raises(ValueError, match="integer indices"):
        model.decode(torch.zeros(1, 8, 8))
    with pytest.raises(ValueError, match="non-negative"):
        training.sample_plan(4, 1, 2, torch.tensor([1.0, -1.0, 1.0, 1.0]), seed=0)


def test_fractional_epochs_and_uniform_plan():
    plan = training.sample_plan(100, 0.3, 10, None, seed=0)
    assert plan.shape == (3, 10)
    full = training.sample_plan(100, 2, 10, None, seed=0)
    assert sorted(full[:10].flatten().tolist()) == list(range(100))  # every example once per epoch


def test_weighted_sampling_draws_heavy_examples_proportionally_more():
    weights = torch.ones(100)
    weights[:10] = 9.0  # 10 examples carry 90 / 180 = half of the mass
    plan = training.sample_plan(100, 200, 50, weights, seed=1).flatten()
    share_heavy = (plan < 10).float().mean().item()
    assert abs(share_heavy - 0.5) < 0.01  # 20,000 draws: standard error 0.0035
    counts = torch.bincount(plan, minlength=100).float()
    ratio = counts[:10].mean() / counts[10:].mean()
    assert 8.0 < ratio < 10.0


def test_a_few_steps_lower_the_loss(faces):
    torch.manual_seed(0)
    model = VQVAE(TINY)
    x = faces.float_images()
    before = (model.reconstruct(faces.images) - x).pow(2).mean()
    result = vqvae.train_vqvae(model, faces.images, epochs=30, batch_size=16, progress=False)
    after = (model.reconstruct(faces.images) - x).pow(2).mean()
    assert len(result.history) > 10 and after < 0.8 * before


def test_dead_codes_are_reseeded(faces):
    torch.manual_seed(0)
    model = VQVAE(TINY)
    before = model.quantizer.codebook.weight.detach().clone()
    result = vqvae.train_vqvae(model, faces.images, epochs=2, batch_size=16, reseed_every=3, progress=False)
    assert result.reseeded > 0
    moved = (model.quantizer.codebook.weight - before).abs().sum(dim=1) > 0
    assert moved.sum() >= result.reseeded // 4
    stats = vqvae.codebook_stats(model.encode(faces.images))
    torch.manual_seed(0)
    plain = VQVAE(TINY)
    vqvae.train_vqvae(plain, faces.images, epochs=2, batch_size=16, reseed_every=10**9, progress=False)
    assert stats["codes_used"] > vqvae.codebook_stats(plain.encode(faces.images))["codes_used"]


def test_interrupted_training_resumes_where_it_stopped(tmp_path, faces, monkeypatch):
    kwargs = dict(epochs=2, batch_size=16, seed=3, progress=False, reseed_every=4, save_every=5)
    torch.manual_seed(0)
    straight = VQVAE(TINY)
    vqvae.train_vqvae(straight, faces.images, **kwargs)

    torch.manual_seed(0)
    model = VQVAE(TINY)
    real_save = vqvae.save_training_state
    saves = {"n": 0}

    def die_after_first_save(*args, **kw):
        real_save(*args, **kw)
        saves["n"] += 1
        if saves["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(vqvae, "save_training_state", die_after_first_save)
    state = tmp_path / "state.pt"
    with pytest.raises(KeyboardInterrupt):
        vqvae.train_vqvae(model, faces.images, state_path=state, **kwargs)
    saved_step = torch.load(state, weights_only=False)["step"]
    assert 0 < saved_step < 12
    monkeypatch.setattr(vqvae, "save_training_state", real_save)
    torch.manual_seed(123)  # a fresh process: the model starts from other weights, the saved state replaces them
    resumed = VQVAE(TINY)
    vqvae.train_vqvae(resumed, faces.images, state_path=state, **kwargs)
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value)


def test_codebook_stats_and_psnr():
    codes = torch.tensor([[[0, 0], [1, 1]]])
    assert vqvae.codebook_stats(codes, 4) == {"codes_used": 2, "perplexity": pytest.approx(2.0)}
    a = torch.zeros(1, 3, 64, 64)
    assert training.psnr(a, a + 0.1).item() == pytest.approx(20.0, abs=1e-4)


def test_cosine_schedule_decays_the_learning_rate(faces, monkeypatch):
    seen = []
    real_step = torch.optim.Adam.step

    def spy(self, *args, **kw):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    vqvae.train_vqvae(VQVAE(TINY), faces.images, epochs=2, batch_size=8, lr=1e-3, cosine=True, progress=False)
    assert seen[0] == pytest.approx(1e-3) and seen[-1] < 0.05e-3 and all(a >= b for a, b in zip(seen, seen[1:]))


def test_load_or_train_caches_and_reloads(faces):
    cfg = get_preset("smoke")
    first = vqvae.load_or_train_vqvae(cfg, faces.images, progress=False)
    files = list((get_paths().cache / "vqvae").glob("*.pt"))
    assert len(files) == 1 and not list((get_paths().cache / "vqvae").glob("*.state.pt"))
    second = vqvae.load_or_train_vqvae(cfg, faces.images, progress=False)
    assert second.meta["history"] == first.meta["history"] and second.meta["epochs"] == cfg.vqvae_epochs
    assert torch.equal(first.encode(faces.images), second.encode(faces.images))


def test_a_shipped_model_is_taken_instead_of_training_and_checked(faces, monkeypatch, tmp_path):
    cfg = get_preset("smoke")
    trained = vqvae.load_or_train_vqvae(cfg, faces.images, progress=False)
    cached = vqvae.vqvae_checkpoint(cfg, faces.images)
    monkeypatch.setenv("HAPPY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(tmp_path / "fresh-cache"))
    shipped = tmp_path / "data" / "generators" / "vqvae" / cached.name
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(cached.read_bytes())
    write_checksum(shipped)

    def no_training(*args, **kw):
        raise AssertionError("trained although the repository ships the model")

    monkeypatch.setattr(vqvae, "train_vqvae", no_training)
    taken = vqvae.load_or_train_vqvae(cfg, faces.images, progress=False)
    assert torch.equal(taken.encode(faces.images), trained.encode(faces.images))
    assert vqvae.vqvae_checkpoint(cfg, faces.images).read_bytes() == cached.read_bytes()  # now in the cache
    vqvae.vqvae_checkpoint(cfg, faces.images).unlink()
    shipped.write_bytes(cached.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match=f"{cached.name} does not match its checksum"):
        vqvae.load_or_train_vqvae(cfg, faces.images, progress=False)
