"""``ItemKNN``: item-based collaborative filtering with cosine similarity (Sarwar et al. 2001).

``sim(i, j) = |U_i & U_j| / (sqrt(|U_i|) sqrt(|U_j|) + shrink)`` on the binary item-user
matrix (a ``weight`` column makes it the weighted matrix, with
``sqrt(sum of squared weights)`` as the norm), keeping the ``k`` most similar neighbours of
every item. A history's score for item
``j`` is the sum of ``sim(i, j)`` over its items ``i``; a tiny popularity term breaks ties (and
is all that is left for empty histories).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.models.base import Recommender, register
from recaug.models.inputs import finish_scores, history_matrix, item_counts, user_item_matrix

#: weight of the normalised popularity tie-breaker (well below any real similarity)
_POP_EPS = 1e-6


@register
class ItemKNN(Recommender):
    """Cosine item-item neighbourhoods; ``k`` neighbours per item, ``shrink`` damps rare pairs."""

    name = "itemknn"

    def __init__(
        self,
        *,
        k: int = 100,
        shrink: float = 0.0,
        chunk_size: int = 1024,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        super().__init__(seed=seed, device=device)
        if k < 1 or shrink < 0:
            raise ConfigError("ItemKNN needs k >= 1 and shrink >= 0")
        self.k = k
        self.shrink = shrink
        self.chunk_size = chunk_size
        self.similarity_: sp.csr_matrix | None = None
        self.popularity_: np.ndarray | None = None
        self.history_: list[dict[str, Any]] = []

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {**super().config(), "k": self.k, "shrink": self.shrink, "chunk_size": self.chunk_size}

    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, item_space: int | None = None
    ) -> ItemKNN:
        """Build the top-``k`` cosine neighbourhood of every item (chunked sparse products)."""
        n = self._item_space(train, valid, item_space)
        n_users = int(train.users.max()) + 1 if len(train) else 0
        x = user_item_matrix(train, n_users, n, weighted=True).T.tocsr()  # items x users
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        k = min(self.k, max(n - 1, 1))
        rows, cols, vals = [], [], []
        for lo in range(0, n, self.chunk_size):
            hi = min(lo + self.chunk_size, n)
            co = torch.from_numpy((x[lo:hi] @ x.T).toarray())
            denom = torch.from_numpy(np.outer(norms[lo:hi], norms) + self.shrink)
            sim = torch.where(denom > 0, co / denom.clamp_min(1e-12), torch.zeros_like(co))
            sim[torch.arange(hi - lo), torch.arange(lo, hi)] = 0.0
            top = torch.topk(sim, k, dim=1)
            keep = top.values > 0
            rows.append((torch.arange(lo, hi).view(-1, 1).expand(-1, k))[keep].numpy())
            cols.append(top.indices[keep].numpy())
            vals.append(top.values[keep].numpy().astype(np.float32))
        self.similarity_ = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0, np.float32),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n, n),
        )
        counts = item_counts(train, n, weighted=True)
        self.popularity_ = (counts / max(counts.max(), 1.0)).astype(np.float32)
        self.item_space_ = n
        return self

    def _score_all(self, histories: Sequences) -> torch.Tensor:
        """Summed similarities of the history items, plus a tiny popularity tie-breaker."""
        self._check_fitted()
        assert self.similarity_ is not None and self.popularity_ is not None
        h = history_matrix(histories, self.item_space_)
        scores = np.asarray((h @ self.similarity_).toarray(), dtype=np.float32)
        scores += _POP_EPS * self.popularity_
        return finish_scores(torch.from_numpy(scores))

    def state_dict(self) -> dict[str, Any]:
        """The CSR similarity matrix as tensors plus the popularity vector."""
        assert self.similarity_ is not None and self.popularity_ is not None
        s = self.similarity_
        return {
            "indptr": torch.from_numpy(s.indptr.astype(np.int64)),
            "indices": torch.from_numpy(s.indices.astype(np.int64)),
            "data": torch.from_numpy(s.data.astype(np.float32)),
            "popularity": torch.from_numpy(self.popularity_),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        n = int(self.item_space_)  # type: ignore[arg-type]
        self.similarity_ = sp.csr_matrix(
            (state["data"].numpy(), state["indices"].numpy(), state["indptr"].numpy()), shape=(n, n)
        )
        self.popularity_ = state["popularity"].numpy().astype(np.float32)
