"""Turning ``Sequences`` / ``Interactions`` into model inputs (vectorised, no per-row loops).

Item codes at or beyond the model's ``item_space`` (items the model never heard of) are
replaced by PAD / dropped, so scoring new data never indexes out of range.
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch

from recaug import columns as C
from recaug.data.csr import pair_matrix
from recaug.data.interactions import Interactions
from recaug.data.sequences import ROW_ORDER, Sequences

logger = logging.getLogger("recaug.models")


def row_weights(train: Interactions) -> np.ndarray | None:
    """The ``weight`` column as float32 (missing values count 1.0), or ``None`` without one.

    The fuser writes it to down-weight synthetic rows; models that honour it use it as the
    row's share of the loss.
    """
    if C.WEIGHT not in train.columns:
        return None
    return np.nan_to_num(train.column(C.WEIGHT).astype(np.float32), nan=1.0)


def warn_if_weighted(train: Interactions, model: str) -> None:
    """Log that ``model`` trains on every row alike although ``train`` has a ``weight`` column."""
    weights = row_weights(train)
    if weights is not None and bool((weights != 1.0).any()):
        logger.warning("%s ignores the %r column: every training row counts 1.0", model, C.WEIGHT)


def sequence_weights(train: Interactions) -> np.ndarray | None:
    """The ``weight`` column aligned with ``Sequences.from_interactions(train).items``.

    ``None`` when there is no weight column or every row weighs 1.0 (nothing to weight).
    """
    weights = row_weights(train)
    if weights is None or bool((weights == 1.0).all()):
        return None
    order = train.frame.select(pl.arg_sort_by(list(ROW_ORDER), maintain_order=True)).to_series().to_numpy()
    return weights[order]


def item_counts(train: Interactions, item_space: int, *, weighted: bool = False) -> np.ndarray:
    """Interactions per item code (length ``item_space``, float64; PAD/MASK are 0).

    ``weighted``: sum the ``weight`` column instead of counting rows (when there is one).
    """
    items = train.items.astype(np.int64)
    weights = row_weights(train) if weighted else None
    keep = items < item_space
    w = None if weights is None else weights[keep].astype(np.float64)
    return np.bincount(items[keep], weights=w, minlength=item_space).astype(np.float64)[:item_space]


def history_matrix(histories: Sequences, item_space: int, *, binary: bool = True) -> sp.csr_matrix:
    """Sparse ``(rows, item_space)`` matrix of the items in every history row."""
    rows = np.repeat(np.arange(len(histories)), histories.lengths)
    items = histories.items.astype(np.int64)
    keep = (items >= C.N_RESERVED) & (items < item_space)
    return pair_matrix(rows[keep], items[keep], (len(histories), item_space), binary=binary)


def user_item_matrix(
    train: Interactions, n_users: int, item_space: int, *, weighted: bool = False
) -> sp.csr_matrix:
    """Sparse ``(n_users, item_space)`` matrix of training interactions: 1.0 per (user, item).

    ``weighted``: the entry is the largest ``weight`` of the pair's rows instead (when ``train``
    has a weight column), so a synthetic pair weighted 0.3 counts 0.3 and a repeated real one 1.
    """
    users = train.users.astype(np.int64)
    items = train.items.astype(np.int64)
    keep = (items < item_space) & (users >= 0) & (users < n_users)
    weights = row_weights(train) if weighted else None
    if weights is None:
        return pair_matrix(users[keep], items[keep], (n_users, item_space))
    keys = users[keep] * item_space + items[keep]
    w = weights[keep]
    order = np.lexsort((w, keys))  # by key, then weight: the last row of a key has its maximum
    keys, w = keys[order], w[order]
    last = np.r_[keys[1:] != keys[:-1], True] if len(keys) else np.zeros(0, dtype=bool)
    keys, w = keys[last], w[last]
    mat = sp.csr_matrix((w, (keys // item_space, keys % item_space)), shape=(n_users, item_space))
    mat.eliminate_zeros()
    return mat


def padded_items(histories: Sequences, max_len: int, item_space: int, *, side: str = "left") -> torch.Tensor:
    """``(rows, max_len)`` int64 tensor of the last ``max_len`` items, unknown items -> PAD."""
    mat = histories.to_padded(max_len, side=side)
    mat[mat >= item_space] = C.PAD_ID
    return torch.from_numpy(mat)


def sparse_rows_to_dense(mat: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    """Dense float32 tensor of the selected rows of a CSR matrix."""
    return torch.from_numpy(mat[rows].toarray().astype(np.float32, copy=False))


def sparse_rows_to_torch(mat: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    """The selected rows of a CSR matrix as a coalesced float32 sparse COO tensor."""
    part = mat[rows].tocoo()
    index = torch.from_numpy(np.vstack([part.row, part.col]).astype(np.int64))
    values = torch.from_numpy(part.data.astype(np.float32, copy=False))
    return torch.sparse_coo_tensor(index, values, part.shape, check_invariants=False).coalesce()


def finish_scores(scores: torch.Tensor) -> torch.Tensor:
    """CPU float32 scores with the PAD and MASK columns set to ``-inf``."""
    scores = scores.detach().float().cpu().contiguous()
    scores[:, : C.N_RESERVED] = -torch.inf
    return scores
