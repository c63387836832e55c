"""Figures shared by the notebooks and the command line: image grids, degree histograms, calibration.

Why: a person would rather look at faces than read numbers; the same figure must come out of a notebook and of a
`python -m happy_utils run`, so it is drawn once, here. The style is set once, by `config.seed_and_style()` (which a
notebook's `setup()` and every command call).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.ticker import MaxNLocator

from .data import world
from .data.cropping import CropRecipe, crop_face, square_box
from .data.faces import FaceDataset
from .images import as_float


def _hwc(image: torch.Tensor) -> np.ndarray:
    return as_float(image).clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def show_images(images: torch.Tensor, titles: list[str] | None = None, ncols: int = 8, scale: float = 1.4,
                suptitle: str | None = None) -> plt.Figure:
    """A grid of images (N, 3, H, W), uint8 or float in [0, 1], with optional titles."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + (0.3 if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_hwc(images[i]))
            if titles:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def faces_by_degree(faces: FaceDataset, per_level: int = 8, seed: int = 0) -> plt.Figure:
    """One row of randomly chosen faces per smile level 0-5, labelled with the level's meaning."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(6, per_level, figsize=(1.3 * per_level + 1.6, 6 * 1.35), squeeze=False)
    for level in range(6):
        idx = np.flatnonzero(faces.labels.numpy() == level)
        idx = rng.choice(idx, size=min(per_level, len(idx)), replace=False) if len(idx) else idx
        for j, ax in enumerate(axes[level]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(idx):
                ax.imshow(_hwc(faces.images[idx[j]]))
        axes[level, 0].set_ylabel(f"{level}: {world.DEGREE_NAMES[level]}".replace(", ", ",\n"), rotation=0,
                                  ha="right", va="center", fontsize=8)
    fig.suptitle("Faces per smile level")
    fig.tight_layout()
    return fig


def degree_histogram(faces: FaceDataset, title: str = "Smile levels") -> plt.Figure:
    """Counts per smile level, with the true degree s as a finer histogram where it is known."""
    fig, axes = plt.subplots(1, 2 if faces.degree is not None else 1, figsize=(9, 3), squeeze=False)
    counts = np.bincount(faces.labels.numpy(), minlength=6)
    axes[0, 0].bar(range(6), counts, color="tab:blue")
    axes[0, 0].set(xlabel="smile level", ylabel="faces", title=title, xticks=range(6))
    if faces.degree is not None:
        axes[0, 1].hist(faces.degree.numpy(), bins=50, range=(0, 5), color="tab:orange")
        axes[0, 1].set(xlabel="true degree s", ylabel="faces", title="true degree")
    fig.tight_layout()
    return fig


def ingredient_coverage(faces: FaceDataset, near_max: float = 0.9) -> plt.Figure:
    """Within a set of faces: how high each ingredient goes, and how many ingredients one face has near the top.

    In the restricted set every ingredient reaches its maximum somewhere, but no face has them all at once:
    that gap is what optimisation can close.
    """
    ing = faces.ingredients.numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    names = [n.replace("_", "\n") for n in world.INGREDIENTS]
    axes[0].bar(names, (ing >= near_max).sum(axis=0), color="tab:blue")
    axes[0].set(ylabel="faces", title=f"faces with this ingredient >= {near_max}")
    axes[0].tick_params(axis="x", labelsize=7)
    high = (ing >= near_max).sum(axis=1)
    axes[1].bar(range(ing.shape[1] + 1), np.bincount(high, minlength=ing.shape[1] + 1), color="tab:green")
    axes[1].set(xlabel=f"ingredients >= {near_max} in one face", ylabel="faces (log scale)", yscale="log",
                title="how many at once", xticks=range(ing.shape[1] + 1))
    fig.tight_layout()
    return fig


def calibration(true_degree: np.ndarray, scores: dict[str, np.ndarray]) -> plt.Figure:
    """Expected degree against the true degree s for one or more scorers, with binned means."""
    true_degree = np.asarray(true_degree)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    bins = np.linspace(0, 5, 21)
    centers = (bins[:-1] + bins[1:]) / 2
    which = np.digitize(true_degree, bins[1:-1])
    for name, pred in scores.items():
        pred = np.asarray(pred)
        ax.scatter(true_degree, pred, s=3, alpha=0.25, label=None)
        means = [pred[which == b].mean() if np.any(which == b) else np.nan for b in range(len(centers))]
        mae = np.abs(pred - true_degree).mean()
        ax.plot(centers, means, "-o", ms=3, label=f"{name} (MAE {mae:.3f})")
    ax.plot([0, 5], [0, 5], "k--", lw=1, label="ideal")
    ax.set(xlabel="true degree s", ylabel="expected degree f(x)", xlim=(0, 5), ylim=(0, 5),
           title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(history: list[dict], keys: tuple[str, ...] = ("recon", "vq"), title: str = "Training loss"):
    """Loss per training step on a log scale, from a training history (a list of dicts with 'step')."""
    fig, ax = plt.subplots(figsize=(6, 3))
    steps = [h["step"] for h in history]
    for key in keys:
        ax.plot(steps, [h[key] for h in history], label=key)
    ax.set(xlabel="step", ylabel="loss", yscale="log", title=title)
    ax.legend()
    fig.tight_layout()
    return fig


def image_rows(rows: dict[str, torch.Tensor], n: int = 8, scale: float = 1.3) -> plt.Figure:
    """Rows of images with a label each, e.g. originals above their reconstructions."""
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n + 1.2, scale * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for j, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if j < len(images):
                ax.imshow(_hwc(images[j]))
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def codebook_usage(codes: torch.Tensor, num_codes: int = 256) -> plt.Figure:
    """How often each code is used, sorted: a flat curve means the whole codebook is in use."""
    counts = torch.bincount(codes.flatten(), minlength=num_codes).numpy()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(range(num_codes), np.sort(counts)[::-1], width=1.0, color="tab:purple")
    ax.set(xlabel="code (sorted by use)", ylabel="uses", yscale="log",
           title=f"Codebook usage: {(counts > 0).sum()} of {num_codes} codes in use")
    fig.tight_layout()
    return fig


def code_map(image: torch.Tensor, codes: torch.Tensor | None = None, ax=None, outline=None,
             values: np.ndarray | None = None, title: str | None = None, cells: int = 8):
    """A face with its 8x8 latent grid drawn over it: each cell's code index, or a heat map of `values`.

    `values` may be per cell (8, 8) or per pixel; `outline` (8, 8) bool boxes cells, e.g. those an optimiser changed.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.2))
    size = image.shape[-1]
    px = size / cells
    extent = (0, size, size, 0)
    ax.imshow(_hwc(image), extent=extent)
    if values is not None:
        ax.imshow(np.asarray(values), cmap="magma", alpha=0.55, extent=extent, interpolation="nearest")
    for i in range(cells + 1):
        ax.axhline(i * px, color="white", lw=0.5, alpha=0.6)
        ax.axvline(i * px, color="white", lw=0.5, alpha=0.6)
    if codes is not None and values is None:
        for r in range(cells):
            for c in range(cells):
                ax.text((c + 0.5) * px, (r + 0.5) * px, str(int(codes[r, c])), ha="center", va="center",
                        fontsize=6, color="white", bbox={"fc": "black", "alpha": 0.35, "pad": 0.5, "lw": 0})
    if outline is not None:
        for r, c in np.argwhere(np.asarray(outline)):
            ax.add_patch(plt.Rectangle((c * px, r * px), px, px, fill=False, ec="lime", lw=1.8))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax


def parity(y_true: np.ndarray, y_pred: np.ndarray, r2: float, title: str = "Held-out parity") -> plt.Figure:
    """Predicted against true scores on held-out data, with R^2."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.scatter(y_true, y_pred, s=4, alpha=0.35)
    lo, hi = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set(xlabel="label (the oracle's score)", ylabel="surrogate h(z)", title=f"{title}: R² = {r2:.3f}")
    fig.tight_layout()
    return fig


def before_after(before: torch.Tensor, after: torch.Tensor, changed: np.ndarray, titles: tuple[str, str]
                 ) -> plt.Figure:
    """A decoded face before and after optimisation, the changed latent cells outlined on both."""
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4))
    code_map(before, ax=axes[0], outline=changed, title=titles[0])
    code_map(after, ax=axes[1], outline=changed, title=titles[1])
    fig.tight_layout()
    return fig


def query_trace(records: list[dict], reference: float | None = None) -> plt.Figure:
    """The oracle's score of each query in order, the best so far, and an optional reference line."""
    scores = np.array([r["score"] for r in records])
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    q = np.array([r["index"] for r in records])  # the same numbers as the queried faces' titles
    ax.plot(q, scores, "o", ms=4, label="query")
    ax.plot(q, np.maximum.accumulate(scores), "-", label="best so far")
    retrains = [r["index"] for r in records if r.get("retrain")]  # a fine-tune comes before its query
    for i, x in enumerate(retrains):
        ax.axvline(x - 0.5, color="tab:green", lw=0.8, alpha=0.5, label="fine-tune" if i == 0 else None)
    if reference is not None:
        ax.axhline(reference, color="gray", ls="--", label="training set Top10")
    ax.set(xlabel="query", ylabel="oracle score", title="Scores of the queries")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def weight_curve(weights: np.ndarray, highlight: np.ndarray | None = None) -> plt.Figure:
    """Rank weight against rank (log-log), with highlighted points (e.g. the queries) marked."""
    order = np.argsort(-weights, kind="stable")
    ranks = np.empty(len(weights), dtype=int)
    ranks[order] = np.arange(len(weights))
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.loglog(ranks + 1, weights, ".", ms=2, color="tab:blue", label="data")
    if highlight is not None and len(highlight):
        ax.loglog(ranks[highlight] + 1, weights[highlight], "o", ms=5, mfc="none", color="tab:red", label="queries")
    ax.set(xlabel="rank + 1 (1 = best)", ylabel="sampling weight", title="Rank weights")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


LOOP_STEPS = (  # the paper's Figure 2, as boxes: (label, x, y) in axes coordinates; arrows follow this order
    ("training data X\n(restricted faces\n+ queries so far)", 0.11, 0.75),
    ("VQ-VAE encoder e", 0.37, 0.75),
    ("latent codes z = e(x)\n(8x8 code indices)", 0.63, 0.75),
    ("LightGBM trees h(z)\n(categorical splits)", 0.89, 0.75),
    ("ENTMOOT MIO: max h\nover the t important cells", 0.89, 0.25),
    (r"decoder: $\tilde{x} = d(\tilde{z})$", 0.63, 0.25),
    ("black box $f(\\tilde{x})$\n(the oracle)", 0.37, 0.25),
    ("append $(\\tilde{x}, f(\\tilde{x}))$;\nevery r queries: a rank-\nweighted VQ-VAE fine-tune", 0.11, 0.25),
)


def loop_diagram() -> plt.Figure:
    """The method's loop as boxes and arrows (the paper's Figure 2): a lesson's map of which step each function is."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88)
    ax.set_axis_off()
    for label, x, y in LOOP_STEPS:
        ax.add_patch(FancyBboxPatch((x - 0.1, y - 0.15), 0.2, 0.3, boxstyle="round,pad=0.01", fc="#eef3fb",
                                    ec="tab:blue", transform=ax.transAxes, clip_on=False))
        ax.text(x, y, label, ha="center", va="center", fontsize=8.5, transform=ax.transAxes)
    steps = [(x, y) for _, x, y in LOOP_STEPS] + [(LOOP_STEPS[0][1], LOOP_STEPS[0][2])]
    for (x0, y0), (x1, y1) in zip(steps, steps[1:]):
        dx, dy = np.sign(x1 - x0) * 0.11, np.sign(y1 - y0) * 0.16
        ax.add_patch(FancyArrowPatch((x0 + dx, y0 + dy), (x1 - dx, y1 - dy), arrowstyle="-|>", mutation_scale=12,
                                     color="0.3", transform=ax.transAxes, clip_on=False))
    ax.set_title("The loop (the paper's Figure 2): r queries between fine-tunes, budget queries in all", fontsize=10)
    return fig


def score_histograms(samples: dict[str, np.ndarray], title: str) -> plt.Figure:
    """Overlaid histograms of scores, e.g. of reconstructions before and after fine-tuning."""
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    for name, values in samples.items():
        ax.hist(values, bins=40, range=(0, 5), alpha=0.5, label=f"{name} (mean {np.mean(values):.2f})")
    ax.set(xlabel="oracle score", ylabel="faces", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def crop_boxes(photos: list[np.ndarray], faces: list, recipe=None) -> plt.Figure:
    """Each photo with MTCNN's box (red) and the square that is cropped (green), beside the 64x64 crop."""
    recipe = recipe or CropRecipe()
    fig, axes = plt.subplots(1, 2 * len(photos), figsize=(3.2 * len(photos), 2.4), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1] * len(photos)})
    for i, (photo, face) in enumerate(zip(photos, faces)):
        before, after = axes[0, 2 * i], axes[0, 2 * i + 1]
        before.imshow(photo)
        before.set_title("photo" if face is None else f"MTCNN p = {face[1]:.3f}", fontsize=8)
        if face is None:
            after.set_title("no face: skipped", fontsize=8)
        else:
            x0, y0, x1, y1 = face[0]
            before.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="red", lw=1.5))
            left, top, side = square_box(face[0], recipe)
            before.add_patch(Rectangle((left, top), side, side, fill=False, color="lime", lw=1.5, ls="--"))
            after.imshow(crop_face(photo, face[0], recipe))
            after.set_title(f"{recipe.size}x{recipe.size} crop", fontsize=8)
        for ax in (before, after):
            ax.axis("off")
    fig.tight_layout()
    return fig


def realism_rows(images: torch.Tensor, rerenders: torch.Tensor, errors, passed, titles: list[str],
                 suptitle: str | None = None) -> plt.Figure:
    """Per image, a column: the image, its re-render from the parameters the inverse network read off it, and their
    difference, titled with the realism error and pass (green) or fail (red)."""
    n = len(images)
    fig, axes = plt.subplots(3, n, figsize=(1.5 * n + 1.0, 4.9), squeeze=False)
    diff = (as_float(images) - as_float(rerenders)).abs().mean(1)
    for j in range(n):
        axes[0, j].imshow(_hwc(images[j]))
        axes[1, j].imshow(_hwc(rerenders[j]))
        axes[2, j].imshow(diff[j].numpy(), cmap="magma", vmin=0, vmax=0.5)
        axes[0, j].set_title(titles[j], fontsize=7)
        axes[2, j].set_title(f"error {float(errors[j]):.3f}", fontsize=7, color="tab:green" if passed[j] else "tab:red")
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
    for ax, label in zip(axes[:, 0], ("image", "re-render", "difference")):
        ax.set_ylabel(label)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
