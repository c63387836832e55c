import re

import pytest
import torch

from happy_utils.config import get_preset
from happy_utils.experiments.costs import UnitCosts, runtime_report, seed_cost


def test_a_seed_costs_one_full_epoch_then_a_tenth_per_cycle_and_a_fit_and_solve_per_query():
    cfg = get_preset("laptop")  # 100 queries, r = 5, batches of 16, fit set 2,000 + 8,000
    units = UnitCosts(device="cpu", threads=1, encode_s=0.001, step_s=0.1, fit_s=1.5, solve_s=0.1, fit_rows=10_000)
    rows = {r["stage"].split(" (")[0]: r["seconds"] for r in seed_cost(cfg, 12_000, units)}
    assert rows["first fine-tune, 1 epoch"] == pytest.approx(750 * 0.1)
    assert rows["later fine-tunes, 0.1 epoch"] == pytest.approx(19 * 75 * 0.1)
    assert rows["re-encode, rows read"] == pytest.approx(20 * 10_005 * 0.001)
    assert rows["surrogate fit"] == pytest.approx(150) and rows["MIO"] == pytest.approx(10)
    assert rows["total"] == pytest.approx(sum(v for k, v in rows.items() if k != "total"))
    shorter = seed_cost(cfg, 12_000, units, budget=20)[-1]["seconds"]
    assert shorter < rows["total"]


def test_the_runtime_report_names_the_device_and_costs_the_preset():
    text = runtime_report(get_preset("smoke"))
    gpu = torch.cuda.is_available()
    assert text.startswith("runtime: GPU: ") is gpu
    assert ("CPU only" in text) is not gpu
    assert "preset 'smoke'" in text
    for what in ("VQ-VAE training (notebook 02", "notebook 05's run of 6 queries", "one seed of the main job (6"):
        assert re.search(re.escape(what) + r".*about \d+ (s|min|h)", text), what
