import json

import pytest
import torch
from celeba_fixture import make_celeba

from happy_utils.config import get_preset
from happy_utils.data.celeba import find_celeba, read_annotation, read_split
from happy_utils.data.sources import load_faces
from happy_utils.experiments.cli import main
from happy_utils.scorers.predictor import AttributePredictor, save_predictor


@pytest.mark.parametrize("layout", ["torchvision", "kaggle", "plain"])
def test_every_layout_is_found(tmp_path, layout):
    info = make_celeba(tmp_path, layout=layout, n_faces=1, n_synthetic=0)
    files = find_celeba(tmp_path)
    assert files.images == info["images"]
    assert files.annotation == tmp_path / "celeba_dialog" / "combined_annotation.txt"
    assert files.splits["train"].name == "train_attr_list.txt"


def test_what_is_missing_is_named_with_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CelebA images .*torchvision.datasets.CelebA.*Kaggle mirror"):
        find_celeba(tmp_path)
    make_celeba(tmp_path, n_faces=1, n_synthetic=0)
    (tmp_path / "celeba_dialog" / "val_attr_list.txt").unlink()
    with pytest.raises(FileNotFoundError, match="lacks val_attr_list.txt.*CelebA-Dialog"):
        find_celeba(tmp_path)
    (tmp_path / "celeba_dialog" / "combined_annotation.txt").unlink()
    with pytest.raises(FileNotFoundError, match="combined_annotation.txt not found.*ziqihuangg/CelebA-Dialog"):
        find_celeba(tmp_path)


def test_celeba_dialog_labels_are_read_from_the_smiling_column(tmp_path):
    info = make_celeba(tmp_path, n_faces=5, n_synthetic=1)
    levels = read_annotation(tmp_path / "celeba_dialog" / "combined_annotation.txt")
    assert levels == info["smiling"]  # the two unlabeled rows are left out
    assert read_split(tmp_path / "celeba_dialog" / "train_attr_list.txt", levels) == info["train"]
    (tmp_path / "bad.txt").write_text("000001.jpg 1 2 3 4 5\n")
    with pytest.raises(ValueError, match="does not start with CelebA-Dialog's header"):
        read_annotation(tmp_path / "bad.txt")


def test_load_faces_crops_celeba_once_and_labels_it(tmp_path, monkeypatch):
    info = make_celeba(tmp_path / "celeba", n_faces=10, n_synthetic=2)
    monkeypatch.setenv("HAPPY_CELEBA_DIR", str(tmp_path / "celeba"))
    train = load_faces("train", get_preset("smoke"), "celeba")
    report = json.loads((tmp_path / "cache" / "celeba-crops-64" / "report.json").read_text())
    skipped = {f["name"] for f in report["no_face"] + report["unreadable"]}
    cropped = [n for n in info["train"] if n not in skipped]
    assert set(info["faces"]) & skipped == set() and len(train) == len(cropped) >= 8
    assert train.images.dtype == torch.uint8 and train.images.shape[1:] == (3, 64, 64)
    assert train.labels.tolist() == [info["smiling"][n] for n in cropped]
    assert (train.restricted().labels <= 2).all() and (train.target().labels >= 3).all()
    assert all((train.target((level,)).labels == level).all() for level in (3, 4, 5))
    valid = load_faces("valid", get_preset("smoke"), "celeba")
    assert len(valid) == 2 and valid.labels.tolist() == [info["smiling"][n] for n in info["valid"][:2]]
    report = json.loads((tmp_path / "cache" / "celeba-crops-64" / "report.json").read_text())
    assert info["faceless"] in {f["name"] for f in report["no_face"]}
    assert [f["name"] for f in report["unreadable"]] == [info["corrupt"]]


def test_the_main_job_runs_on_celeba_with_the_predictor_as_black_box(tmp_path, monkeypatch):
    """Every stage of `run` on a CelebA-shaped folder, with a random predictor: the code path Colab users take."""
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the CelebA path tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)  # MTCNN and ResNet weights must never be downloaded
    make_celeba(tmp_path / "celeba", n_faces=130, n_synthetic=0)
    torch.manual_seed(0)
    save_predictor(AttributePredictor(), tmp_path / "celeba" / "predictor_128.pth.tar")
    monkeypatch.setenv("HAPPY_CELEBA_DIR", str(tmp_path / "celeba"))
    out = tmp_path / "run"
    main(["calibrate-predictor", "--preset", "smoke"])  # the plain predictor's temperature, fitted offline too
    main(["run", "--preset", "smoke", "--source", "celeba", "--budget", "4", "--out", str(out)])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["source"] == "celeba" and summary["faces"]["train"] == 104
    assert set(summary["scorer_quality_on_valid"]) == {"oracle"}  # CelebA has no judge
    s = summary["per_seed"]["0"]
    assert s["queries"] == 4 and "judge" not in s and 0 <= s["oracle"]["best"] <= 5
    assert (out / "topk_curves.png").exists() and not (out / "restricted_ingredients.png").exists()
    assert get_preset("smoke").budget != 4  # the override, not the preset, set the budget
