"""Item-item similarity learned from training sequences, for correlated Insert / Substitute.

``ItemSimilarity(method, k).fit(train)`` keeps the top-``k`` neighbours of every item code as a
dense ``(item_space, k)`` int32 array ``neighbours_`` (``PAD_ID`` where an item has fewer than
``k`` neighbours) with matching ``scores_``. Methods:

* ``"cooccurrence"``: number of users who interacted with both items;
* ``"cosine"``: item-kNN cosine over the binary user-item matrix;
* ``"iuf"``: ItemCF-IUF (CoSeRec's default), cosine where each user contributes
  ``1 / log(1 + |items of the user|)`` instead of 1.

It only ever sees what ``fit`` is given (``split.train``); ``fingerprint_`` records a digest
of the training (user, item) pairs so a run can prove which data the model came from.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from recaug import atomic
from recaug import columns as C
from recaug.data.csr import pair_matrix
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, NotFittedError

METHODS = ("cooccurrence", "cosine", "iuf")


def _pairs(train: Interactions | Sequences) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(train, Sequences):
        return np.repeat(np.arange(len(train)), train.lengths), train.items
    return train.users, train.items


def training_fingerprint(train: Interactions | Sequences) -> str:
    """SHA-256 of the distinct (user, item) pairs (row order and duplicates do not matter).

    For ``Sequences`` the users are the row's ``users`` code.
    """
    if isinstance(train, Sequences):
        users = np.repeat(train.users, train.lengths)
        items = train.items
    else:
        users, items = train.users, train.items
    pairs = np.unique((users.astype(np.int64) << 32) | items.astype(np.int64))
    return hashlib.sha256(pairs.tobytes()).hexdigest()


class ItemSimilarity:
    """Top-``k`` item neighbours from co-occurrence in training histories."""

    def __init__(self, method: str = "iuf", k: int = 20, item_space: int | None = None) -> None:
        if method not in METHODS:
            raise ConfigError(f"unknown similarity method {method!r}; known: {', '.join(METHODS)}")
        if int(k) < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        self.method = method
        self.k = int(k)
        self.item_space = item_space
        self.neighbours_: np.ndarray | None = None
        self.scores_: np.ndarray | None = None
        self.item_space_: int | None = None
        self.fingerprint_: str | None = None
        self.fit_seconds_: float | None = None
        self._counts_cache: np.ndarray | None = None

    # -- config ---------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Settings as a JSON-ready dict."""
        return {"method": self.method, "k": self.k, "item_space": self.item_space}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ItemSimilarity:
        """Build from :meth:`config` output; unknown keys raise ``ConfigError``."""
        unknown = sorted(set(config) - {"method", "k", "item_space"})
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} for similarity; accepted: item_space, k, method")
        return cls(**config)

    def __repr__(self) -> str:
        return f"ItemSimilarity(method={self.method!r}, k={self.k}, fitted={self.is_fitted})"

    # -- fitting --------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return self.neighbours_ is not None

    def fit(self, train: Interactions | Sequences) -> ItemSimilarity:
        """Learn neighbours from ``train`` (and nothing else); returns ``self``.

        Re-fitting on data with the same fingerprint and settings is a no-op, so several
        operations can share one model.
        """
        fingerprint = training_fingerprint(train)
        if self.is_fitted and fingerprint == self.fingerprint_:
            return self
        t0 = time.perf_counter()
        users, items = _pairs(train)
        users = np.unique(users, return_inverse=True)[1]
        space = (
            int(self.item_space)
            if self.item_space is not None
            else (int(items.max()) + 1 if len(items) else 2)
        )
        space = max(space, C.N_RESERVED)
        if len(items) and int(items.max()) >= space:
            raise ConfigError(f"item code {int(items.max())} outside item_space={space}")
        n_users = int(users.max()) + 1 if len(users) else 0
        x = pair_matrix(users, items.astype(np.int64), (n_users, space), dtype=np.float64)
        degree = np.asarray(x.sum(axis=0)).ravel()
        if self.method == "iuf":
            per_user = np.asarray(x.sum(axis=1)).ravel()
            weight = 1.0 / np.log1p(np.maximum(per_user, 1.0))
            co = (x.T @ sp.diags(weight) @ x).tocsr()
        else:
            co = (x.T @ x).tocsr()
        co.setdiag(0.0)
        co.eliminate_zeros()
        if self.method in ("cosine", "iuf"):
            co = co.tocoo()
            data = co.data / np.sqrt(degree[co.row] * degree[co.col])
            rows, cols = co.row.astype(np.int64), co.col.astype(np.int64)
        else:
            co = co.tocoo()
            data, rows, cols = co.data, co.row.astype(np.int64), co.col.astype(np.int64)
        self.neighbours_, self.scores_ = _top_k(rows, cols, data, space, self.k)
        self.item_space_ = space
        self.fingerprint_ = fingerprint
        self._counts_cache = None
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    # -- use ------------------------------------------------------------------------------
    def _check(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("ItemSimilarity must be fitted on training data first")

    def neighbours(self, items: np.ndarray) -> np.ndarray:
        """``(len(items), k)`` neighbour codes (PAD_ID where missing)."""
        self._check()
        assert self.neighbours_ is not None
        items = np.asarray(items, dtype=np.int64)
        ok = (items >= 0) & (items < self.neighbours_.shape[0])
        out = np.zeros((len(items), self.k), dtype=np.int32)
        out[ok] = self.neighbours_[items[ok]]
        return out

    def n_neighbours(self) -> np.ndarray:
        """How many neighbours every item code has (``item_space_`` entries)."""
        self._check()
        assert self.neighbours_ is not None
        return (self.neighbours_ != C.PAD_ID).sum(axis=1)

    def sample(self, items: np.ndarray, u: np.ndarray, top_k: int) -> np.ndarray:
        """For each item, a neighbour drawn uniformly from its first ``top_k`` (``u`` in [0, 1)).

        Items without neighbours (or outside the fitted item space) give ``PAD_ID``.
        """
        self._check()
        assert self.neighbours_ is not None
        table = self.neighbours_
        items = np.asarray(items, dtype=np.int64)
        inside = (items >= 0) & (items < table.shape[0])
        safe = np.where(inside, items, 0)
        avail = np.minimum(self._counts()[safe], int(top_k)) * inside
        pick = np.minimum((u * avail).astype(np.int64), np.maximum(avail - 1, 0))
        out = table[safe, pick]
        return np.where(avail > 0, out, np.int32(C.PAD_ID)).astype(np.int32)

    def _counts(self) -> np.ndarray:
        counts = self._counts_cache
        if counts is None:
            counts = self.n_neighbours()
            self._counts_cache = counts
        return counts

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """``config.json`` plus ``neighbours.npy`` / ``scores.npy``, each written atomically."""
        self._check()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {**self.config(), "item_space_": self.item_space_, "fingerprint_": self.fingerprint_}
        atomic.write_text(d / "config.json", json.dumps(meta, indent=2))
        for name, array in (("neighbours.npy", self.neighbours_), ("scores.npy", self.scores_)):
            with atomic.atomic_file(d / name) as tmp, tmp.open("wb") as fh:
                np.save(fh, array)

    @classmethod
    def load(cls, directory: str | Path) -> ItemSimilarity:
        """Read what :meth:`save` wrote."""
        d = Path(directory)
        meta = json.loads((d / "config.json").read_text())
        sim = cls(meta["method"], meta["k"], meta["item_space"])
        sim.neighbours_ = np.load(d / "neighbours.npy", allow_pickle=False)
        sim.scores_ = np.load(d / "scores.npy", allow_pickle=False)
        sim.item_space_ = meta["item_space_"]
        sim.fingerprint_ = meta["fingerprint_"]
        return sim


def _top_k(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, space: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dense top-k per row of a sparse matrix given as (row, col, value); ties by lower column."""
    neighbours = np.zeros((space, k), dtype=np.int32)
    scores = np.zeros((space, k), dtype=np.float32)
    if len(rows) == 0:
        return neighbours, scores
    order = np.lexsort((cols, -data, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    starts = np.searchsorted(rows, np.arange(space))
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    neighbours[rows[keep], rank[keep]] = cols[keep]
    scores[rows[keep], rank[keep]] = data[keep]
    return neighbours, scores
