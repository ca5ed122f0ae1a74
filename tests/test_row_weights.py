"""The ``weight`` column (written by the fuser for synthetic rows) reaches the models' losses."""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import pytest
import torch

from conftest import random_split
from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, DataError
from recaug.models import BPRMF, GRU4Rec, ItemKNN, MultVAE, Popularity, SASRec, sequential
from recaug.models.inputs import sequence_weights, user_item_matrix
from recaug.models.losses import next_item_loss


def with_weights(train: Interactions, weights: np.ndarray) -> Interactions:
    return Interactions.from_arrays(train.users, train.items, train.timestamps, weight=weights.astype(np.float32))


def test_weighted_user_item_matrix_known_answer():
    # user 0 has item 2 twice (weights 0.3 and 1.0: the max counts), user 1 item 3 at 0.5
    train = Interactions.from_arrays([0, 0, 1, 1], [2, 2, 3, 4], weight=np.array([0.3, 1.0, 0.5, np.nan]))
    dense = user_item_matrix(train, 2, 5, weighted=True).toarray()
    assert dense.tolist() == [[0, 0, 1.0, 0, 0], [0, 0, 0, 0.5, 1.0]]
    assert user_item_matrix(train, 2, 5).toarray().tolist() == [[0, 0, 1, 0, 0], [0, 0, 0, 1, 1]]


def test_popularity_sums_weights():
    train = Interactions.from_arrays([0, 1, 2, 0], [2, 2, 3, 3], weight=np.array([1.0, 0.25, 1.0, 1.0]))
    counts = Popularity().fit(train, item_space=4).counts_
    assert counts[2:].tolist() == [1.25, 2.0]


def test_unit_weights_change_nothing():
    split = random_split(0, 30, (4, 9), 25)
    ones = with_weights(split.train, np.ones(len(split.train)))
    for make in (lambda: BPRMF(epochs=2, dim=8), lambda: MultVAE(epochs=2, hidden_dims=[16], latent_dim=4)):
        a, b = make().fit(split.train, item_space=25), make().fit(ones, item_space=25)
        histories = Sequences.from_interactions(split.train)
        assert torch.equal(a.score(histories), b.score(histories))
    a, b = ItemKNN().fit(split.train, item_space=25), ItemKNN().fit(ones, item_space=25)
    assert np.allclose(a.similarity_.toarray(), b.similarity_.toarray())


def test_bpr_rows_of_weight_zero_do_not_train():
    split = random_split(1, 20, (4, 8), 30)
    weights = np.where(split.train.users == 0, 0.0, 1.0)
    fitted = BPRMF(epochs=3, dim=8, reg=0.0, patience=None).fit(with_weights(split.train, weights), item_space=30)
    untrained = BPRMF(epochs=0, dim=8, reg=0.0).fit(split.train, item_space=30)
    user0 = fitted.module_.user_embedding.weight[0]
    assert torch.equal(user0, untrained.module_.user_embedding.weight[0])  # only weight-0 rows touch it
    assert not torch.equal(fitted.module_.user_embedding.weight[1], untrained.module_.user_embedding.weight[1])


def test_multvae_weights_change_the_model():
    split = random_split(2, 30, (4, 9), 25)
    half = with_weights(split.train, np.full(len(split.train), 0.5))
    a = MultVAE(epochs=2, hidden_dims=[16], latent_dim=4).fit(split.train, item_space=25)
    b = MultVAE(epochs=2, hidden_dims=[16], latent_dim=4).fit(half, item_space=25)
    assert not torch.equal(a.score(Sequences.from_interactions(split.train)), b.score(Sequences.from_interactions(split.train)))


def test_sequence_models_weight_each_target_by_its_row(monkeypatch: pytest.MonkeyPatch):
    # weight = a function of the item, so every position's weight can be checked against its target
    split = random_split(3, 12, (4, 9), 20)
    weights = 1.0 / split.train.items.astype(np.float32)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def spy(hidden, targets, item_weight, loss, negatives=None, weights=None):
        seen.append((targets.clone(), weights.clone()))
        return original(hidden, targets, item_weight, loss, negatives, weights)

    original = sequential.next_item_loss
    monkeypatch.setattr(sequential, "next_item_loss", spy)
    for model in (SASRec(epochs=1, hidden=8, n_heads=1, n_layers=1, max_len=6), GRU4Rec(epochs=1, hidden=8, max_len=6)):
        seen.clear()
        model.fit(with_weights(split.train, weights), item_space=20)
        targets = torch.cat([t for t, _ in seen])
        assert len(targets) > 0
        assert torch.allclose(torch.cat([w for _, w in seen]), 1.0 / targets.float())


def test_sequence_models_unit_and_uniform_weights_change_nothing():
    split = random_split(4, 12, (4, 9), 20)
    histories = Sequences.from_interactions(split.train)
    plain = SASRec(epochs=2, hidden=8, n_heads=1, n_layers=1, max_len=6).fit(split.train, item_space=20)
    for w in (1.0, 0.5):  # a weighted *mean*: a uniform weight is no weight at all
        weighted = with_weights(split.train, np.full(len(split.train), w))
        model = SASRec(epochs=2, hidden=8, n_heads=1, n_layers=1, max_len=6).fit(weighted, item_space=20)
        assert torch.allclose(model.score(histories), plain.score(histories), atol=1e-5)
    skewed = with_weights(split.train, np.where(split.train.users % 2 == 0, 0.1, 1.0))
    model = SASRec(epochs=2, hidden=8, n_heads=1, n_layers=1, max_len=6).fit(skewed, item_space=20)
    assert not torch.allclose(model.score(histories), plain.score(histories), atol=1e-5)


@pytest.mark.parametrize("loss", ["ce", "bce", "sampled_softmax"])
def test_next_item_loss_is_a_weighted_mean(loss: str):
    gen = torch.Generator().manual_seed(0)
    hidden, table = torch.randn(3, 4, generator=gen), torch.randn(10, 4, generator=gen)
    targets = torch.tensor([2, 5, 7])
    negatives = torch.tensor([3, 4, 6]) if loss == "bce" else torch.tensor([[3, 4], [6, 8], [2, 9]])
    each = [next_item_loss(hidden[i : i + 1], targets[i : i + 1], table, loss, negatives[i : i + 1]) for i in range(3)]
    weighted = next_item_loss(hidden, targets, table, loss, negatives, torch.tensor([1.0, 0.0, 3.0]))
    assert torch.allclose(weighted, (each[0] + 3 * each[2]) / 4)
    assert torch.allclose(next_item_loss(hidden, targets, table, loss, negatives), torch.stack(each).mean())


def test_sequence_models_can_be_told_to_ignore_weights(caplog: pytest.LogCaptureFixture):
    split = random_split(5, 12, (4, 9), 20)
    histories = Sequences.from_interactions(split.train)
    skewed = with_weights(split.train, np.where(split.train.users % 2 == 0, 0.1, 1.0))
    plain = SASRec(epochs=2, hidden=8, n_heads=1, n_layers=1, max_len=6).fit(split.train, item_space=20)
    unweighted = SASRec(epochs=2, hidden=8, n_heads=1, n_layers=1, max_len=6, weighted=False)
    assert torch.equal(unweighted.fit(skewed, item_space=20).score(histories), plain.score(histories))
    assert unweighted.config()["weighted"] is False
    with caplog.at_level(logging.WARNING, logger="recaug.models"):  # offline rows carry no weights
        SASRec(epochs=1, hidden=8, n_heads=1, n_layers=1, max_len=6).fit(skewed, item_space=20, sequences=histories)
    assert any("ignores the 'weight' column" in r.getMessage() for r in caplog.records)


def test_sequence_models_say_they_ignore_weights_with_online_views(caplog: pytest.LogCaptureFixture):
    split = random_split(3, 10, (4, 6), 20)
    weighted = with_weights(split.train, np.full(len(split.train), 0.5))
    with caplog.at_level(logging.WARNING, logger="recaug.models"):
        SASRec(epochs=1, hidden=8, n_heads=1, n_layers=1, max_len=8, repeat_pad=True).fit(weighted, item_space=20)
    assert any("ignores the 'weight' column" in r.getMessage() for r in caplog.records)


def test_padded_values_follow_the_items():
    seqs = Sequences.from_lists([[2, 3, 4], [5]])
    values = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    left = seqs.to_padded(2, pad=0.0, values=values)
    assert left.dtype == np.float32 and np.allclose(left, [[0.2, 0.3], [0.0, 0.4]])
    assert np.allclose(seqs.to_padded(2, pad=0.0, side="right", values=values), [[0.2, 0.3], [0.4, 0.0]])
    with pytest.raises(DataError, match="values"):
        seqs.to_padded(2, values=values[:3])


def test_sequence_weights_follow_the_sequence_order_of_unsorted_rows():
    frame = pl.DataFrame({"user_id": [1, 0, 1, 0], "item_id": [5, 2, 4, 3], "timestamp": [2, 9, 1, 3],
                          "weight": [0.5, 0.2, 1.0, 0.7]})
    train = Interactions(frame, sort=False)
    assert Sequences.from_interactions(train).items.tolist() == [3, 2, 4, 5]
    assert np.allclose(sequence_weights(train), [0.7, 0.2, 1.0, 0.5])


def test_changed_weights_never_resume_a_sequential_checkpoint(tmp_path):
    """A checkpoint of a weighted fit is not continued on the same rows with other weights."""
    split = random_split(0, 30, (4, 9), 25)
    ckpt = str(tmp_path / "fit.ckpt")
    settings = dict(hidden=8, n_layers=1, n_heads=1, max_len=8, batch_size=32, patience=None, weighted=True,
                    checkpoint=ckpt, keep_checkpoint=True)
    half = with_weights(split.train, np.full(len(split.train), 0.5))
    SASRec(epochs=2, **settings).fit(half, item_space=25)
    again = SASRec(epochs=3, **settings).fit(half, item_space=25)
    assert again.resumed_epochs_ == 2  # same data and weights: the raised cap continues the fit
    other = with_weights(split.train, np.full(len(split.train), 0.25))
    with pytest.raises(ConfigError, match="belongs to another fit"):  # other weights: another fit
        SASRec(epochs=4, **settings).fit(other, item_space=25)
