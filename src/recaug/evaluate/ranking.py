"""Full ranking: where does each held-out item land among *all* items?

This is the one place the ranking protocol lives, so the evaluator, early stopping and
benchmarks cannot disagree: scores for every item, the user's history masked with ``-inf``
(never 0, which would still outrank negative scores; what happens to a target the user already
had is the repeat policy below), PAD and MASK never candidates, and ties
broken *pessimistically* (an item that scores the same as the target counts as ranked above
it), so a constant model cannot look good.

Repeated targets (a target the user already had in the history; :mod:`recaug.split.repeats`):
``"unreachable"`` (the default, as in the S3Rec/CoSeRec/ICLRec code that the published P1
tables come from) masks the whole history, so such a target is ranked last;
``"rankable"`` (repeat-aware) masks the history *except* the row's targets, so a repeated
target is ranked by its own score. One policy holds for every model: it lives here, not in
the models.

Several targets per row (``n_test > 1``) are ranked in the same list: the other targets of the
row are candidates too, so ``rank < K`` means "appears in the top-K list".

Edge cases: a target whose code is invalid (PAD, MASK, outside the score matrix) or whose
score is ``-inf``/NaN gets the worst rank (the number of columns); a NaN score of any other
candidate counts as above the target (pessimistic). A target scored ``+inf`` is ranked by the
number of other ``+inf`` candidates.

Sampled ranking (``negatives``) compares each target with the given negative items and with
the other targets of its row only; it exists for comparison with older papers and is always
labelled as such by the evaluator.
"""

from __future__ import annotations

import numpy as np
import torch

from recaug import columns as C
from recaug.data.sequences import Sequences
from recaug.evaluate.segments import targets_in_history
from recaug.split.repeats import DEFAULT_REPEATS, check_repeats

#: Rounds of re-drawing a sampled negative that hit a positive before giving up on it.
MAX_REJECTION_ROUNDS = 64


def _scores(model: object, histories: Sequences) -> torch.Tensor:
    """Model scores as float32; the ranking only reads them (a model may return cached tensors)."""
    out = model.score(histories)  # type: ignore[attr-defined]
    if not isinstance(out, torch.Tensor):
        out = torch.as_tensor(np.asarray(out))
    scores = out.detach().to(dtype=torch.float32)
    if scores.dim() != 2 or scores.shape[0] != len(histories):
        raise ValueError(
            f"model.score returned shape {tuple(scores.shape)} for {len(histories)} history rows; "
            "expected (rows, item_space)"
        )
    return scores


def sample_negatives(
    users: np.ndarray,
    positives: torch.Tensor,
    n: int,
    seed: int,
) -> torch.Tensor:
    """``n`` negative item codes per row, drawn uniformly from non-positive real items.

    ``positives`` is a ``(rows, item_space)`` bool matrix (history and targets). Draws are a
    pure function of ``(seed, user, draw number)`` (counter-based hashing), so they do not
    depend on chunking. Draws are with replacement; a draw that hits a positive is re-drawn,
    and one still hitting a positive after :data:`MAX_REJECTION_ROUNDS` rounds is returned as
    ``-1`` (no candidate).
    """
    from recaug.random import hash_uniform

    n_rows, n_cols = positives.shape
    n_real = n_cols - C.N_RESERVED
    if n_real <= 0 or n_rows == 0:
        return torch.full((n_rows, n), -1, dtype=torch.long)
    keys = np.repeat(np.asarray(users, dtype=np.int64), n)
    slot = np.tile(np.arange(n, dtype=np.int64), n_rows)
    row_of = np.repeat(np.arange(n_rows, dtype=np.int64), n)
    cand = np.full(n_rows * n, -1, dtype=np.int64)
    todo = np.arange(n_rows * n)
    pos_np = positives.cpu().numpy()
    for rnd in range(MAX_REJECTION_ROUNDS):
        u = hash_uniform(seed, keys[todo], slot[todo] + rnd * n)
        draw = C.N_RESERVED + np.minimum((u * n_real).astype(np.int64), n_real - 1)
        ok = ~pos_np[row_of[todo], draw]
        cand[todo[ok]] = draw[ok]
        todo = todo[~ok]
        if not len(todo):
            break
    return torch.as_tensor(cand.reshape(n_rows, n))


def rank_scores(
    scores: torch.Tensor,
    histories: Sequences,
    target_offsets: np.ndarray,
    target_items: np.ndarray,
    *,
    mask_history: bool = True,
    negatives: torch.Tensor | None = None,
    repeats: str = DEFAULT_REPEATS,
) -> np.ndarray:
    """Ranks of CSR targets (row ``r``: ``target_items[target_offsets[r]:target_offsets[r+1]]``).

    ``scores`` (``(rows, item_space)``) is only read, never written, so a model may return cached
    tensors. Targets should be distinct within a row. Returns one 0-based rank per target,
    aligned with ``target_items``. ``negatives`` (``(rows, n)`` item codes, ``-1`` = none)
    switches to sampled ranking.

    Masking with ``-inf`` is computed without writing it: count the columns not strictly below
    the target over the whole row, then subtract the masked columns (PAD, MASK, history) that
    were counted, an O(history) correction.
    """
    dev = scores.device
    n_rows, n_cols = scores.shape
    target_offsets = np.asarray(target_offsets, dtype=np.int64)
    target_items = np.asarray(target_items, dtype=np.int64)
    t_counts = np.diff(target_offsets)
    t_rows_np = np.repeat(np.arange(n_rows, dtype=np.int64), t_counts)
    t_rows = torch.as_tensor(t_rows_np, device=dev)
    t = torch.as_tensor(target_items, device=dev)
    valid = (t >= C.N_RESERVED) & (t < n_cols)
    t_safe = torch.where(valid, t, torch.zeros_like(t))
    raw = scores[t_rows, t_safe].clone()
    ok = valid & ~torch.isnan(raw) & (raw > -torch.inf)
    repeated = np.zeros(len(target_items), dtype=bool)
    if mask_history and check_repeats(repeats) == "unreachable":
        # a repeated target is masked with the history: last itself, and no candidate for the others
        repeated = targets_in_history(histories, target_offsets, target_items)
        ok = ok & ~torch.as_tensor(repeated, device=dev)
    single = bool(len(t_rows_np) == n_rows and np.all(t_counts == 1))

    if negatives is None:
        # count over *all* columns of the unmodified scores (no copy, no writes) ...
        cand = scores if single else scores[t_rows]
        below = (cand < raw.view(-1, 1)).sum(dim=1, dtype=torch.int32).long()
        above = n_cols - below - 1  # minus the target itself
        # ... then take back the masked columns (PAD, MASK, history minus targets) counted above
        above = above - _masked_above(
            scores, histories, target_offsets, target_items, raw, mask_history, unreachable=repeated
        )
        worst = n_cols
    else:
        negatives = negatives.to(dev)
        neg_ok = negatives >= 0
        neg_scores = scores.gather(1, negatives.clamp(min=0))
        neg_scores = torch.where(neg_ok, neg_scores, torch.full_like(neg_scores, -torch.inf))
        # candidates per target: the row's negatives plus the row's targets (padded with -inf)
        width = int(t_counts.max()) if len(t_counts) else 0
        tgt_mat = torch.full((n_rows, width), -torch.inf, device=dev)
        slot = torch.as_tensor(
            np.arange(len(t_rows_np)) - np.repeat(target_offsets[:-1], t_counts), device=dev
        )
        candidate = valid & ~torch.as_tensor(repeated, device=dev)
        tgt_mat[t_rows, slot] = torch.where(candidate, raw, torch.full_like(raw, -torch.inf))
        cand = torch.cat([neg_scores, tgt_mat], dim=1)[t_rows]
        worst = negatives.shape[1] + width
        below = (cand < raw.view(-1, 1)).sum(dim=1, dtype=torch.int32).long()
        above = cand.shape[1] - below - 1  # minus the target itself
    ranks = torch.where(ok, above, torch.full_like(above, worst))
    return ranks.cpu().numpy().astype(np.int64)


def _masked_above(
    scores: torch.Tensor,
    histories: Sequences,
    target_offsets: np.ndarray,
    target_items: np.ndarray,
    raw: torch.Tensor,
    mask_history: bool,
    *,
    unreachable: np.ndarray | None = None,
) -> torch.Tensor:
    """Per target: how many masked columns of its row are *not* strictly below its score.

    Masked columns are PAD and MASK, plus (with ``mask_history``) the row's distinct history
    items that are not among its targets, or that are targets flagged in ``unreachable`` (the
    repeated targets under the ``"unreachable"`` policy). Work is O(history), not O(rows x items).
    """
    dev = scores.device
    n_rows, n_cols = scores.shape
    rows = [np.repeat(np.arange(n_rows, dtype=np.int64), C.N_RESERVED)]
    cols = [np.tile(np.arange(C.N_RESERVED, dtype=np.int64), n_rows)]
    if mask_history and len(histories.items):
        h_items = histories.items.astype(np.int64)
        h_rows = np.repeat(np.arange(n_rows, dtype=np.int64), histories.lengths)
        keep = (h_items >= C.N_RESERVED) & (h_items < n_cols)
        key = np.unique(h_rows[keep] * n_cols + h_items[keep])  # each masked column once per row
        t_counts = np.diff(target_offsets)
        t_key = np.repeat(np.arange(n_rows, dtype=np.int64), t_counts) * n_cols + target_items
        if unreachable is not None:
            t_key = t_key[~unreachable]  # repeated targets stay masked with the rest of the history
        key = key[~np.isin(key, t_key)]  # the other targets are not masked
        rows.append(key // n_cols)
        cols.append(key % n_cols)
    p_rows = np.concatenate(rows)
    p_cols = np.concatenate(cols)
    # pair every masked column with every target of its row
    counts = np.diff(target_offsets)[p_rows]
    pair = np.repeat(np.arange(len(p_rows)), counts)
    first = np.repeat(target_offsets[p_rows], counts)
    within = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
    tgt = torch.as_tensor(first + within, device=dev)
    values = scores[torch.as_tensor(p_rows[pair], device=dev), torch.as_tensor(p_cols[pair], device=dev)]
    not_below = ~(values < raw[tgt])
    out = torch.zeros(len(raw), dtype=torch.long, device=dev)
    return out.index_add_(0, tgt, not_below.long())


def rank_target_sets(
    model: object,
    histories: Sequences,
    target_offsets: np.ndarray,
    target_items: np.ndarray,
    *,
    chunk_size: int = 2048,
    mask_history: bool = True,
    n_negatives: int | None = None,
    seed: int = 0,
    repeats: str = DEFAULT_REPEATS,
) -> np.ndarray:
    """0-based rank of every target of every row (targets in CSR form aligned with ``histories``).

    Scores ``chunk_size`` rows at a time. With ``n_negatives`` the ranking is *sampled*: each
    target is ranked against ``n_negatives`` uniformly drawn non-positive items (seeded per user,
    independent of ``chunk_size``) and the row's other targets.
    """
    target_offsets = np.asarray(target_offsets, dtype=np.int64)
    target_items = np.asarray(target_items, dtype=np.int64)
    if len(target_offsets) != len(histories) + 1:
        raise ValueError(f"{len(target_offsets) - 1} target rows for {len(histories)} history rows")
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    out = np.empty(len(target_items), dtype=np.int64)
    for start in range(0, len(histories), chunk_size):
        stop = min(start + chunk_size, len(histories))
        chunk = histories.take(np.arange(start, stop))
        scores = _scores(model, chunk)
        t_lo, t_hi = target_offsets[start], target_offsets[stop]
        offs = target_offsets[start : stop + 1] - t_lo
        items = target_items[t_lo:t_hi]
        negatives = None
        if n_negatives is not None:
            pos = torch.zeros(scores.shape, dtype=torch.bool)
            n_cols = scores.shape[1]
            h_rows = np.repeat(np.arange(len(chunk)), chunk.lengths)
            h_keep = chunk.items < n_cols
            pos[h_rows[h_keep], chunk.items[h_keep].astype(np.int64)] = True
            t_rows = np.repeat(np.arange(len(chunk)), np.diff(offs))
            t_keep = (items >= 0) & (items < n_cols)
            pos[t_rows[t_keep], items[t_keep]] = True
            negatives = sample_negatives(chunk.users, pos, int(n_negatives), seed)
        out[t_lo:t_hi] = rank_scores(
            scores, chunk, offs, items, mask_history=mask_history, negatives=negatives, repeats=repeats
        )
    return out


def rank_targets(
    model: object,
    histories: Sequences,
    targets: np.ndarray,
    *,
    chunk_size: int = 2048,
    mask_history: bool = True,
    repeats: str = DEFAULT_REPEATS,
) -> np.ndarray:
    """0-based full-ranking rank of ``targets[r]`` for every row of ``histories``.

    ``model`` is any object with ``score(Sequences) -> Tensor``. Works chunk by chunk so memory
    stays bounded by ``chunk_size x item_space`` floats.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) != len(histories):
        raise ValueError(f"{len(targets)} targets for {len(histories)} history rows")
    offsets = np.arange(len(targets) + 1, dtype=np.int64)
    return rank_target_sets(
        model, histories, offsets, targets, chunk_size=chunk_size, mask_history=mask_history, repeats=repeats
    )
