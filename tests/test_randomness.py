"""Fits are pure functions of their seed and never touch the caller's random state (issue 35 A.8)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import random_split
from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.generate import get_synthesizer
from recaug.models import get_model_class
from recaug.models.sequential import row_keys

SMALL = {
    "sasrec": {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 8, "dropout": 0.3},
    "gru4rec": {"hidden": 8, "max_len": 8, "dropout": 0.3},
    "multvae": {},
    "bpr": {},
}


@pytest.fixture(scope="module")
def split():
    return random_split(seed=3, n_users=40, lengths=(4, 9), n_items=30)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}


def _fit(name: str, split) -> object:
    cls = get_model_class(name)
    model = cls(seed=5, device="cpu", epochs=2, batch_size=8, progress=False, **SMALL[name])
    return model.fit(split.train, split.valid)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_fit_leaves_the_callers_global_generator_alone(split, name):
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    _fit(name, split)
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_weights_whatever_the_process_drew_before(split, name):
    torch.manual_seed(0)
    first = _weights(_fit(name, split))
    torch.manual_seed(987)
    torch.rand(1000)  # the caller's own draws must not reach dropout or VAE noise
    second = _weights(_fit(name, split))
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_synthesizer_fit_leaves_the_callers_global_generator_alone(split, name):
    synth = get_synthesizer(name)(seed=1, epochs=1, device="cpu")
    torch.manual_seed(42)
    expected = torch.rand(4)
    torch.manual_seed(42)
    synth.fit(split.train)
    assert torch.equal(torch.rand(4), expected)


def test_row_keys_follow_the_user_not_the_row_position():
    users = np.array([7, 3, 9, 3, 7, 7])
    keys = row_keys(users)
    assert len(set(keys.tolist())) == len(users)  # unique even with several rows per user
    assert keys.tolist()[:3] == [7, 3, 9]  # a user's first row is keyed by the user code itself
    # the same users in another order keep their keys (k-th row of a user -> same key)
    assert row_keys(np.array([9, 7, 3])).tolist() == [keys[2], keys[0], keys[1]]
    assert row_keys(users[:0]).tolist() == []


def test_online_views_do_not_move_when_another_user_is_dropped():
    """A user's training-row key must not depend on the users before it (it was the row index)."""
    model = get_model_class("sasrec")(seed=0, device="cpu", max_len=5, hidden=8, n_layers=1, n_heads=1)
    model.item_space_ = 20
    # user 0 has one item only: no usable target, so its row is dropped from training
    long_first = Sequences.from_interactions(Interactions.from_arrays([0, 1, 1, 1], [2, 3, 4, 5]))
    without = Sequences.from_interactions(Interactions.from_arrays([1, 1, 1], [3, 4, 5]))
    _, keys_with, _ = model._rows(long_first, "left")
    _, keys_without, _ = model._rows(without, "left")
    assert keys_with.tolist() == keys_without.tolist() == [1]
