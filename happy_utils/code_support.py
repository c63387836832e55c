"""How well the encoded training faces support a grid of latent codes: how often each code was seen at its cell, and
how often each pair of adjacent codes was seen side by side there.

Why: a LightGBM categorical split sends every category it does not list to the other side, so the trees say nothing
about a code never seen at a cell, and the MIO may choose such codes, and neighbours no face has. Counting that
support in what a CelebA user has (the encoded training faces) separates the queries that stay on the data from
those that leave it (only an evaluator, the realism judge, then says which of them are faces), and gives the search
its guards (`proposers.manifold`): the codes a cell may take, the neighbours it may have, and a pairwise
log-frequency prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: An adjacent pair never seen counts as half a sighting in the log-frequency prior: below every seen pair, finite.
UNSEEN_PAIR_COUNT = 0.5


@dataclass(frozen=True)
class CodeSupport:
    """Counts of the codes of N grids (N, H, W): per cell and code, and per pair of adjacent cells and code pair
    (right neighbours and lower neighbours, each at its position)."""

    cell_counts: np.ndarray  # (H, W, K): how often code k was seen at cell (h, w)
    right_counts: np.ndarray  # (H, W - 1, K, K): how often codes (a, b) were seen at (h, w) and (h, w + 1)
    down_counts: np.ndarray  # (H - 1, W, K, K): how often codes (a, b) were seen at (h, w) and (h + 1, w)
    n: int  # grids counted

    @classmethod
    def of(cls, codes: np.ndarray, num_codes: int) -> CodeSupport:
        codes = np.asarray(codes)
        if codes.ndim != 3 or codes.size == 0:
            raise ValueError(f"CodeSupport needs code grids (N, H, W), got shape {codes.shape}")
        if codes.min() < 0 or codes.max() >= num_codes:
            raise ValueError(f"codes must lie in [0, {num_codes}), got [{codes.min()}, {codes.max()}]")
        n, h, w = codes.shape
        k = num_codes
        codes = codes.astype(np.int64)
        cells = (np.arange(h * w).reshape(h, w) * k + codes).ravel()
        counts = np.bincount(cells, minlength=h * w * k).reshape(h, w, k)

        def pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
            rows, cols = first.shape[1:]
            position = np.arange(rows * cols).reshape(rows, cols)
            flat = ((position * k + first) * k + second).ravel()
            return np.bincount(flat, minlength=rows * cols * k * k).reshape(rows, cols, k, k).astype(np.int32)

        return cls(counts, pairs(codes[:, :, :-1], codes[:, :, 1:]), pairs(codes[:, :-1, :], codes[:, 1:, :]), n)

    @property
    def shape(self) -> tuple[int, int]:
        """The grid's (H, W)."""
        return self.cell_counts.shape[:2]

    @property
    def num_codes(self) -> int:
        return self.cell_counts.shape[2]

    def _grid(self, grid: np.ndarray) -> np.ndarray:
        return np.asarray(grid).reshape(self.shape)

    def rare_cells(self, grid: np.ndarray, min_count: int = 1) -> int:
        """How many cells of one grid (H, W) hold a code seen fewer than `min_count` times at that cell."""
        grid = self._grid(grid)
        rows, cols = np.indices(grid.shape)
        return int((self.cell_counts[rows, cols, grid] < min_count).sum())

    def pair_counts(self, grid: np.ndarray) -> np.ndarray:
        """How often each adjacent pair of one grid was seen together there: right pairs, then lower pairs, flat."""
        grid = self._grid(grid)
        r, c = np.indices(self.right_counts.shape[:2])
        right = self.right_counts[r, c, grid[:, :-1], grid[:, 1:]]
        r, c = np.indices(self.down_counts.shape[:2])
        down = self.down_counts[r, c, grid[:-1, :], grid[1:, :]]
        return np.concatenate([right.ravel(), down.ravel()])

    def unseen_pairs(self, grid: np.ndarray) -> int:
        """How many adjacent pairs of one grid (right and lower neighbours) were never seen together there."""
        return int((self.pair_counts(grid) == 0).sum())

    def log_frequency(self, counts: np.ndarray) -> np.ndarray:
        """log(count / N) of pair counts, an unseen pair counted as UNSEEN_PAIR_COUNT: the prior's term per pair."""
        counts = np.asarray(counts, dtype=np.float64)
        return np.log(np.where(counts > 0, counts, UNSEEN_PAIR_COUNT) / self.n)

    def log_prior(self, grid: np.ndarray) -> float:
        """The pairwise log-frequency prior of one grid: the sum of `log_frequency` over its adjacent pairs."""
        return float(self.log_frequency(self.pair_counts(grid)).sum())

    def neighbours(self, cell: int) -> list[tuple[int, np.ndarray]]:
        """The cells adjacent to a flat cell index, each with the pair counts (K, K) indexed [code here, code there]."""
        h, w = self.shape
        i, j = divmod(int(cell), w)
        out = []
        if j + 1 < w:
            out.append((cell + 1, self.right_counts[i, j]))
        if j > 0:
            out.append((cell - 1, self.right_counts[i, j - 1].T))
        if i + 1 < h:
            out.append((cell + w, self.down_counts[i, j]))
        if i > 0:
            out.append((cell - w, self.down_counts[i - 1, j].T))
        return out
