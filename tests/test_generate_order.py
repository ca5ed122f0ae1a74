"""``OrderModel``: ordering synthesized item sets into sequences with learned transitions."""

from __future__ import annotations

import numpy as np
import pytest

from recaug.data import Interactions, Sequences
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.generate import OrderModel

CHAIN = np.arange(2, 22)  # planted deterministic chain 2 -> 3 -> ... -> 21


def chain_log(n_users: int = 80, seed: int = 0) -> Interactions:
    """Every user follows a window of the chain."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        start = int(rng.integers(0, len(CHAIN) - 4))
        length = int(rng.integers(4, len(CHAIN) - start + 1))
        users += [user] * length
        items += CHAIN[start : start + length].tolist()
    return Interactions.from_arrays(users, items)


def shuffled_windows(n: int = 40, seed: int = 1) -> tuple[Sequences, list[list[int]]]:
    rng = np.random.default_rng(seed)
    truth, rows = [], []
    for _ in range(n):
        start = int(rng.integers(0, len(CHAIN) - 3))
        length = int(rng.integers(2, min(9, len(CHAIN) - start) + 1))
        window = CHAIN[start : start + length].tolist()
        truth.append(window)
        rows.append(rng.permutation(window).tolist())
    return Sequences.from_lists(rows, users=list(range(100, 100 + n))), truth


def test_greedy_reproduces_planted_chain():
    model = OrderModel(method="greedy").fit(chain_log())
    sets, truth = shuffled_windows()
    out = model.order(sets, start_times=np.arange(len(sets)) * 100)
    assert out.to_lists() == truth
    assert np.array_equal(out.users, sets.users)
    assert out.timestamps is not None
    first = out.timestamps[out.offsets[:-1]]
    assert np.array_equal(first, np.arange(len(sets)) * 100)
    assert (np.diff(out.timestamps)[np.diff(np.repeat(np.arange(len(sets)), out.lengths)) == 0] == 1).all()


def test_sampled_order_is_a_seeded_permutation():
    model = OrderModel(method="sample", temperature=1.0).fit(chain_log())
    sets, truth = shuffled_windows()
    a, b = model.order(sets, seed=0), model.order(sets, seed=0)
    assert a.equals(b)
    for got, want in zip(a.to_lists(), truth, strict=True):
        assert sorted(got) == sorted(want)
    # transitions are near-deterministic, so sampling mostly follows the chain too
    agree = np.mean([g == t for g, t in zip(a.to_lists(), truth, strict=True)])
    assert agree > 0.8


def test_transition_probabilities_are_smoothed_and_normalised():
    model = OrderModel(smoothing=1.0).fit(chain_log())
    p = model.transition_prob(np.full(model.item_space_, 5), np.arange(model.item_space_))
    assert p.sum() == pytest.approx(1.0)
    assert np.argmax(p) == 6 and (p > 0).all()


def test_order_handles_empty_and_single_rows():
    model = OrderModel().fit(chain_log())
    sets = Sequences.from_lists([[], [7], [9, 8]], users=[0, 1, 2])
    assert model.order(sets).to_lists() == [[], [7], [8, 9]]


def test_order_model_errors_and_state_round_trip():
    with pytest.raises(ConfigError):
        OrderModel(method="random")
    with pytest.raises(NotFittedError):
        OrderModel().order(Sequences.from_lists([[2, 3]]))
    with pytest.raises(DataError):
        OrderModel().fit(Interactions.from_arrays([], []))
    model = OrderModel().fit(chain_log())
    again = OrderModel().load_state_dict(model.state_dict())
    sets, _ = shuffled_windows()
    assert again.order(sets).equals(model.order(sets))
