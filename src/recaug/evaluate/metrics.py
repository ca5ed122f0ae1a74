"""Ranking metrics from 0-based ranks (one held-out item per row).

``HR@K = [rank < K]``, ``NDCG@K = 1/log2(rank + 2)`` when ``rank < K``, ``MRR@K = 1/(rank + 1)``
when ``rank < K``; with a single target ``Recall@K == HR@K``.
"""

from __future__ import annotations

import numpy as np

METRICS = ("HR", "NDCG", "MRR", "Recall")


def metric_values(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Per-row value of ``metric@k`` for 0-based ``ranks`` (single target per row)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks < k
    if metric in ("HR", "Recall"):
        return hit.astype(np.float64)
    if metric == "NDCG":
        return np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    if metric == "MRR":
        return np.where(hit, 1.0 / (ranks + 1.0), 0.0)
    raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")


def metrics_table(ranks: np.ndarray, ks: tuple[int, ...] = (5, 10, 20), metrics: tuple[str, ...] = METRICS) -> dict[str, np.ndarray]:
    """``{"HR@10": per-row values, ...}`` for every metric and cut-off."""
    return {f"{m}@{k}": metric_values(ranks, m, k) for m in metrics for k in ks}
