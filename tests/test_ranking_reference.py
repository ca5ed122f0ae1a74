"""The vectorised ranking against a plain per-user Python loop.

Random score matrices with many ties, NaN and +/-inf; random histories with repeated items and
out-of-range codes; several targets per row, some of them repeats from the history, some invalid
(PAD, MASK, negative, outside the score matrix). Full and sampled ranking, both repeat policies,
with and without history masking, NumPy and torch scores, tiny comparison blocks (so the block
loop, its view and its gather paths all run) and several chunk sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recaug import columns as C
from recaug.data import Sequences
from recaug.evaluate import ranking
from recaug.evaluate.ranking import MAX_REJECTION_ROUNDS, rank_scores, rank_target_sets, sample_negatives
from recaug.random import hash_uniform


def random_case(
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[list[int]], list[list[int]]]:
    """Scores (float32, ties, NaN, +/-inf), histories and distinct targets per row."""
    n_rows, n_cols = int(rng.integers(1, 30)), int(rng.integers(3, 40))
    if rng.random() < 0.5:
        scores = rng.integers(0, 4, size=(n_rows, n_cols)).astype(np.float32)  # many ties
    else:
        scores = rng.normal(size=(n_rows, n_cols)).astype(np.float32)
    u = rng.random(scores.shape)
    scores[u < 0.05] = np.nan
    scores[(u >= 0.05) & (u < 0.08)] = np.inf
    scores[(u >= 0.08) & (u < 0.11)] = -np.inf
    if rng.random() < 0.5:
        scores[:, : C.N_RESERVED] = -np.inf  # what recaug's models do; other values must be ignored too
    histories = [
        [int(i) for i in rng.integers(0, n_cols + 2, size=rng.integers(0, 10))] for _ in range(n_rows)
    ]
    targets = []
    for hist in histories:
        pool = [int(i) for i in rng.integers(-1, n_cols + 3, size=rng.integers(0, 4))]
        if hist and rng.random() < 0.4:
            pool.append(int(rng.choice(hist)))  # a repeat
        targets.append(list(dict.fromkeys(pool)))  # distinct, in order
    return scores, histories, targets


def as_csr(targets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.r_[0, np.cumsum([len(t) for t in targets])].astype(np.int64)
    return offsets, np.array([t for row in targets for t in row], dtype=np.int64)


def reference_full(
    scores: np.ndarray, histories: list[list[int]], targets: list[list[int]], mask: bool, repeats: str
) -> list[int]:
    """Per user: count the unmasked real items (other than the target) scoring >= it or NaN."""
    n_cols = scores.shape[1]
    out = []
    for s, hist, tgts in zip(scores, histories, targets, strict=True):
        masked = set(hist) if mask else set()
        if repeats == "rankable":
            masked -= set(tgts)
        cands = [c for c in range(C.N_RESERVED, n_cols) if c not in masked]
        for t in tgts:
            if t < C.N_RESERVED or t >= n_cols or np.isnan(s[t]) or s[t] == -np.inf:
                out.append(n_cols)
            elif mask and repeats == "unreachable" and t in hist:
                out.append(n_cols)
            else:
                out.append(sum(1 for c in cands if c != t and (s[c] >= s[t] or np.isnan(s[c]))))
    return out


def reference_sampled(
    scores: np.ndarray,
    histories: list[list[int]],
    targets: list[list[int]],
    negatives: np.ndarray,
    mask: bool,
    repeats: str,
) -> list[int]:
    """Per user: count the drawn negatives and the row's other rankable targets scoring >= it or NaN."""
    n_cols = scores.shape[1]
    worst = negatives.shape[1] + max((len(t) for t in targets), default=0)
    out = []
    for s, hist, tgts, negs in zip(scores, histories, targets, negatives, strict=True):

        def rankable(t: int, hist: list[int] = hist) -> bool:
            unreachable = mask and repeats == "unreachable" and t in hist
            return C.N_RESERVED <= t < n_cols and not unreachable

        for i, t in enumerate(tgts):
            if not rankable(t) or np.isnan(s[t]) or s[t] == -np.inf:
                out.append(worst)
                continue
            above = sum(1 for n in negs if n >= 0 and (s[n] >= s[t] or np.isnan(s[n])))
            above += sum(
                1 for j, u in enumerate(tgts) if j != i and rankable(u) and (s[u] >= s[t] or np.isnan(s[u]))
            )
            out.append(above)
    return out


def reference_negatives(users: np.ndarray, positives: np.ndarray, n: int, seed: int) -> np.ndarray:
    """One draw at a time: the ``k``-th draw's ``r``-th re-draw uses counter ``k + r * n``."""
    n_real = positives.shape[1] - C.N_RESERVED
    out = np.full((len(users), n), -1, dtype=np.int64)
    for row, user in enumerate(users):
        for k in range(n):
            for rnd in range(MAX_REJECTION_ROUNDS):
                u = hash_uniform(seed, np.array([user]), np.array([k + rnd * n]))[0]
                item = C.N_RESERVED + min(int(u * n_real), n_real - 1)
                if not positives[row, item]:
                    out[row, k] = item
                    break
    return out


@pytest.mark.parametrize("block_bytes", [1, 37, ranking.BLOCK_BYTES])
def test_full_ranking_matches_per_user_loop(monkeypatch: pytest.MonkeyPatch, block_bytes: int) -> None:
    monkeypatch.setattr(ranking, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(block_bytes)
    for _ in range(60):
        scores, histories, targets = random_case(rng)
        seqs = Sequences.from_lists(histories)
        offsets, items = as_csr(targets)
        for mask in (True, False):
            for repeats in ("unreachable", "rankable"):
                expected = reference_full(scores, histories, targets, mask, repeats)
                for given in (scores, torch.from_numpy(scores)):
                    got = rank_scores(given, seqs, offsets, items, mask_history=mask, repeats=repeats)
                    assert got.dtype == np.int64
                    assert got.tolist() == expected, (mask, repeats, type(given))


def test_single_target_rows_match_per_user_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """One target per row (the common case, compared through views of the score rows)."""
    monkeypatch.setattr(ranking, "BLOCK_BYTES", 64)
    rng = np.random.default_rng(7)
    for _ in range(60):
        scores, histories, _ = random_case(rng)
        n_cols = scores.shape[1]
        targets = [[int(rng.integers(C.N_RESERVED, n_cols))] for _ in histories]
        for row, hist in enumerate(histories):
            if hist and rng.random() < 0.3:
                targets[row] = [hist[0]]
        offsets, items = as_csr(targets)
        seqs = Sequences.from_lists(histories)
        for repeats in ("unreachable", "rankable"):
            got = rank_scores(scores, seqs, offsets, items, repeats=repeats)
            assert got.tolist() == reference_full(scores, histories, targets, True, repeats)


def test_sampled_ranking_matches_per_user_loop() -> None:
    rng = np.random.default_rng(3)
    for case in range(30):
        scores, histories, targets = random_case(rng)
        n_rows, n_cols = scores.shape
        users = rng.permutation(1000)[:n_rows]
        positives = np.zeros(scores.shape, dtype=bool)
        for row, (hist, tgts) in enumerate(zip(histories, targets, strict=True)):
            positives[row, [i for i in hist + tgts if 0 <= i < n_cols]] = True
        negatives = sample_negatives(users, positives, 6, seed=case)
        assert isinstance(negatives, np.ndarray)
        np.testing.assert_array_equal(negatives, reference_negatives(users, positives, 6, case))
        assert torch.equal(
            sample_negatives(users, torch.from_numpy(positives), 6, seed=case), torch.from_numpy(negatives)
        )
        offsets, items = as_csr(targets)
        seqs = Sequences.from_lists(histories)
        for mask in (True, False):
            for repeats in ("unreachable", "rankable"):
                got = rank_scores(
                    scores, seqs, offsets, items, mask_history=mask, negatives=negatives, repeats=repeats
                )
                assert got.tolist() == reference_sampled(scores, histories, targets, negatives, mask, repeats)


class Table:
    """A model whose scores are rows of a fixed table, looked up by user code."""

    def __init__(self, table: np.ndarray, as_tensor: bool) -> None:
        self.table, self.as_tensor = table, as_tensor

    def score(self, histories: Sequences) -> np.ndarray | torch.Tensor:
        rows = self.table[histories.users]
        return (
            torch.from_numpy(rows) if self.as_tensor else rows.astype(np.float64)
        )  # float64: read as float32


@pytest.mark.parametrize("as_tensor", [False, True])
def test_chunked_ranking_through_a_model_matches_per_user_loop(as_tensor: bool) -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        scores, histories, targets = random_case(rng)
        seqs = Sequences.from_lists(histories)
        offsets, items = as_csr(targets)
        expected = reference_full(scores, histories, targets, True, "unreachable")
        for chunk in (1, 4, len(histories)):
            got = rank_target_sets(Table(scores, as_tensor), seqs, offsets, items, chunk_size=chunk)
            assert got.tolist() == expected


def test_targets_outside_the_matrix_unmask_nothing() -> None:
    """A target code past the last column must not un-mask another row's history item."""
    scores = np.zeros((2, 6), dtype=np.float32)
    scores[1, 2] = 5.0  # row 1's history item 2 would outrank its target if it were not masked
    seqs = Sequences.from_lists([[], [2]])
    # row 0's target 8 = 6 + 2: a key "row * 6 + item" would name row 1's item 2
    offsets, items = np.array([0, 1, 2]), np.array([8, 3])
    for repeats in ("unreachable", "rankable"):
        assert rank_scores(scores, seqs, offsets, items, repeats=repeats).tolist() == [6, 2]
