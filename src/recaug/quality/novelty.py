"""Novelty vs copying: how close is each synthetic user's item set to its nearest real user?

Nearest-neighbour Jaccard similarity is computed with sparse matrix products
(``S @ R.T`` gives every intersection size at once), in row chunks of synthetic users so
memory stays bounded; both sides are subsampled (seeded) when large. Exact copies are found
over *all* users by joining on the sorted item set, so they are never missed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import sparse

from recaug import columns as C
from recaug.data.csr import pair_matrix
from recaug.data.interactions import Interactions
from recaug.random import as_generator


def user_item_matrix(interactions: Interactions, n_cols: int) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Binary users x items CSR matrix of distinct (user, item) pairs, and the user code of every row."""
    pairs = interactions.frame.select(C.USER, C.ITEM).unique().sort(C.USER, C.ITEM)
    users = pairs.get_column(C.USER).to_numpy()
    items = pairs.get_column(C.ITEM).to_numpy().astype(np.int64)
    codes, rows = np.unique(users, return_inverse=True)
    return codes, pair_matrix(rows, items, (len(codes), n_cols), dtype=np.int32)


def exact_copies(real: Interactions, synthetic: Interactions) -> pl.DataFrame:
    """Per synthetic user: ``exact_copy``, whether its item set equals some real user's (all users, hashed join)."""

    def sets(inter: Interactions) -> pl.DataFrame:
        return inter.frame.group_by(C.USER).agg(pl.col(C.ITEM).unique().sort().alias("_set"))

    real_sets = sets(real).select("_set").unique()
    syn = sets(synthetic)
    hits = syn.join(real_sets, on="_set", how="semi").select(C.USER)
    return syn.select(C.USER).with_columns(
        pl.col(C.USER).is_in(hits.get_column(C.USER).implode()).alias("exact_copy")
    )


def nearest_real_jaccard(
    real: Interactions,
    synthetic: Interactions,
    *,
    max_users: int = 1000,
    max_real_users: int = 20000,
    chunk: int = 256,
    seed: int = 0,
) -> pl.DataFrame:
    """Per synthetic user: Jaccard similarity to the nearest real user and whether that is an exact copy.

    Returns columns ``user_id``, ``nn_jaccard`` (0 when no item is shared) and ``exact_copy``
    (the item set equals some real user's item set). Above ``max_users`` synthetic users /
    ``max_real_users`` real users, seeded subsamples are compared, so ``nn_jaccard`` is then
    a lower bound; ``exact_copy`` always checks every real user (and lifts ``nn_jaccard`` to 1).
    """
    rng = as_generator(seed)
    n_cols = (
        int(max(real.frame.get_column(C.ITEM).max() or 0, synthetic.frame.get_column(C.ITEM).max() or 0)) + 1
    )
    _, r = user_item_matrix(real, n_cols)
    s_codes, s = user_item_matrix(synthetic, n_cols)
    if len(s_codes) > max_users:
        keep = np.sort(rng.choice(len(s_codes), size=max_users, replace=False))
        s_codes, s = s_codes[keep], s[keep]
    if r.shape[0] > max_real_users:
        r = r[np.sort(rng.choice(r.shape[0], size=max_real_users, replace=False))]
    r_size = np.diff(r.indptr).astype(np.float64)
    s_size = np.diff(s.indptr).astype(np.float64)
    rt = r.T.tocsr()
    best = np.zeros(len(s_codes))
    for start in range(0, len(s_codes), chunk):
        stop = min(start + chunk, len(s_codes))
        inter = s[start:stop] @ rt  # CSR: intersection sizes with every real user sharing an item
        counts = np.diff(inter.indptr)
        if inter.nnz == 0:
            continue
        row = np.repeat(np.arange(stop - start), counts)
        n = inter.data.astype(np.float64)
        jac = n / (s_size[start + row] + r_size[inter.indices] - n)
        nonempty = counts > 0
        best[start:stop][nonempty] = np.maximum.reduceat(jac, inter.indptr[:-1][nonempty])
    out = pl.DataFrame({C.USER: s_codes.astype(np.int32), "nn_jaccard": best})
    out = out.join(exact_copies(real, synthetic), on=C.USER, how="left", maintain_order="left")
    return out.with_columns(
        pl.when(pl.col("exact_copy")).then(1.0).otherwise(pl.col("nn_jaccard")).alias("nn_jaccard")
    )


def novelty(
    real: Interactions,
    synthetic: Interactions,
    *,
    near_threshold: float = 0.8,
    max_users: int = 1000,
    max_real_users: int = 20000,
    seed: int = 0,
) -> tuple[float, dict[str, Any]]:
    """Copy detection: score = 1 - share of synthetic users with Jaccard >= ``near_threshold`` to a real user.

    This is a *privacy* score (1 = no synthetic user is a (near) copy of a real one), not a
    fidelity score: synthetic data identical to the real data scores 0 here.
    """
    nn = nearest_real_jaccard(real, synthetic, max_users=max_users, max_real_users=max_real_users, seed=seed)
    n = max(nn.height, 1)
    jac = nn.get_column("nn_jaccard").to_numpy()
    exact = nn.get_column("exact_copy").to_numpy()
    near = jac >= near_threshold
    stats = {
        "users_checked": int(nn.height),
        "real_users_compared": int(min(real.n_users, max_real_users)),
        "exact_copy_share": float(exact.sum() / n),
        "near_copy_share": float(near.sum() / n),
        "near_threshold": near_threshold,
        "mean_nn_jaccard": float(jac.mean()) if nn.height else 0.0,
        "median_nn_jaccard": float(np.median(jac)) if nn.height else 0.0,
    }
    return 1.0 - stats["near_copy_share"], stats
