"""The comparison's figures (the paper's Figure 3a and 3b, oracle against judge), drawn from many runs' summaries.

Why here: only the command line's runs and comparisons draw them; the notebooks show them as the files those
commands write (notebook 06), so the method's `plotting` keeps the figures a lesson draws.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import metrics
from .summaries import mean_std


def topk_curves(variants: dict[str, dict[int, list[np.ndarray]]], references: dict[str, dict[int, float]],
                ks: tuple[int, ...] = (10, 50)) -> plt.Figure:
    """TopK(q) per variant: mean over seeds with a band of one standard deviation, and horizontal reference lines."""
    fig, axes = plt.subplots(1, len(ks), figsize=(5.2 * len(ks), 3.6), squeeze=False)
    styles = ["--", ":", "-.", (0, (1, 3))]
    for ax, k in zip(axes[0], ks):
        for name, by_k in variants.items():
            mean, std = mean_std(by_k[k])
            q = np.arange(1, len(mean) + 1)
            ax.plot(q, mean, label=f"{name} ({len(by_k[k])} seeds)")
            ax.fill_between(q, mean - std, mean + std, alpha=0.2)
        for (label, ref), style in zip(references.items(), styles):
            ax.axhline(ref[k], color="gray", ls=style, lw=1.2, label=label)
        ax.set(xlabel="query", ylabel=f"Top{k} score", title=f"Top{k}")
    axes[0, -1].legend(fontsize=7, loc="lower right", title=metrics.CURVE_CONVENTION, title_fontsize=7)
    fig.tight_layout()
    return fig


def fid_bars(fids: dict[str, dict[str, float]], extractor: str) -> plt.Figure:
    """The paper's Figure 3b: per generated set, FID against all unseen degrees (bar) and each degree (markers)."""
    names = list(fids)
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 3, 3.6))
    x = np.arange(len(names))
    ax.bar(x, [fids[n]["3-5"] for n in names], color="lightsteelblue", label="against degrees 3-5")
    for target, marker in (("3", "o"), ("4", "s"), ("5", "^")):
        ax.plot(x, [fids[n][target] for n in names], marker, color="black", ms=5, label=f"against degree {target}")
    ax.set_xticks(x, [n.replace(" (", "\n(") for n in names], fontsize=7)
    ax.set(ylabel="FID (lower is better)", title=f"FID to the unseen happy faces: {extractor}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def oracle_vs_judge(scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """Per variant, every query's oracle score against the judge's: below the diagonal the oracle is fooled."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for name, (oracle, judge) in scores.items():
        ax.scatter(oracle, judge, s=6, alpha=0.5, label=name)
    ax.plot([0, 5], [0, 5], "k--", lw=1)
    ax.set(xlabel="oracle score f(x)", ylabel="judge score", xlim=(0, 5), ylim=(0, 5), title="Oracle against judge")
    ax.legend(fontsize=7, loc="upper left", markerscale=2)
    fig.tight_layout()
    return fig
