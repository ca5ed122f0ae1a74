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

Scores may be any array-like: a NumPy array, or a torch tensor (anything with ``detach``, read
as ``.detach().cpu().numpy()``); this module never imports torch, so ``recaug.evaluate`` stays
light enough for a Spark executor. Models' scores are read as float32 (as they always were).

Speed: a target's rank is the number of columns of its row *not strictly below* it (one
comparison pass, no sort), counted over row blocks of about :data:`BLOCK_BYTES` so the
comparison's temporary stays in cache; the masked columns are then taken back with an
O(history) correction computed from the CSR offsets, so the score matrix is never written (nor
copied, with one target per row).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recaug import columns as C
from recaug.data.sequences import Sequences
from recaug.evaluate.segments import targets_in_history
from recaug.split.repeats import DEFAULT_REPEATS, check_repeats

#: Rounds of re-drawing a sampled negative that hit a positive before giving up on it.
MAX_REJECTION_ROUNDS = 64

#: Size of the boolean block one comparison pass writes (rows x columns bytes): small enough to
#: stay in cache, large enough that the per-block Python overhead is negligible.
BLOCK_BYTES = 1 << 20


def _as_array(values: Any) -> np.ndarray:
    """``values`` as a NumPy array, without importing torch.

    A torch tensor (recognised by its ``detach`` method) is detached and moved to the CPU; its
    memory is shared, not copied, when it already lives there. Types NumPy has no dtype for
    (bfloat16) are read as float32. Anything else goes through :func:`numpy.asarray`.
    """
    if hasattr(values, "detach") and hasattr(values, "numpy"):
        t = values.detach()
        if hasattr(t, "cpu"):
            t = t.cpu()
        if hasattr(t, "resolve_conj"):
            t = t.resolve_conj().resolve_neg()
        try:
            return t.numpy()
        except TypeError:  # e.g. bfloat16
            return t.float().numpy()
    return np.asarray(values)


def _scores(model: object, histories: Sequences) -> np.ndarray:
    """Model scores as float32; the ranking only reads them (a model may return cached tensors)."""
    scores = _as_array(model.score(histories))  # type: ignore[attr-defined]
    if scores.ndim != 2 or scores.shape[0] != len(histories):
        raise ValueError(
            f"model.score returned shape {tuple(scores.shape)} for {len(histories)} history rows; "
            "expected (rows, item_space)"
        )
    return scores.astype(np.float32, copy=False)


def sample_negatives(users: np.ndarray, positives: Any, n: int, seed: int) -> Any:
    """``n`` negative item codes per row, drawn uniformly from non-positive real items.

    ``positives`` is a ``(rows, item_space)`` bool matrix (history and targets), a NumPy array
    or a torch tensor. Draws are a pure function of ``(seed, user, draw number)``
    (counter-based hashing), so they do not depend on chunking. Draws are with replacement; a
    draw that hits a positive is re-drawn, and one still hitting a positive after
    :data:`MAX_REJECTION_ROUNDS` rounds is returned as ``-1`` (no candidate).

    Returns an int64 ``(rows, n)`` NumPy array, or a torch tensor when ``positives`` is one (the
    caller has torch loaded already).
    """
    from recaug.random import hash_uniform

    pos_np = _as_array(positives).astype(bool, copy=False)
    n_rows, n_cols = pos_np.shape
    n_real = n_cols - C.N_RESERVED
    cand = np.full(n_rows * n, -1, dtype=np.int64)
    if n_real > 0 and n_rows > 0:
        keys = np.repeat(np.asarray(users, dtype=np.int64), n)
        slot = np.tile(np.arange(n, dtype=np.int64), n_rows)
        row_of = np.repeat(np.arange(n_rows, dtype=np.int64), n)
        todo = np.arange(n_rows * n)
        for rnd in range(MAX_REJECTION_ROUNDS):
            u = hash_uniform(seed, keys[todo], slot[todo] + rnd * n)
            draw = C.N_RESERVED + np.minimum((u * n_real).astype(np.int64), n_real - 1)
            ok = ~pos_np[row_of[todo], draw]
            cand[todo[ok]] = draw[ok]
            todo = todo[~ok]
            if not len(todo):
                break
    out = cand.reshape(n_rows, n)
    if hasattr(positives, "detach"):
        import torch  # already imported by whoever made the tensor

        return torch.as_tensor(out)
    return out


def _count_below(scores: np.ndarray, t_rows: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Per target ``i``: how many columns of row ``t_rows[i]`` score strictly below ``raw[i]``.

    ``t_rows`` is non-decreasing (CSR order). Targets are taken in blocks of about
    :data:`BLOCK_BYTES` booleans; a block whose rows are consecutive and hold one target each
    compares a view of the score rows, any other block a gathered copy of them. The booleans of
    a row are counted 8 at a time (a popcount of each 8-byte word; the buffer's rows are padded
    to whole words with zeros) where NumPy has ``bitwise_count`` (>= 2.0).
    """
    n_cols = scores.shape[1]
    n_t = len(raw)
    out = np.empty(n_t, dtype=np.int64)
    step = max(1, BLOCK_BYTES // max(n_cols, 1))
    popcount = getattr(np, "bitwise_count", None)
    width = -(-n_cols // 8) * 8 if popcount is not None else n_cols
    buf = np.zeros((min(step, n_t), width), dtype=bool)  # the padding columns stay False
    for a in range(0, n_t, step):
        b = min(a + step, n_t)
        rows = t_rows[a:b]
        if (np.diff(rows) == 1).all():  # consecutive rows, one target each: a view, no copy
            vals = scores[int(rows[0]) : int(rows[-1]) + 1]
        else:
            vals = scores[rows]
        less = buf[: b - a]
        np.less(vals, raw[a:b, None], out=less[:, :n_cols])
        if popcount is not None:
            out[a:b] = np.add.reduce(popcount(less.view(np.uint64)), axis=1, dtype=np.int32)
        else:
            out[a:b] = np.add.reduce(less.view(np.uint8), axis=1, dtype=np.int32)
    return out


def _unique_keys(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (a sort and a neighbour test)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_keys)`` for a sorted ``sorted_keys`` (binary search, no hashing)."""
    if not len(sorted_keys):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[pos] == values


def rank_scores(
    scores: Any,
    histories: Sequences,
    target_offsets: np.ndarray,
    target_items: np.ndarray,
    *,
    mask_history: bool = True,
    negatives: Any | None = None,
    repeats: str = DEFAULT_REPEATS,
) -> np.ndarray:
    """Ranks of CSR targets (row ``r``: ``target_items[target_offsets[r]:target_offsets[r+1]]``).

    ``scores`` (``(rows, item_space)``, a NumPy array or torch tensor) is only read, never
    written, so a model may return cached tensors. Targets should be distinct within a row.
    Returns one 0-based rank per target, aligned with ``target_items``. ``negatives``
    (``(rows, n)`` item codes, ``-1`` = none) switches to sampled ranking.

    Masking with ``-inf`` is computed without writing it: count the columns not strictly below
    the target over the whole row, then subtract the masked columns (PAD, MASK, history) that
    were counted, an O(history) correction.
    """
    scores = _as_array(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be a (rows, item_space) matrix, got shape {tuple(scores.shape)}")
    n_rows, n_cols = scores.shape
    target_offsets = np.asarray(target_offsets, dtype=np.int64)
    target_items = np.asarray(target_items, dtype=np.int64)
    t_counts = np.diff(target_offsets)
    t_rows = np.repeat(np.arange(n_rows, dtype=np.int64), t_counts)
    valid = (target_items >= C.N_RESERVED) & (target_items < n_cols)
    if n_cols:
        raw = scores[t_rows, np.where(valid, target_items, 0)]
    else:
        raw = np.full(len(target_items), np.nan, dtype=scores.dtype)
    with np.errstate(invalid="ignore"):
        ok = valid & ~np.isnan(raw) & (raw > -np.inf)
    repeated = np.zeros(len(target_items), dtype=bool)
    if mask_history and check_repeats(repeats) == "unreachable":
        # a repeated target is masked with the history: last itself, and no candidate for the others
        repeated = targets_in_history(histories, target_offsets, target_items)
        ok &= ~repeated

    if negatives is None:
        # count over *all* columns of the unmodified scores (no copy, no writes) ...
        above = n_cols - _count_below(scores, t_rows, raw) - 1  # minus the target itself
        # ... then take back the masked columns (PAD, MASK, history minus targets) counted above
        above -= _masked_above(
            scores, histories, target_offsets, target_items, raw, mask_history, unreachable=repeated
        )
        worst = n_cols
    else:
        negatives = _as_array(negatives).astype(np.int64, copy=False)
        neg_ok = negatives >= 0
        neg_scores = np.take_along_axis(scores, np.maximum(negatives, 0), axis=1)
        neg_scores = np.where(neg_ok, neg_scores, np.asarray(-np.inf, dtype=neg_scores.dtype))
        # candidates per target: the row's negatives plus the row's targets (padded with -inf)
        width = int(t_counts.max()) if len(t_counts) else 0
        tgt_mat = np.full((n_rows, width), -np.inf, dtype=np.float32)
        slot = np.arange(len(t_rows)) - np.repeat(target_offsets[:-1], t_counts)
        candidate = valid & ~repeated
        tgt_mat[t_rows, slot] = np.where(candidate, raw, -np.inf)
        cand = np.concatenate([neg_scores, tgt_mat], axis=1)[t_rows]
        worst = negatives.shape[1] + width
        below = np.count_nonzero(cand < raw[:, None], axis=1)
        above = cand.shape[1] - below - 1  # minus the target itself
    return np.where(ok, above, worst).astype(np.int64)


def _masked_above(
    scores: np.ndarray,
    histories: Sequences,
    target_offsets: np.ndarray,
    target_items: np.ndarray,
    raw: np.ndarray,
    mask_history: bool,
    *,
    unreachable: np.ndarray | None = None,
) -> np.ndarray:
    """Per target: how many masked columns of its row are *not* strictly below its score.

    Masked columns are PAD and MASK, plus (with ``mask_history``) the row's distinct history
    items that are not among its targets, or that are targets flagged in ``unreachable`` (the
    repeated targets under the ``"unreachable"`` policy). Work is O(history), not O(rows x items):
    the (row, item) pairs are keys ``row * n_cols + item`` of the CSR histories and targets.
    """
    n_rows, n_cols = scores.shape
    t_counts = np.diff(target_offsets)
    t_rows = np.repeat(np.arange(n_rows, dtype=np.int64), t_counts)
    reserved = min(C.N_RESERVED, n_cols)
    # PAD and MASK: the same few columns in every row
    out = np.count_nonzero(~(scores[t_rows, :reserved] < raw[:, None]), axis=1).astype(np.int64)
    if not (mask_history and len(histories.items)):
        return out
    h_items = histories.items.astype(np.int64)
    h_rows = np.repeat(np.arange(n_rows, dtype=np.int64), histories.lengths)
    keep = (h_items >= C.N_RESERVED) & (h_items < n_cols)
    key = _unique_keys(h_rows[keep] * n_cols + h_items[keep])  # each masked column once per row
    # targets outside [0, n_cols) have no column: their key must not unmask another row's item
    in_range = (target_items >= 0) & (target_items < n_cols)
    if unreachable is not None:
        in_range &= ~unreachable  # repeated targets stay masked with the rest of the history
    t_key = np.sort(t_rows[in_range] * n_cols + target_items[in_range])
    key = key[~_isin_sorted(key, t_key)]  # the other targets are not masked
    p_rows, p_cols = key // n_cols, key % n_cols
    # pair every masked column with every target of its row (CSR: the row's target range)
    counts = t_counts[p_rows]
    if (counts == 1).all():  # one target per row: the pair is the masked column itself
        tgt = target_offsets[p_rows]
        not_below = ~(scores[p_rows, p_cols] < raw[tgt])
    else:
        pair = np.repeat(np.arange(len(p_rows)), counts)
        within = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
        tgt = np.repeat(target_offsets[p_rows], counts) + within
        not_below = ~(scores[p_rows[pair], p_cols[pair]] < raw[tgt])
    return out + np.bincount(tgt[not_below], minlength=len(raw))


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
            pos = np.zeros(scores.shape, dtype=bool)
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

    ``model`` is any object with ``score(Sequences)`` returning a ``(rows, item_space)`` NumPy
    array or torch tensor. Works chunk by chunk so memory stays bounded by
    ``chunk_size x item_space`` floats.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) != len(histories):
        raise ValueError(f"{len(targets)} targets for {len(histories)} history rows")
    offsets = np.arange(len(targets) + 1, dtype=np.int64)
    return rank_target_sets(
        model, histories, offsets, targets, chunk_size=chunk_size, mask_history=mask_history, repeats=repeats
    )
