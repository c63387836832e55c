"""How well the encoded training faces support a grid of latent codes: how often each code was seen at its cell, and
whether each pair of adjacent codes was ever seen side by side there.

Why: a LightGBM categorical split sends every category it does not list to the other side, so the trees say nothing
about a code never seen at a cell, and the MIO may choose such codes, and neighbours no face has. Counting that
support in what a CelebA user has (the encoded training faces) separates the queries that stay on the data from
those that leave it; only an evaluator (the realism judge) then says which of them are faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CodeSupport:
    """Counts of the codes of N grids (N, H, W): per cell and code, and per pair of adjacent cells and code pair
    (right neighbours and lower neighbours, each at its position)."""

    cell_counts: np.ndarray  # (H, W, K): how often code k was seen at cell (h, w)
    right_seen: np.ndarray  # (H, W - 1, K, K) bool: codes (a, b) seen at (h, w) and (h, w + 1)
    down_seen: np.ndarray  # (H - 1, W, K, K) bool: codes (a, b) seen at (h, w) and (h + 1, w)

    @classmethod
    def of(cls, codes: np.ndarray, num_codes: int) -> CodeSupport:
        codes = np.asarray(codes)
        if codes.ndim != 3 or codes.size == 0:
            raise ValueError(f"CodeSupport needs code grids (N, H, W), got shape {codes.shape}")
        if codes.min() < 0 or codes.max() >= num_codes:
            raise ValueError(f"codes must lie in [0, {num_codes}), got [{codes.min()}, {codes.max()}]")
        n, h, w = codes.shape
        counts = np.zeros((h, w, num_codes), dtype=np.int64)
        rows, cols = np.indices((h, w))
        np.add.at(counts, (np.broadcast_to(rows, codes.shape), np.broadcast_to(cols, codes.shape), codes), 1)
        right = np.zeros((h, w - 1, num_codes, num_codes), dtype=bool)
        down = np.zeros((h - 1, w, num_codes, num_codes), dtype=bool)
        r, c = np.indices((h, w - 1))
        right[np.broadcast_to(r, (n, h, w - 1)), np.broadcast_to(c, (n, h, w - 1)), codes[:, :, :-1],
              codes[:, :, 1:]] = True
        r, c = np.indices((h - 1, w))
        down[np.broadcast_to(r, (n, h - 1, w)), np.broadcast_to(c, (n, h - 1, w)), codes[:, :-1, :],
             codes[:, 1:, :]] = True
        return cls(counts, right, down)

    def rare_cells(self, grid: np.ndarray, min_count: int = 1) -> int:
        """How many cells of one grid (H, W) hold a code seen fewer than `min_count` times at that cell."""
        grid = np.asarray(grid).reshape(self.cell_counts.shape[:2])
        rows, cols = np.indices(grid.shape)
        return int((self.cell_counts[rows, cols, grid] < min_count).sum())

    def unseen_pairs(self, grid: np.ndarray) -> int:
        """How many adjacent pairs of one grid (right and lower neighbours) were never seen together there."""
        grid = np.asarray(grid).reshape(self.cell_counts.shape[:2])
        r, c = np.indices(self.right_seen.shape[:2])
        right = self.right_seen[r, c, grid[:, :-1], grid[:, 1:]]
        r, c = np.indices(self.down_seen.shape[:2])
        down = self.down_seen[r, c, grid[:-1, :], grid[1:, :]]
        return int((~right).sum() + (~down).sum())
