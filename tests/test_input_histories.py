"""WithInputHistories: the model reads completed histories, the ranking masks only the real ones."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from recaug.data import Interactions, Sequences
from recaug.errors import DataError
from recaug.evaluate import Evaluator, WithInputHistories, held_out_histories
from recaug.split import LeaveLastOut, Split

ITEM_SPACE = 12  # codes 2..11 are real items


class FixedScores:
    """The same scores for every user, whatever the input: item 11 > 10 > ... > 2."""

    def score(self, histories: Sequences) -> torch.Tensor:
        return torch.arange(ITEM_SPACE, dtype=torch.float32).expand(len(histories), -1).clone()


class Recorder:
    """Scores each row by a hash of the input row it was given, and remembers the inputs."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, tuple[int, ...]]] = []

    def score(self, histories: Sequences) -> torch.Tensor:
        rows = [(int(u), tuple(int(i) for i in histories[r])) for r, u in enumerate(histories.users)]
        self.seen += rows
        return torch.tensor([[float(hash(row[1]) % 97)] * ITEM_SPACE for row in rows])


def _split() -> Split:
    # user 0: train 2 3, valid 4, test 5; user 1: train 6, valid 7, test 8
    inter = Interactions.from_arrays(np.array([0, 0, 0, 0, 1, 1, 1]), np.array([2, 3, 4, 5, 6, 7, 8]),
                                     np.array([1, 2, 3, 4, 1, 2, 3]))  # fmt: skip
    return LeaveLastOut(n_valid=1, n_test=1).split(inter)


def _completed(split: Split) -> Split:
    synthetic = Interactions.from_arrays(np.array([0]), np.array([11]), np.array([0]))  # user 0 gets item 11
    frame = pl.concat([synthetic.frame, split.train.frame], how="vertical_relaxed")
    return Split(Interactions(frame), split.valid, split.test, split.protocol)


def test_masking_synthetic_items_inflates_a_model_that_never_saw_them() -> None:
    """The artifact: an input-blind model scores better when a synthetic item is masked."""
    split, completed = _split(), _completed(_split())
    ev = Evaluator(ks=(1, 5))
    real = ev.evaluate(FixedScores(), split, "test", segments=[]).per_user.get_column("rank").to_list()
    masked = ev.evaluate(FixedScores(), completed, "test", segments=[]).per_user.get_column("rank").to_list()
    # user 0's target 5: above it are 11..6 (6 items) minus the masked history 2, 3, 4 (below it) -> 6
    assert real == [6, 3]  # user 1's target 8: 11, 10, 9 above it
    assert masked == [5, 3]  # item 11 masked: one wrong guess fewer, with nothing learned
    wrapped = WithInputHistories(FixedScores(), held_out_histories(completed, "test")[0])
    assert ev.evaluate(wrapped, split, "test", segments=[]).per_user.get_column("rank").to_list() == real


def test_the_model_reads_the_completed_history_of_each_user() -> None:
    split, completed = _split(), _completed(_split())
    inputs, _, _ = held_out_histories(completed, "test")
    only_user0 = inputs.take(np.array([0]))
    rec = Recorder()
    Evaluator(chunk_size=1).evaluate(WithInputHistories(rec, only_user0), split, "test", segments=[])
    assert rec.seen == [(0, (11, 2, 3, 4)), (1, (6, 7))]  # user 1 has no input row: its own history
    mixed = Sequences.from_interactions(split.train)
    rec2 = Recorder()
    scores = WithInputHistories(rec2, only_user0).score(mixed.take(np.array([1, 0, 1])))
    assert rec2.seen == [(1, (6,)), (0, (11, 2, 3, 4)), (1, (6,))]  # asked order, one call
    direct = Recorder().score(Sequences(np.array([0, 1, 5, 6]), np.array([6, 11, 2, 3, 4, 6]),
                                        np.array([1, 0, 1])))  # fmt: skip
    assert torch.equal(scores, direct)


def test_input_rows_must_be_one_per_user() -> None:
    twice = Sequences(np.array([0, 1, 2]), np.array([2, 3]), np.array([4, 4]))
    with pytest.raises(DataError, match="one row per user"):
        WithInputHistories(FixedScores(), twice)
