import numpy as np
import pytest

from happy_utils.artifacts import Artifacts
from happy_utils.config import repo_root
from happy_utils.experiments.planted import planted_codes
from happy_utils.generators.vqvae import VQVAE, VQVAEConfig
from happy_utils.surrogates.trees import fit_trees


def _vqvae(faces: str) -> VQVAE:
    model = VQVAE(VQVAEConfig(width=8))
    model.meta = {"made_by": {"faces": faces, "epochs": 4, "batch_size": 16, "seed": 0}}
    return model


def test_notebook_outputs_live_under_runs_notebooks_and_a_setting_names_its_run(isolated_folders, capsys):
    files = Artifacts.of("smoke", "synthetic")
    assert files.notebooks == isolated_folders / "runs" / "notebooks" / "smoke-synthetic"
    assert files.cli_comparison == isolated_folders / "runs" / "compare-smoke"
    first = files.notebook_run("05", variant="vqvae-wr", budget=20, seed=0)
    other = files.notebook_run("05", variant="vqvae-wr", budget=40, seed=0)
    assert first != other and first.parent == other.parent == files.notebooks
    assert first.name == "05-variantvqvae-wr-budget20-seed0"
    assert capsys.readouterr().out.count("starting a run") == 2
    (first / "queries.jsonl").parent.mkdir(parents=True)
    (first / "queries.jsonl").write_text("{}\n")
    assert files.notebook_run("05", variant="vqvae-wr", budget=20, seed=0) == first
    assert "resuming a run" in capsys.readouterr().out
    assert files.notebook_run_folder("05", variant="vqvae-wr", budget=20, seed=0) == first
    assert "run" not in capsys.readouterr().out  # naming a folder to read it says nothing


def test_the_surrogate_is_handed_from_03_to_04_only_for_the_vqvae_it_was_fitted_on(capsys):
    files = Artifacts.of("smoke", "synthetic")
    codes, scores = planted_codes(300, seed=0)
    surrogate = fit_trees(codes, scores, n_trees=10)
    assert files.load_surrogate("raw", _vqvae("abc")) is None
    assert "no surrogate" in capsys.readouterr().out
    files.save_surrogate(surrogate, "raw", _vqvae("abc"))
    assert "saved the surrogate (raw target)" in capsys.readouterr().out
    loaded = files.load_surrogate("raw", _vqvae("abc"))
    assert np.array_equal(loaded.predict(codes), surrogate.predict(codes))
    assert files.load_surrogate("raw", _vqvae("retrained on other data")) is None
    assert "the surrogate of another VQ-VAE" in capsys.readouterr().out
    assert files.load_surrogate("decoded", _vqvae("abc")) is None


def test_an_unknown_source_is_refused():
    with pytest.raises(ValueError, match="unknown data source"):
        Artifacts.of("smoke", "flickr")


def test_a_regular_install_finds_the_clone_around_the_working_directory(tmp_path, monkeypatch):
    import happy_utils.config as config

    clone = tmp_path / "clone"
    (clone / "happy_utils").mkdir(parents=True)
    (clone / "notebooks").mkdir()
    (clone / "pyproject.toml").write_text("")
    monkeypatch.setattr(config, "__file__", str(tmp_path / "site-packages" / "happy_utils" / "config.py"))
    monkeypatch.chdir(clone / "notebooks")
    assert repo_root() == clone
    monkeypatch.chdir(tmp_path)
    assert repo_root() == tmp_path  # no clone around: the working directory


def test_the_latent_set_says_whether_its_vqvae_was_trained_or_loaded(capsys):
    from happy_utils.scorers.loading import load_scorer

    files = Artifacts.of("smoke", "synthetic")
    oracle = load_scorer("oracle")
    first = files.latents("raw", oracle)
    assert "trained and saved the VQ-VAE: " in capsys.readouterr().out
    again = files.latents("raw", oracle)
    out = capsys.readouterr().out
    assert "loaded the VQ-VAE: " in out and "smoke-w8-" in out
    assert np.array_equal(first.rows, again.rows)


def test_the_setup_cell_says_whether_a_vqvae_ships_is_cached_or_must_be_trained(isolated_folders):
    laptop = Artifacts.of("laptop", "synthetic").describe()  # the repository ships the laptop preset's VQ-VAE
    assert "a shipped VQ-VAE of this preset (" in laptop and "data/generators/vqvae/laptop-w32-seed0-" in laptop
    assert "device" in laptop and "python -m happy_utils estimate --preset laptop" in laptop
    smoke = Artifacts.of("smoke", "synthetic")
    assert "no VQ-VAE of this preset yet: notebook 02 trains one (4 epochs)" in smoke.describe()
    cached = isolated_folders / "cache" / "vqvae" / "smoke-w8-seed0-0123456789abcdef.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert "a cached VQ-VAE of this preset (" in smoke.describe() and cached.name in smoke.describe()
