import pytest
import torch
import torch.nn.functional as F

from happy_utils.scorers.loading import load_scorer, load_scorers
from happy_utils.scorers.predictor import AttributePredictor, load_predictor, save_predictor


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
    net = load_predictor(checkpoint, dev=torch.device("cpu"))
    images = torch.rand(5, 3, 64, 64)
    scores = net.score(images)
    assert scores.degree.shape == (5,) and ((scores.degree >= 0) & (scores.degree <= 5)).all()
    logits = net(images)
    expected = F.softmax(logits / 3.0, dim=1) @ torch.arange(6.0)  # the authors' temperature T = 3
    assert torch.allclose(scores.degree, expected, atol=1e-5)
    assert net.score(images[:2]).degree.sub(scores.degree[:2]).abs().max() < 1e-4  # eval mode: batch-independent
    assert set(net.attributes(images)) == {"Bangs", "Eyeglasses", "No_Beard", "Smiling", "Young"}


def test_images_are_upscaled_bicubically_to_128_and_imagenet_normalised(checkpoint):
    net = load_predictor(checkpoint, dev=torch.device("cpu"))
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
    with pytest.raises(ValueError, match="no 'state_dict' entry"):
        load_predictor(tmp_path / "bare.tar")
    (tmp_path / "junk.tar").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_predictor(tmp_path / "junk.tar")
    with pytest.raises(FileNotFoundError, match="Talk-to-Edit"):
        load_predictor(tmp_path / "absent.pth.tar")


def test_on_celeba_the_oracle_is_the_predictor_and_there_is_no_judge(checkpoint, monkeypatch):
    monkeypatch.setenv("HAPPY_CELEBA_DIR", str(checkpoint.parent))
    assert isinstance(load_scorer("oracle", source="celeba", dev=torch.device("cpu")), AttributePredictor)
    with pytest.raises(FileNotFoundError, match="no independent judge"):
        load_scorer("judge", source="celeba")
    assert set(load_scorers("celeba")) == {"oracle"}
    assert set(load_scorers("synthetic")) == {"oracle", "judge"}
