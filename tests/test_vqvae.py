import pytest
import torch
from torch import nn

from happy_utils.config import SPLIT_SEEDS, get_paths, get_preset, repo_root
from happy_utils.data.faces import FaceDataset, render_faces, world_spec
from happy_utils.experiments.variants import GENERATORS
from happy_utils.files import write_checksum
from happy_utils.generators import training, vqvae
from happy_utils.generators.vqvae import VQVAE, VQVAEConfig
from happy_utils.provenance import compare_pixels

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
    real_save = vqvae.save_progress
    saves = {"n": 0}

    def die_after_first_save(*args, **kw):
        real_save(*args, **kw)
        saves["n"] += 1
        if saves["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(vqvae, "save_progress", die_after_first_save)
    state = tmp_path / "state.pt"
    with pytest.raises(KeyboardInterrupt):
        vqvae.train_vqvae(model, faces.images, state_path=state, **kwargs)
    saved_step = torch.load(state, weights_only=False)["step"]
    assert 0 < saved_step < 12
    monkeypatch.setattr(vqvae, "save_progress", real_save)
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
    first = vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    files = list((get_paths().cache / "vqvae").glob("*.pt"))
    assert len(files) == 1 and not list((get_paths().cache / "vqvae").glob("*.state.pt"))
    second = vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    assert second.meta["history"] == first.meta["history"] and second.meta["made_by"]["epochs"] == cfg.vqvae_epochs
    assert torch.equal(first.encode(faces.images), second.encode(faces.images))


def test_a_shipped_model_is_taken_instead_of_training_and_checked(faces, monkeypatch, tmp_path):
    cfg = get_preset("smoke")
    trained = vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    cached = vqvae.vqvae_checkpoint(cfg, faces)
    monkeypatch.setenv("HAPPY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(tmp_path / "fresh-cache"))
    shipped = tmp_path / "data" / "generators" / "vqvae" / cached.name
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(cached.read_bytes())
    write_checksum(shipped)

    def no_training(*args, **kw):
        raise AssertionError("trained although the repository ships the model")

    monkeypatch.setattr(vqvae, "train_vqvae", no_training)
    taken = vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    assert torch.equal(taken.encode(faces.images), trained.encode(faces.images))
    assert vqvae.vqvae_checkpoint(cfg, faces).read_bytes() == cached.read_bytes()  # now in the cache
    vqvae.vqvae_checkpoint(cfg, faces).unlink()
    shipped.write_bytes(cached.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match=f"{cached.name} does not match its checksum"):
        vqvae.load_or_train_vqvae(cfg, faces, progress=False)


def _ship(model_path, data_dir):
    """The repository's copy of a cached model, with its checksum, under another data folder."""
    shipped = data_dir / "generators" / "vqvae" / model_path.name
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(model_path.read_bytes())
    write_checksum(shipped)
    return shipped


def _no_training(*args, **kw):
    raise AssertionError("trained although a model for these faces exists")


def test_a_model_records_what_made_it_its_faces_pixels_and_its_fit(faces):
    cfg = get_preset("smoke")
    model = vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    meta = model.meta
    assert meta["made_by"] == vqvae.vqvae_made_by(cfg, faces) and meta["made_by"]["faces"] == faces.spec
    assert vqvae.vqvae_checkpoint(cfg, faces).name.startswith(f"smoke-w{cfg.vqvae_width}-seed0-")
    assert meta["pixels"]["faces"] == len(faces) and compare_pixels(meta["pixels"], faces.images) is None
    assert meta["fit"]["faces"] == len(faces) and meta["fit"]["latents"].shape == (len(faces), 8, 8)
    assert meta["fit"]["psnr_db"] == pytest.approx(model.quality(faces.images)["psnr_db"])
    assert meta["made_with"]["torch"] == str(torch.__version__) and meta["made_with"]["cpu"]


def test_faces_one_level_off_in_a_few_pixels_still_take_the_shipped_model_and_say_so(faces, monkeypatch, tmp_path,
                                                                                       capsys):
    """Another CPU's renderer: the same spec, a few values rounded the other way. The shipped model is taken (no
    training), after its fit is measured, and one line says how the pixels differ."""
    cfg = get_preset("smoke")
    made = vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    _ship(vqvae.vqvae_checkpoint(cfg, faces), tmp_path / "data")
    monkeypatch.setenv("HAPPY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAPPY_CACHE_DIR", str(tmp_path / "fresh-cache"))
    rounded = FaceDataset(images=faces.images.clone(), labels=faces.labels, spec=faces.spec)
    for i, (c, y, x) in enumerate([(0, 10, 20), (1, 33, 40), (2, 50, 12)]):  # one value each in three faces
        value = rounded.images[3 * i + 1, c, y, x]
        rounded.images[3 * i + 1, c, y, x] = value + 1 if value < 255 else value - 1
    monkeypatch.setattr(vqvae, "train_vqvae", _no_training)
    taken = vqvae.load_or_train_vqvae(cfg, rounded, progress=False)
    out = capsys.readouterr().out
    assert "the repository ships this model" in out
    assert f"3 of {len(faces)} faces differ in their pixels from those it was made from" in out
    assert "moved by at most 1" in out and "100.00% of the latents the same): taking it" in out
    assert all(torch.equal(a, b) for a, b in zip(taken.state_dict().values(), made.state_dict().values()))


def test_faces_of_other_sizes_do_not_find_the_model(faces, monkeypatch):
    cfg = get_preset("smoke")
    vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    bigger = render_faces(len(faces) + 8, seed=21, progress=False)
    assert bigger.spec != faces.spec
    assert vqvae.vqvae_checkpoint(cfg, bigger) != vqvae.vqvae_checkpoint(cfg, faces)
    assert vqvae.vqvae_checkpoint(cfg, faces.restricted()) != vqvae.vqvae_checkpoint(cfg, faces)
    longer = cfg.replace(vqvae_epochs=cfg.vqvae_epochs + 1)
    assert vqvae.vqvae_checkpoint(longer, faces) != vqvae.vqvae_checkpoint(cfg, faces)
    monkeypatch.setattr(vqvae, "train_vqvae", _no_training)
    with pytest.raises(AssertionError, match="trained although"):
        vqvae.load_or_train_vqvae(cfg, bigger, progress=False)


def test_a_model_that_does_not_fit_the_faces_is_an_error_with_the_retrain_command(faces, capsys):
    """Other faces under the same spec (a changed drawing without a version bump): a clear error that names the
    file, the measures and the command; never a silent training. The command then trains one that is taken."""
    cfg = get_preset("smoke")
    vqvae.load_or_train_vqvae(cfg, faces, progress=False)
    path = vqvae.vqvae_checkpoint(cfg, faces)
    other = render_faces(len(faces), seed=22, progress=False)
    changed = FaceDataset(images=other.images, labels=other.labels, spec=faces.spec)
    with pytest.raises(ValueError) as err:
        vqvae.load_or_train_vqvae(cfg, changed, progress=False)
    message = str(err.value)
    assert f"{path} does not fit these faces: {len(faces)} of {len(faces)} faces differ" in message
    assert "of the latents the same" in message
    assert "python -m happy_utils pretrain --preset smoke --source synthetic --generator vqvae --retrain" in message
    retrained = vqvae.load_or_train_vqvae(cfg, changed, progress=False, retrain=True)
    assert compare_pixels(retrained.meta["pixels"], changed.images) is None
    capsys.readouterr()
    again = vqvae.load_or_train_vqvae(cfg, changed, progress=False)
    assert again.meta["history"] == retrained.meta["history"] and capsys.readouterr().out == ""


def test_the_shipped_laptop_models_are_found_by_what_makes_them():
    """The names of the shipped models follow from the laptop preset's spec: a change to how a spec is written or
    keyed would orphan them (and send every machine into an hour of training)."""
    cfg = get_preset("laptop")
    empty = FaceDataset(images=torch.empty(0, 3, 64, 64, dtype=torch.uint8), labels=torch.empty(0, dtype=torch.int64),
                        spec=world_spec(cfg.train_size, SPLIT_SEEDS["train"]))
    restricted = empty.restricted()
    assert restricted.spec == "synthetic n=24000 seed=101 renderer=1 | level<=2"
    shipped = repo_root() / "data" / "generators"
    for kind in GENERATORS:
        path = shipped / kind / GENERATORS[kind].checkpoint(cfg, restricted).name
        assert path.exists(), f"no shipped {kind} named {path.name}"
        meta = torch.load(path, weights_only=True)["meta"]
        assert meta["made_by"]["faces"] == restricted.spec and meta["pixels"]["faces"] == 11_908
