"""Ranking metrics from 0-based ranks.

One held-out item per row: ``HR@K = [rank < K]``, ``NDCG@K = 1/log2(rank + 2)`` when
``rank < K``, ``MRR@K = 1/(rank + 1)`` when ``rank < K``; with a single target
``Recall@K == HR@K``.

Several held-out items per row (ranks of all targets in the same list, see ``ranking.py``):
``HR@K`` = at least one target in the top K; ``Recall@K = hits / min(K, n_targets)``;
``NDCG@K = DCG / IDCG`` with ``DCG = sum over hits of 1/log2(rank + 2)`` and
``IDCG = sum_{i < min(K, n_targets)} 1/log2(i + 2)``; ``MRR@K = 1/(best rank + 1)`` when the best
rank is below K. With one target per row these reduce exactly to the formulas above.
"""

from __future__ import annotations

import numpy as np

from recaug.errors import ConfigError

METRICS = ("HR", "NDCG", "MRR", "Recall")


def _check(metric: str, k: int) -> None:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {METRICS}")
    if int(k) < 1:
        raise ConfigError(f"cut-off K must be >= 1, got {k}")


def metric_values(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Per-row value of ``metric@k`` for 0-based ``ranks`` (single target per row)."""
    _check(metric, k)
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks < k
    if metric in ("HR", "Recall"):
        return hit.astype(np.float64)
    if metric == "NDCG":
        return np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    return np.where(hit, 1.0 / (ranks + 1.0), 0.0)  # MRR


def metrics_table(
    ranks: np.ndarray, ks: tuple[int, ...] = (5, 10, 20), metrics: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """``{"HR@10": per-row values, ...}`` for every metric and cut-off."""
    return {f"{m}@{k}": metric_values(ranks, m, k) for m in metrics for k in ks}


def ideal_dcg(n_relevant: np.ndarray, k: int) -> np.ndarray:
    """``sum_{i < min(k, n)} 1/log2(i + 2)`` for every ``n`` in ``n_relevant``."""
    table = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0))]
    return table[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]


def multi_target_metrics(
    ranks: np.ndarray,
    offsets: np.ndarray,
    ks: tuple[int, ...] = (5, 10, 20),
    metrics: tuple[str, ...] = METRICS,
) -> dict[str, np.ndarray]:
    """Per-row metrics when row ``r`` has targets ``ranks[offsets[r]:offsets[r+1]]`` (CSR).

    Rows without targets get 0 for every metric.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_rows = len(offsets) - 1
    n_t = np.diff(offsets)
    rows = np.repeat(np.arange(n_rows), n_t)
    best = np.full(n_rows, np.inf)
    np.minimum.at(best, rows, ranks)
    out: dict[str, np.ndarray] = {}
    for m in metrics:
        for k in ks:
            _check(m, k)
            hit = ranks < k
            if m == "HR":
                v = (best < k).astype(np.float64)
            elif m == "MRR":
                v = np.where(best < k, 1.0 / (best + 1.0), 0.0)
            elif m == "Recall":
                hits = np.bincount(rows, weights=hit, minlength=n_rows)
                v = np.divide(hits, np.minimum(k, n_t), out=np.zeros(n_rows), where=n_t > 0)
            else:  # NDCG
                gains = np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
                dcg = np.bincount(rows, weights=gains, minlength=n_rows)
                idcg = ideal_dcg(n_t, k)
                v = np.divide(dcg, idcg, out=np.zeros(n_rows), where=idcg > 0)
            out[f"{m}@{k}"] = v
    return out
