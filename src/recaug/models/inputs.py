"""Turning ``Sequences`` / ``Interactions`` into model inputs (vectorised, no per-row loops).

Item codes at or beyond the model's ``item_space`` (items the model never heard of) are
replaced by PAD / dropped, so scoring new data never indexes out of range.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences


def item_counts(train: Interactions, item_space: int) -> np.ndarray:
    """Interactions per item code (length ``item_space``, float64; PAD/MASK are 0)."""
    items = train.items.astype(np.int64)
    items = items[items < item_space]
    return np.bincount(items, minlength=item_space).astype(np.float64)[:item_space]


def history_matrix(histories: Sequences, item_space: int, *, binary: bool = True) -> sp.csr_matrix:
    """Sparse ``(rows, item_space)`` matrix of the items in every history row."""
    rows = np.repeat(np.arange(len(histories)), histories.lengths)
    items = histories.items.astype(np.int64)
    keep = (items >= C.N_RESERVED) & (items < item_space)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    mat = sp.csr_matrix((data, (rows[keep], items[keep])), shape=(len(histories), item_space))
    mat.sum_duplicates()
    if binary:
        mat.data[:] = 1.0
    return mat


def user_item_matrix(train: Interactions, n_users: int, item_space: int) -> sp.csr_matrix:
    """Binary sparse ``(n_users, item_space)`` matrix of training interactions."""
    users = train.users.astype(np.int64)
    items = train.items.astype(np.int64)
    keep = (items < item_space) & (users >= 0) & (users < n_users)
    data = np.ones(int(keep.sum()), dtype=np.float32)
    mat = sp.csr_matrix((data, (users[keep], items[keep])), shape=(n_users, item_space))
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def padded_items(histories: Sequences, max_len: int, item_space: int, *, side: str = "left") -> torch.Tensor:
    """``(rows, max_len)`` int64 tensor of the last ``max_len`` items, unknown items -> PAD."""
    mat = histories.to_padded(max_len, side=side)
    mat[mat >= item_space] = C.PAD_ID
    return torch.from_numpy(mat)


def sparse_rows_to_dense(mat: sp.csr_matrix, rows: np.ndarray) -> torch.Tensor:
    """Dense float32 tensor of the selected rows of a CSR matrix."""
    return torch.from_numpy(mat[rows].toarray().astype(np.float32, copy=False))


def finish_scores(scores: torch.Tensor) -> torch.Tensor:
    """CPU float32 scores with the PAD and MASK columns set to ``-inf``."""
    scores = scores.detach().float().cpu().contiguous()
    scores[:, : C.N_RESERVED] = -torch.inf
    return scores
