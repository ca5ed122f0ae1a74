"""``OrderModel``: turn a synthesized *set* of items into a *sequence* with a first-order chain.

Learned from training transitions only: ``P(b | a) = (n(a -> b) + alpha * pop(b)) / (n(a) + alpha)``
(``pop`` = item share, so unseen transitions fall back to popularity). Ordering a set:

1. the first item is the one with the least incoming mass from the rest of the set,
   ``in(b) = sum_{a in set} P(b | a)``, weighted by how often ``b`` starts a training sequence:
   ``score(b) = log P_start(b) - log(in(b) + eps)``;
2. each next item is chosen among the remaining ones by ``P(next | current)``: the most
   likely one (``method="greedy"``) or drawn in proportion to ``P^(1/temperature)``
   (``method="sample"``, per-row streams keyed by the row's user).

Work is vectorised over rows (a loop over positions, never over users). Timestamps are
``start_time + step * position``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.generate._sampling import SALT_ORDER, categorical, row_chunks

METHODS = ("greedy", "sample")
_EPS = 1e-6


@dataclass
class OrderModel:
    """First-order transition model that orders item sets (see the module docstring)."""

    method: str = "greedy"
    smoothing: float = 1.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"order method must be one of {METHODS}, got {self.method!r}")
        if self.smoothing <= 0 or self.temperature < 0:
            raise ConfigError("order smoothing must be > 0 and temperature >= 0")
        self.item_space_: int | None = None

    # -- learning ---------------------------------------------------------------------------
    def fit(self, train: Interactions, *, item_space: int | None = None) -> OrderModel:
        """Count consecutive (a, b) pairs, sequence starts and item popularity in ``train``."""
        if len(train) == 0:
            raise DataError("cannot fit the order model on empty interactions", expected="at least one row")
        seqs = Sequences.from_interactions(train)
        n = int(item_space) if item_space is not None else int(seqs.items.max()) + 1
        items = seqs.items.astype(np.int64)
        same_row = np.ones(max(len(items) - 1, 0), dtype=bool)
        starts = seqs.offsets[1:-1]
        same_row[starts[(starts > 0) & (starts < len(items))] - 1] = False
        a, b = items[:-1][same_row], items[1:][same_row]
        keep = (a < n) & (b < n)
        keys, counts = np.unique(a[keep] * n + b[keep], return_counts=True)
        self.item_space_ = n
        self.trans_keys_ = keys.astype(np.int64)
        self.trans_counts_ = counts.astype(np.float64)
        self.out_counts_ = np.bincount(a[keep], minlength=n).astype(np.float64)[:n]
        firsts = seqs.items[seqs.offsets[:-1][seqs.lengths > 0]].astype(np.int64)
        self.start_counts_ = np.bincount(firsts[firsts < n], minlength=n).astype(np.float64)[:n]
        pop = np.bincount(items[items < n], minlength=n).astype(np.float64)[:n]
        self.pop_ = (pop + 1e-3) / (pop + 1e-3).sum()
        return self

    def _check(self) -> None:
        if self.item_space_ is None:
            raise NotFittedError("OrderModel must be fitted before it can order sets")

    def transition_prob(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Smoothed ``P(b | a)`` for aligned arrays of item codes (any shape)."""
        self._check()
        n = self.item_space_
        a = np.clip(np.asarray(a, dtype=np.int64), 0, n - 1)
        b = np.clip(np.asarray(b, dtype=np.int64), 0, n - 1)
        keys = a * n + b
        if len(self.trans_keys_):
            pos = np.minimum(np.searchsorted(self.trans_keys_, keys), len(self.trans_keys_) - 1)
            count = np.where(self.trans_keys_[pos] == keys, self.trans_counts_[pos], 0.0)
        else:
            count = np.zeros(keys.shape)
        return (count + self.smoothing * self.pop_[b]) / (self.out_counts_[a] + self.smoothing)

    def start_prob(self, b: np.ndarray) -> np.ndarray:
        """Smoothed probability that ``b`` starts a sequence."""
        self._check()
        b = np.clip(np.asarray(b, dtype=np.int64), 0, self.item_space_ - 1)
        total = self.start_counts_.sum()
        return (self.start_counts_[b] + self.smoothing * self.pop_[b]) / (total + self.smoothing)

    # -- the verb ---------------------------------------------------------------------------
    def order(
        self,
        sets: Sequences,
        seed: int = 0,
        *,
        start_times: np.ndarray | int = 0,
        step: int = 1,
    ) -> Sequences:
        """Reorder every row of ``sets`` into a chain; timestamps ``start_times[r] + step * position``."""
        self._check()
        n_rows = len(sets)
        lengths = sets.lengths
        width = int(lengths.max()) if n_rows else 0
        perm = np.zeros((n_rows, width), dtype=np.int64)
        padded = sets.to_padded(max(width, 1), pad=C.PAD_ID, side="right")[:, :width]
        for rows in row_chunks(n_rows, width * width, budget=1 << 22):
            perm[rows] = self._order_chunk(padded[rows], sets.users[rows], seed)
        # gather: row r takes padded[r, perm[r, :len]]
        valid = np.arange(width)[None, :] < lengths[:, None]
        items = np.take_along_axis(padded, perm, axis=1)[valid]
        start = np.broadcast_to(np.asarray(start_times, dtype=np.int64), (n_rows,))
        position = np.arange(len(items), dtype=np.int64) - np.repeat(sets.offsets[:-1], lengths)
        ts = np.repeat(start, lengths) + step * position
        return Sequences(sets.offsets.copy(), items, sets.users.copy(), ts, sets.source.copy())

    def _order_chunk(self, padded: np.ndarray, users: np.ndarray, seed: int) -> np.ndarray:
        b_rows, width = padded.shape
        out = np.zeros((b_rows, width), dtype=np.int64)
        if b_rows == 0 or width == 0:
            return out
        valid = padded >= C.N_RESERVED
        w = self.transition_prob(padded[:, :, None], padded[:, None, :])
        pair_ok = valid[:, :, None] & valid[:, None, :] & ~np.eye(width, dtype=bool)[None]
        w = np.where(pair_ok, w, 0.0)
        in_mass = w.sum(axis=1)
        score = np.log(self.start_prob(padded)) - np.log(in_mass + _EPS)
        score = np.where(valid, score, -np.inf)
        remaining = valid.copy()
        rows = np.arange(b_rows)
        cur = self._choose(score, users, seed, 0)
        for t in range(width):
            has = cur >= 0
            out[rows[has], t] = cur[has]
            remaining[rows[has], cur[has]] = False
            if t == width - 1:
                break
            nxt = w[rows, np.maximum(cur, 0), :]
            with np.errstate(divide="ignore"):
                score = np.where(remaining & has[:, None], np.log(nxt), -np.inf)
            cur = self._choose(score, users, seed, t + 1)
        return out

    def _choose(self, score: np.ndarray, users: np.ndarray, seed: int, t: int) -> np.ndarray:
        if self.method == "greedy" or self.temperature == 0:
            best = np.argmax(score, axis=1)
            return np.where(np.isfinite(score).any(axis=1), best, -1)
        return categorical(torch.from_numpy(score), users, seed, SALT_ORDER, t, self.temperature)

    # -- persistence ------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {"method": self.method, "smoothing": self.smoothing, "temperature": self.temperature}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Learned counts as tensors."""
        self._check()
        return {
            "trans_keys": torch.from_numpy(self.trans_keys_),
            "trans_counts": torch.from_numpy(self.trans_counts_),
            "out_counts": torch.from_numpy(self.out_counts_),
            "start_counts": torch.from_numpy(self.start_counts_),
            "pop": torch.from_numpy(self.pop_),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> OrderModel:
        """Inverse of :meth:`state_dict`."""
        self.trans_keys_ = state["trans_keys"].numpy().astype(np.int64)
        self.trans_counts_ = state["trans_counts"].numpy().astype(np.float64)
        self.out_counts_ = state["out_counts"].numpy().astype(np.float64)
        self.start_counts_ = state["start_counts"].numpy().astype(np.float64)
        self.pop_ = state["pop"].numpy().astype(np.float64)
        self.item_space_ = len(self.pop_)
        return self
