"""Full ranking: where does each held-out item land among *all* items?

This is the one place the ranking protocol lives, so the evaluator, early stopping and
benchmarks cannot disagree: scores for every item, the user's history masked with ``-inf``
(never 0, which would still outrank negative scores), the target itself never masked, PAD and
MASK never candidates, and ties broken *pessimistically* (an item that scores the same as the
target counts as ranked above it), so a constant model cannot look good.
"""

from __future__ import annotations

import numpy as np
import torch

from recaug.data.sequences import Sequences


def rank_targets(
    model: object,
    histories: Sequences,
    targets: np.ndarray,
    *,
    chunk_size: int = 2048,
    mask_history: bool = True,
) -> np.ndarray:
    """0-based full-ranking rank of ``targets[r]`` for every row of ``histories``.

    ``model`` is any object with ``score(Sequences) -> Tensor``. Works chunk by chunk so memory
    stays bounded by ``chunk_size x item_space`` floats.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) != len(histories):
        raise ValueError(f"{len(targets)} targets for {len(histories)} history rows")
    out = np.empty(len(targets), dtype=np.int64)
    for start in range(0, len(histories), chunk_size):
        rows = np.arange(start, min(start + chunk_size, len(histories)))
        chunk = histories.take(rows)
        scores = model.score(chunk).detach().float().cpu()  # type: ignore[attr-defined]
        t = torch.as_tensor(targets[rows])
        n_cols = scores.shape[1]
        valid = (t >= 2) & (t < n_cols)
        raw = scores.gather(1, torch.where(valid, t, torch.zeros_like(t)).view(-1, 1)).view(-1).clone()
        if mask_history and len(chunk.items):
            h_rows = torch.as_tensor(np.repeat(np.arange(len(chunk)), chunk.lengths))
            h_items = torch.as_tensor(chunk.items.astype(np.int64))
            keep = h_items < n_cols
            scores[h_rows[keep], h_items[keep]] = -torch.inf
        scores[:, :2] = -torch.inf
        raw = torch.where(valid, raw, torch.full_like(raw, -torch.inf))
        # pessimistic ties: every *other* candidate scoring >= the target ranks above it
        above = (scores >= raw.view(-1, 1)).sum(dim=1)
        target_still_candidate = scores.gather(1, torch.where(valid, t, torch.zeros_like(t)).view(-1, 1)).view(-1)
        above = above - ((target_still_candidate >= raw) & valid).long()
        ranks = torch.where(torch.isfinite(raw), above, torch.full_like(above, n_cols))
        out[rows] = ranks.numpy()
    return out
