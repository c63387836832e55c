import json

import pytest
import torch
import torch.nn.functional as F
from celeba_fixture import make_celeba

from happy_utils.experiments.cli import main
from happy_utils.scorers.loading import load_scorer, load_scorers
from happy_utils.scorers.predictor import (
    SCALED_FILE,
    AttributePredictor,
    calibration_path,
    expected_calibration_error,
    fit_temperature,
    load_predictor,
    save_predictor,
    save_scaled_predictor,
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A randomly initialised predictor saved the way Talk-to-Edit's predictor_128.pth.tar is."""
    torch.manual_seed(0)
    net = AttributePredictor().eval()
    path = tmp_path_factory.mktemp("celeba") / "predictor_128.pth.tar"
    save_predictor(net, path)
    return path


def test_the_checkpoint_layout_is_talk_to_edits(checkpoint):
    keys = set(torch.load(checkpoint, weights_only=True)["state_dict"])
    assert {"conv1.weight", "layer4.2.conv3.weight", "layer1.0.downsample.0.weight", "stem.fc.weight", "stem.bn.bias",
            "classifier32Smiling.0.fc.weight", "classifier32Smiling.1.weight", "classifier06Bangs.1.bias",
            "classifier40Young.0.bn.running_mean"} <= keys
    assert not any(k.startswith("fc.") for k in keys) and len([k for k in keys if k.startswith("classifier")]) == 5 * 9


def test_a_saved_predictor_loads_strictly_and_scores_in_range(checkpoint):
    net = load_predictor(checkpoint, dev=torch.device("cpu"), temperature=1.7)
    images = torch.rand(5, 3, 64, 64)
    scores = net.score(images)
    assert scores.degree.shape == (5,) and ((scores.degree >= 0) & (scores.degree <= 5)).all()
    logits = net(images)
    expected = F.softmax(logits / 1.7, dim=1) @ torch.arange(6.0)  # the expected level at temperature T
    assert torch.allclose(scores.degree, expected, atol=1e-5)
    assert net.score(images[:2]).degree.sub(scores.degree[:2]).abs().max() < 1e-4  # eval mode: batch-independent
    assert set(net.attributes(images)) == {"Bangs", "Eyeglasses", "No_Beard", "Smiling", "Young"}


def test_images_are_upscaled_bicubically_to_128_and_imagenet_normalised(checkpoint):
    net = load_predictor(checkpoint, dev=torch.device("cpu"), temperature=1.0)
    seen = {}
    net.conv1.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    net(torch.full((1, 3, 64, 64), 0.5))
    x = seen["x"]
    assert x.shape == (1, 3, 128, 128)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(x[0, :, 5, 7], (0.5 - mean) / std, atol=1e-5)


def test_wrong_or_partial_checkpoints_are_clear_errors(checkpoint, tmp_path):
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    partial = {k: v for k, v in state.items() if not k.startswith("classifier40Young")}
    torch.save({"state_dict": partial}, tmp_path / "partial.pth.tar")
    with pytest.raises(ValueError, match="8 weights missing .*classifier40Young"):
        load_predictor(tmp_path / "partial.pth.tar")
    torch.save({"state_dict": {**state, "classifier32Smiling.1.weight": torch.zeros(5, 256)}}, tmp_path / "shape.tar")
    with pytest.raises(ValueError, match="wrong shape"):
        load_predictor(tmp_path / "shape.tar")
    torch.save(state, tmp_path / "bare.tar")
    with pytest.raises(ValueError, match="neither a 'state_dict' entry .* nor 'temperature'"):
        load_predictor(tmp_path / "bare.tar")
    (tmp_path / "junk.tar").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_predictor(tmp_path / "junk.tar")
    with pytest.raises(FileNotFoundError, match="Talk-to-Edit"):
        load_predictor(tmp_path / "absent.pth.tar")


def test_on_celeba_the_oracle_is_the_predictor_and_there_is_no_judge(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HAPPY_CELEBA_DIR", str(tmp_path))
    save_scaled_predictor(load_predictor(checkpoint, temperature=1.0), 2.5, tmp_path / SCALED_FILE)
    oracle = load_scorer("oracle", source="celeba", dev=torch.device("cpu"))
    assert isinstance(oracle, AttributePredictor) and oracle.temperature == 2.5
    with pytest.raises(FileNotFoundError, match="no independent judge"):
        load_scorer("judge", source="celeba")
    assert set(load_scorers("celeba")) == {"oracle"}
    assert set(load_scorers("synthetic")) == {"oracle", "judge"}


def test_the_authors_scaled_state_dict_carries_its_temperature(checkpoint, tmp_path):
    plain = load_predictor(checkpoint, dev=torch.device("cpu"), temperature=1.0)
    save_scaled_predictor(plain, 2.25, tmp_path / SCALED_FILE)
    keys = set(torch.load(tmp_path / SCALED_FILE, weights_only=True))
    assert "temperature" in keys and "model.classifier32Smiling.1.weight" in keys  # ModelWithTemperature's layout
    scaled = load_predictor(tmp_path / SCALED_FILE, dev=torch.device("cpu"))
    assert scaled.temperature == pytest.approx(2.25)
    images = torch.rand(4, 3, 64, 64)
    assert torch.equal(scaled(images), plain(images))  # the same weights
    expected = F.softmax(plain(images) / 2.25, dim=1) @ torch.arange(6.0)
    assert torch.allclose(scaled.score(images).degree, expected, atol=1e-5)


def test_a_broken_scaled_file_is_a_clear_error(checkpoint, tmp_path):
    weights = {f"model.{k}": v for k, v in torch.load(checkpoint, weights_only=True)["state_dict"].items()}
    torch.save({**weights, "temperature": torch.tensor([-1.0])}, tmp_path / "negative.tar")
    with pytest.raises(ValueError, match="one positive number"):
        load_predictor(tmp_path / "negative.tar")
    torch.save({**weights, "temperature": torch.tensor([2.0]), "optimizer": torch.zeros(1)}, tmp_path / "extra.tar")
    with pytest.raises(ValueError, match="keys outside 'model.'.*optimizer"):
        load_predictor(tmp_path / "extra.tar")
    torch.save({k: v for k, v in weights.items() if "Smiling" not in k} | {"temperature": torch.tensor([2.0])},
               tmp_path / "partial.tar")
    with pytest.raises(ValueError, match="weights missing .*classifier32Smiling"):
        load_predictor(tmp_path / "partial.tar")


def test_a_plain_predictor_needs_its_fitted_temperature(checkpoint, tmp_path):
    path = tmp_path / "predictor_128.pth.tar"
    path.write_bytes(checkpoint.read_bytes())
    with pytest.raises(FileNotFoundError, match="calibrate-predictor.*predictor_128_scaled3"):
        load_predictor(path)
    calibration_path(path).write_text(json.dumps({"temperature": 1.9, "predictor_sha256": "not this one"}))
    with pytest.raises(ValueError, match="fitted for another predictor_128.pth.tar"):
        load_predictor(path)


def test_temperature_scaling_recovers_a_known_temperature():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(20_000, 6, generator=gen) * 3
    labels = torch.multinomial(F.softmax(logits / 2.0, dim=1), 1, generator=gen).squeeze(1)  # truly T = 2
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.05)
    overconfident = expected_calibration_error(logits, labels)
    assert expected_calibration_error(logits / 2.0, labels) < 0.02 < overconfident
    perfect = torch.eye(6)[torch.arange(600) % 6] * 100  # always right and sure: no calibration error
    assert expected_calibration_error(perfect, torch.arange(600) % 6) == pytest.approx(0.0, abs=1e-6)


def test_calibrate_predictor_fits_on_the_validation_faces_and_loading_uses_it(checkpoint, tmp_path, monkeypatch,
                                                                               capsys):
    make_celeba(tmp_path, n_faces=20, n_synthetic=0)
    (tmp_path / "predictor_128.pth.tar").write_bytes(checkpoint.read_bytes())
    monkeypatch.setenv("HAPPY_CELEBA_DIR", str(tmp_path))
    main(["calibrate-predictor", "--preset", "smoke", "--json"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    stored = json.loads(calibration_path(tmp_path / "predictor_128.pth.tar").read_text())
    assert result == stored and result["split"] == "valid" and result["images"] == 4  # the fixture's valid faces
    assert result["temperature"] > 0 and result["nll_after"] <= result["nll_before"] + 1e-6
    oracle = load_scorer("oracle", source="celeba", dev=torch.device("cpu"))
    assert oracle.temperature == pytest.approx(result["temperature"])
