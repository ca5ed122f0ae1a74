"""SASRec learns a planted next-item rule; batching/padding never changes a row's scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.evaluate.ranking import rank_targets
from recaug.models import SASRec
from recaug.split import LeaveLastOut

N_ITEMS = 20


@pytest.fixture(scope="module")
def successor_split():
    """Every user walks one fixed random cycle through all items from a random start."""
    rng = np.random.default_rng(1)
    cycle = rng.permutation(N_ITEMS) + 2
    users, items = [], []
    for user in range(64):
        start = int(rng.integers(0, N_ITEMS))
        for step in range(int(rng.integers(5, 10))):
            users.append(user)
            items.append(int(cycle[(start + step) % N_ITEMS]))
    return LeaveLastOut().split(Interactions.from_arrays(users, items))


@pytest.mark.parametrize(("loss", "block"), [("bce", "pre_ln"), ("ce", "pre_ln"), ("bce", "post_ln")])
def test_learns_deterministic_successor(successor_split, loss, block):
    split = successor_split
    model = SASRec(
        hidden=16, n_layers=1, n_heads=1, dropout=0.1, max_len=10, loss=loss, block=block,
        epochs=40, batch_size=16, lr=1e-2, patience=5, device="cpu", seed=0, progress=False,
    )  # fmt: skip
    model.fit(split.train, split.valid)
    histories = Sequences.from_interactions(split.history("test"))
    targets = split.test.items
    assert np.array_equal(histories.users, split.test.users)
    hr1 = (rank_targets(model, histories, targets) == 0).mean()
    assert hr1 >= 0.95, (loss, hr1, model.history_[-1])
    assert model.best_epoch_ is not None


@pytest.mark.parametrize("block", ["pre_ln", "post_ln"])
def test_scores_do_not_depend_on_batch_mates(block):
    train = Interactions.from_arrays([0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4])
    model = SASRec(
        hidden=8, n_heads=2, max_len=6, epochs=2, batch_size=2, device="cpu", progress=False, block=block
    )
    model.fit(train)
    alone = model.score(Sequences.from_lists([[4, 5]]))
    mixed = model.score(Sequences.from_lists([[2, 3, 4, 5, 6, 7, 8, 9], [4, 5], []]))
    torch.testing.assert_close(alone[0], mixed[1])
    model.score_batch = 1
    torch.testing.assert_close(model.score(Sequences.from_lists([[2, 3, 4, 5, 6, 7, 8, 9], [4, 5], []])), mixed)


def test_sampled_softmax_trains_and_bad_loss_is_rejected(successor_split):
    model = SASRec(hidden=8, max_len=8, loss="sampled_softmax", n_negatives=5, epochs=2, device="cpu", progress=False)
    model.fit(successor_split.train)
    assert len(model.history_) == 2 and np.isfinite(model.history_[-1]["loss"])
    # near-zero logits at the start: the softmax of the target over itself and its 5 negatives,
    # a negative equal to the target (1 in 20) left out -> log(1 + 5 * 19/20); full CE would be ~log(20)
    assert model.history_[0]["loss"] == pytest.approx(math.log(1 + 5 * 19 / 20), abs=0.05)
    with pytest.raises(ConfigError):
        SASRec(loss="hinge")


def test_post_ln_block_is_the_s3rec_network():
    """The S3Rec/ICLRec block: 4d GELU feed-forward, layer norm on embeddings, none at the end."""
    from recaug.models.nets.sasrec import SASRecNet

    post = SASRecNet(30, max_len=5, hidden=8, n_layers=2, n_heads=2, dropout=0.0, block="post_ln")
    pre = SASRecNet(30, max_len=5, hidden=8, n_layers=2, n_heads=2, dropout=0.0)
    assert post.blocks[0].ffn[0].out_features == 32 and isinstance(post.blocks[0].ffn[1], torch.nn.GELU)
    assert pre.blocks[0].ffn[0].out_features == 8
    assert isinstance(post.final_norm, torch.nn.Identity) and isinstance(post.embedding_norm, torch.nn.LayerNorm)
    # post-LN: every position's output is layer-normalised (mean 0, std 1 before affine = identity init)
    out = post.eval()(torch.tensor([[0, 2, 3, 4, 5]]))[0, 1:]
    torch.testing.assert_close(out.mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="block"):
        SASRec(block="postln")
    saved = SASRec(block="post_ln").config()
    assert saved["block"] == "post_ln"
