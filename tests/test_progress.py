"""A training's saved progress: restored exactly under its own key, ignored under another's; an interrupted
training (the realism network's here; the generators' and the oracle's in their own tests) resumes to the weights
of one never interrupted."""

import pytest
import torch

from happy_utils.progress import resume_progress, save_progress
from happy_utils.scorers import realism


def _parts(seed: int) -> dict:
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched.step()
    return {"model": net, "optimizer": opt, "scheduler": sched, "generator": torch.Generator().manual_seed(seed)}


def test_progress_is_restored_under_its_key_and_ignored_under_another(tmp_path):
    saved = _parts(0)
    torch.rand(2, generator=saved["generator"])  # a generator part-way through its stream
    save_progress(tmp_path / "p.pt", {"lr": 0.1}, saved, step=7, history=[1.0])
    other = _parts(1)
    assert resume_progress(tmp_path / "p.pt", {"lr": 0.2}, other) is None  # another training's progress
    assert not torch.equal(other["model"].weight, saved["model"].weight)
    state = resume_progress(tmp_path / "p.pt", {"lr": 0.1}, other)
    assert state["step"] == 7 and state["history"] == [1.0]
    assert torch.equal(other["model"].weight, saved["model"].weight)
    assert other["scheduler"].get_last_lr() == saved["scheduler"].get_last_lr()
    assert torch.equal(torch.rand(4, generator=other["generator"]), torch.rand(4, generator=saved["generator"]))
    assert resume_progress(tmp_path / "none.pt", {"lr": 0.1}, other) is None and resume_progress(None, 0, other) is None


def test_the_realism_network_resumes_to_the_weights_of_an_uninterrupted_training(tmp_path, monkeypatch):
    kwargs = {"steps": 6, "seed": 5, "batch_size": 4, "width": 8, "save_every": 2, "progress": False}
    straight = realism.train_inverse(out=tmp_path / "straight.pt", **kwargs)
    real_save, saves = realism.save_progress, {"n": 0}

    def die_after_first_save(*args, **kw):
        real_save(*args, **kw)
        saves["n"] += 1
        if saves["n"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(realism, "save_progress", die_after_first_save)
    with pytest.raises(KeyboardInterrupt):
        realism.train_inverse(out=tmp_path / "resumed.pt", **kwargs)
    assert torch.load(tmp_path / "resumed.pt.partial", weights_only=False)["step"] == 2
    monkeypatch.setattr(realism, "save_progress", real_save)
    resumed = realism.train_inverse(out=tmp_path / "resumed.pt", **kwargs)
    assert not (tmp_path / "resumed.pt.partial").exists()
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
