import json

import numpy as np
import pytest
import torch
from loop_fixture import CFG

from happy_utils import loop
from happy_utils import records as records_module
from happy_utils.data.faces import render_faces
from happy_utils.experiments.baseline.vae import VAE, VAEConfig, train_vae
from happy_utils.generators.vqvae import VQVAE
from happy_utils.images import to_uint8
from happy_utils.latents import LatentSet, label_latents
from happy_utils.loop import LoopConfig, rank_weights, run_loop
from happy_utils.proposers import mio
from happy_utils.records import RunDir, RunDirError


def test_rank_weights():
    w = rank_weights(np.array([0.5, 2.0, 1.0]), k=1e-3)
    raw = 1 / (1e-3 * 3 + np.array([2, 0, 1]))
    np.testing.assert_allclose(w, raw / raw.sum())
    assert w.sum() == pytest.approx(1.0) and w[1] > w[2] > w[0]
    big = rank_weights(np.arange(10_000.0), k=1e-3)
    assert big[-100:].sum() > 0.3  # the best 1% carry a third of the mass with k = 1e-3


def test_loop_records_every_query_and_fine_tunes_before_every_block_of_r(tmp_path, latent, oracle, monkeypatch):
    before = {k: v.clone() for k, v in latent.generator.state_dict().items()}
    relabelled = []
    monkeypatch.setattr(loop, "label_latents", lambda *a: relabelled.append(1))  # the raw target needs none
    run = run_loop(tmp_path / "wr", latent, CFG, oracle, progress=False)
    assert [r["index"] for r in run.records] == list(range(6)) and len(run.images) == 6
    # The authors' schedule: a fine-tune before each block of r = 3 queries, the first block included (1 epoch,
    # then 0.5 here), none after the last query; fine-tunes re-seed no codes.
    assert [r["retrain"] is not None for r in run.records] == [True, False, False, True, False, False]
    assert run.records[0]["retrain"]["epochs"] == 1.0 and run.records[3]["retrain"]["epochs"] == 0.5
    assert all(r["retrain"]["reseeded"] == 0 for r in run.records if r["retrain"]) and not relabelled
    first = latent.generator.decode(torch.tensor(run.records[0]["code"]).view(1, 8, 8))
    assert not torch.equal(to_uint8(first)[0], run.images[0])  # the first query already saw a fine-tuned decoder
    for r in run.records:
        assert len(r["code"]) == 64 and r["status"] == "optimal" and set(r["times"]) >= {"fit_s", "solve_s"}
        changed = np.flatnonzero(np.array(r["code"]) != np.array(r["base_code"]))
        assert set(changed) <= set(r["free"]) and len(r["free"]) == 4
    torch.testing.assert_close(oracle.score(run.images).degree, torch.tensor([r["score"] for r in run.records]))
    assert run.records[3]["data_size"] == len(latent.latents) + 3
    for k, v in latent.generator.state_dict().items():  # the pretrained model is left as it was
        assert torch.equal(v, before[k])


def test_without_weighted_retraining_nothing_is_fine_tuned(tmp_path, latent, oracle, monkeypatch):
    calls = []
    monkeypatch.setattr(VQVAE, "finetune", lambda *a, **k: calls.append(1))
    run = run_loop(tmp_path / "nowr", latent, LoopConfig(**{**vars(CFG), "weighted_retraining": False}), oracle,
                   progress=False)
    assert len(run.records) == 6 and not calls and all(r["retrain"] is None for r in run.records)


@pytest.mark.parametrize("where, call", [("_write_records", 2), ("save_state", 4), ("retrain_generator", 1),
                                         ("retrain_generator", 2), ("fit_trees", 5)])
def test_a_killed_run_resumes_without_losing_or_repeating_a_query(tmp_path, latent, oracle, monkeypatch, where,
                                                                    call):
    straight = run_loop(tmp_path / "straight", latent, CFG, oracle, progress=False).records

    target = {"_write_records": RunDir, "save_state": RunDir, "retrain_generator": loop, "fit_trees": mio}[where]
    real = getattr(target, where)
    count = {"n": 0}

    def dies(*args, **kwargs):
        count["n"] += 1
        if count["n"] == call:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, where, dies)
    with pytest.raises(KeyboardInterrupt):
        run_loop(tmp_path / "killed", latent, CFG, oracle, progress=False)
    monkeypatch.setattr(target, where, real)
    resumed = run_loop(tmp_path / "killed", latent, CFG, oracle, progress=False).records
    assert [r["index"] for r in resumed] == list(range(CFG.budget))
    assert [r["score"] for r in resumed] == [r["score"] for r in straight]
    assert [r["code"] for r in resumed] == [r["code"] for r in straight]
    lines = (tmp_path / "killed" / "queries.jsonl").read_text().splitlines()
    assert len(lines) == CFG.budget


def test_a_finished_run_started_again_does_nothing(tmp_path, latent, oracle, monkeypatch):
    first = run_loop(tmp_path / "done", latent, CFG, oracle, progress=False)
    monkeypatch.setattr(mio, "fit_trees", lambda *a, **k: pytest.fail("a finished run must not query"))
    again = run_loop(tmp_path / "done", latent, CFG, oracle, progress=False)
    assert again.records == first.records and torch.equal(again.images, first.images)


def test_another_config_is_refused_and_nothing_is_overwritten(tmp_path, latent, oracle):
    run_loop(tmp_path / "run", latent, CFG, oracle, progress=False)
    files = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(RunDirError, match="loop.free_cells: 4 in the directory, 8 now"):
        run_loop(tmp_path / "run", latent, LoopConfig(**{**vars(CFG), "free_cells": 8}), oracle, progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == files
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a run directory"):
        run_loop(tmp_path / "other", latent, CFG, oracle, progress=False)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{oops")  # nothing computed depends on it: written anew
    RunDir(tmp_path / "broken", {"a": 1}).close()
    assert json.loads((tmp_path / "broken" / "config.json").read_text()) == {"a": 1}


def test_a_cut_off_last_record_is_rewritten_from_the_state(tmp_path, capsys):
    with RunDir(tmp_path / "r", {"a": 1}) as run:
        run.save_state({"done": 2, "records": [{"index": 0}, {"index": 1}]})
    with open(run.queries_path, "a") as f:
        f.write('{"index": 2, "sco')
    with RunDir(tmp_path / "r", {"a": 1}) as run:
        assert run.resume()["done"] == 2
    assert run.queries_path.read_text() == '{"index": 0}\n{"index": 1}\n'
    assert "queries.jsonl: its last line is cut off: its 2 records written again from the state" in \
        capsys.readouterr().out


def test_bad_loop_settings_are_refused():
    with pytest.raises(ValueError, match="free_cells"):
        LoopConfig(**{**vars(CFG), "free_cells": 0})
    with pytest.raises(ValueError, match="budget.*rank_k"):
        LoopConfig(**{**vars(CFG), "budget": 0, "rank_k": 0})
    with pytest.raises(ValueError, match="target"):
        LoopConfig(**{**vars(CFG), "target": "judge"})


def test_records_are_plain_json(tmp_path, latent, oracle):
    run_loop(tmp_path / "j", latent, CFG, oracle, progress=False)
    first = json.loads((tmp_path / "j" / records_module.QUERIES).read_text().splitlines()[0])
    assert {"index", "seed", "code", "score", "surrogate", "status", "gap", "times", "retrain"} <= set(first)


def test_random_search_changes_at_most_t_cells_and_fits_nothing(tmp_path, latent, oracle, monkeypatch):
    monkeypatch.setattr(mio, "fit_trees", lambda *a, **k: pytest.fail("random search fits no surrogate"))
    cfg = LoopConfig(**{**CFG.__dict__, "proposer": "random", "weighted_retraining": False})
    run = run_loop(tmp_path / "random", latent, cfg, oracle, progress=False)
    for r in run.records:
        changed = np.flatnonzero(np.array(r["code"]) != np.array(r["base_code"]))
        assert set(changed) <= set(r["free"]) and len(r["free"]) == cfg.free_cells
        assert r["solver"] == "random" and r["surrogate"] is None
    assert len({tuple(r["code"]) for r in run.records}) == cfg.budget


@pytest.fixture(scope="module")
def vae_latent(oracle):
    faces = render_faces(300, seed=32, progress=False).restricted()
    torch.manual_seed(0)
    vae = VAE(VAEConfig(width=4))
    train_vae(vae, faces.images, epochs=2, batch_size=16, progress=False)
    z = vae.encode(faces.images)
    return LatentSet(faces=faces, generator=vae, latents=z, labels=label_latents(vae, z, oracle), target="decoded")


def test_the_vae_baseline_runs_in_the_same_loop_and_resumes_mid_cycle(tmp_path, vae_latent, oracle, monkeypatch):
    cfg = LoopConfig(budget=6, retrain_every=3, rank_k=1e-3, free_cells=4, seed=3, proposer="slsqp", batch_size=64,
                     target="decoded", fit_set=(30, 60))
    relabelled = []
    real_label = loop.label_latents
    monkeypatch.setattr(loop, "label_latents", lambda *a: relabelled.append(1) or real_label(*a))
    run = run_loop(tmp_path / "straight", vae_latent, cfg, oracle, progress=False)
    straight = run.records
    assert len(relabelled) == 2  # the decoded target: labels made again after each of the two fine-tunes
    assert [r["solver"] for r in straight] == ["slsqp"] * 6 and len(straight[0]["code"]) == 64
    assert [r["retrain"] is not None for r in straight] == [True, False, False, True, False, False]
    assert straight[0]["times"]["fit_s"] > 0 and straight[1]["times"]["fit_s"] == 0  # one fit per cycle
    assert straight[0]["slsqp_succeeded"] == 10  # SLSQP runs until 10 succeed
    assert all(r["status"] == "optimal" for r in straight)
    latents = np.array([r["code"] for r in straight])  # the authors' many random starts: no point proposed twice
    assert min(np.linalg.norm(a - b) for i, a in enumerate(latents) for b in latents[:i]) >= 0.01

    # killed while saving query 4: the resume starts in the middle of cycle 2
    resumed = _killed_and_resumed(monkeypatch, RunDir, "save_state", 5,
                                  lambda: run_loop(tmp_path / "killed", vae_latent, cfg, oracle, progress=False))
    assert [r["score"] for r in resumed] == [r["score"] for r in straight]
    assert [r["code"] for r in resumed] == [r["code"] for r in straight]


def test_a_guarded_run_stays_on_the_support_and_resumes_to_the_same_queries(tmp_path, latent, oracle, monkeypatch):
    """The compatible-neighbours guard with the trust region: every query's adjacent pairs were seen together in the
    training faces the trees saw (and the base), no more cells change than the radius, and a run killed mid-way
    resumes to the same queries (the radius is replayed from the scores)."""
    from happy_utils.proposers.manifold import ManifoldGuard

    cfg = LoopConfig(**{**vars(CFG), "guard": ManifoldGuard(neighbours=True, trust_region=True)})
    real_optimize, solved = mio.optimize, []

    def optimize(*args, **kwargs):
        result = real_optimize(*args, **kwargs)
        solved.append((kwargs["support"], kwargs["max_changed"], result.code))
        return result

    monkeypatch.setattr(mio, "optimize", optimize)
    straight = run_loop(tmp_path / "straight", latent, cfg, oracle, progress=False).records
    assert len(solved) == cfg.budget
    for (support, radius, code), r in zip(solved, straight):
        assert support.n > 100 and support.unseen_pairs(code) == 0 and r["code"] == code.tolist()
        assert r["max_changed"] == radius and 1 <= radius <= cfg.free_cells
        assert (np.array(r["code"]) != np.array(r["base_code"])).sum() <= radius
        assert r["log_prior"] == pytest.approx(support.log_prior(code))
    resumed = _killed_and_resumed(monkeypatch, mio, "fit_trees", 5,
                                  lambda: run_loop(tmp_path / "killed", latent, cfg, oracle, progress=False))
    assert [r["code"] for r in resumed] == [r["code"] for r in straight]
    assert [r["max_changed"] for r in resumed] == [r["max_changed"] for r in straight]


def _killed_and_resumed(monkeypatch, target, name: str, call: int, run) -> list[dict]:
    """`run()` killed (KeyboardInterrupt) at the call-th call of `target.name`, then run again: the records."""
    real, count = getattr(target, name), {"n": 0}

    def dies(*args, **kwargs):
        count["n"] += 1
        if count["n"] == call:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, dies)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(target, name, real)
    return run().records
