"""Next-item losses: the chunked full-softmax cross-entropy against PyTorch's own, the sampled
losses against their formulas, and the negative samplers (never the positive or the history)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recaug import columns as C
from recaug.data import Interactions
from recaug.errors import ConfigError
from recaug.models.losses import negatives_outside_rows, next_item_loss, softmax_ce, uniform_items


@pytest.mark.parametrize("chunk_rows", [1, 5, 37, 1000])
def test_softmax_ce_matches_cross_entropy_values_and_gradients(chunk_rows):
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(37, 8, dtype=torch.double, generator=gen, requires_grad=True)
    items = torch.randn(23, 8, dtype=torch.double, generator=gen, requires_grad=True)
    targets = torch.randint(0, 23, (37,), generator=gen)
    upstream = torch.rand(37, dtype=torch.double, generator=gen)  # a weighted mean's per-row weights

    want = F.cross_entropy(hidden @ items.T, targets, reduction="none")
    got = softmax_ce(hidden, items, targets, chunk_rows=chunk_rows)
    torch.testing.assert_close(got, want)
    want_grads = torch.autograd.grad((want * upstream).sum(), (hidden, items))
    got_grads = torch.autograd.grad((got * upstream).sum(), (hidden, items))
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w)


def test_softmax_ce_passes_gradcheck():
    gen = torch.Generator().manual_seed(1)
    hidden = torch.randn(9, 4, dtype=torch.double, generator=gen, requires_grad=True)
    items = torch.randn(6, 4, dtype=torch.double, generator=gen, requires_grad=True)
    targets = torch.randint(0, 6, (9,), generator=gen)
    assert torch.autograd.gradcheck(lambda h, w: softmax_ce(h, w, targets, chunk_rows=4), (hidden, items))


def test_ce_loss_never_scores_reserved_ids_and_leaves_their_embeddings_untouched():
    gen = torch.Generator().manual_seed(2)
    weight = torch.randn(C.N_RESERVED + 10, 6, generator=gen, requires_grad=True)
    hidden = torch.randn(12, 6, generator=gen)
    targets = torch.randint(C.N_RESERVED, C.N_RESERVED + 10, (12,), generator=gen)
    loss = next_item_loss(hidden, targets, weight, "ce")
    want = F.cross_entropy(hidden @ weight[C.N_RESERVED :].T, targets - C.N_RESERVED)
    torch.testing.assert_close(loss, want)
    loss.backward()
    assert torch.all(weight.grad[: C.N_RESERVED] == 0)
    assert torch.any(weight.grad[C.N_RESERVED :] != 0)


def test_softmax_ce_rejects_a_bad_chunk_and_handles_no_rows():
    items = torch.randn(5, 3)
    with pytest.raises(ConfigError, match="chunk_rows"):
        softmax_ce(torch.randn(2, 3), items, torch.zeros(2, dtype=torch.long), chunk_rows=0)
    assert softmax_ce(torch.zeros(0, 3), items, torch.zeros(0, dtype=torch.long)).shape == (0,)


def test_ce_loss_switches_to_chunks_only_above_the_threshold(monkeypatch):
    from recaug.models import losses

    calls = []
    monkeypatch.setattr(losses, "softmax_ce", lambda *a, **k: calls.append(1) or F.cross_entropy(
        a[0] @ a[1].T, a[2], reduction="none"))
    weight = torch.randn(C.N_RESERVED + 10, 4)
    hidden, targets = torch.randn(6, 4), torch.full((6,), C.N_RESERVED)
    next_item_loss(hidden, targets, weight, "ce")
    assert calls == []
    monkeypatch.setattr(losses, "CHUNKED_ABOVE", 59)  # 6 positions x 10 items = 60 floats
    next_item_loss(hidden, targets, weight, "ce")
    assert calls == [1]


# -- the sampled losses against their formulas --------------------------------------------------
def test_bce_and_sampled_softmax_match_their_formulas():
    gen = torch.Generator().manual_seed(3)
    weight = torch.randn(C.N_RESERVED + 8, 4, dtype=torch.double, generator=gen)
    hidden = torch.randn(5, 4, dtype=torch.double, generator=gen)
    targets = torch.tensor([2, 3, 4, 5, 9])
    neg = torch.tensor([6, 7, 2, 3, 4])
    pos_logit = (hidden * weight[targets]).sum(1)
    neg_logit = (hidden * weight[neg]).sum(1)
    want = torch.stack([-torch.log(torch.sigmoid(p)) - torch.log(1 - torch.sigmoid(q))
                        for p, q in zip(pos_logit, neg_logit, strict=True)]).mean()  # fmt: skip
    torch.testing.assert_close(next_item_loss(hidden, targets, weight, "bce", neg), want)
    # sampled softmax: the target against its negatives, a negative equal to the target left out
    negs = torch.tensor([[6, 7, 2], [3, 8, 9], [4, 4, 2], [6, 6, 6], [2, 3, 4]])
    rows = []
    for h, t, ns in zip(hidden, targets, negs, strict=True):
        logits = [float(h @ weight[t])] + [float(h @ weight[j]) for j in ns if j != t]
        rows.append(-(logits[0] - math.log(sum(math.exp(v) for v in logits))))
    got = next_item_loss(hidden, targets, weight, "sampled_softmax", negs)
    assert float(got) == pytest.approx(sum(rows) / len(rows), rel=1e-9)
    # weights: a weighted mean of the per-position losses
    w = torch.tensor([1.0, 0.0, 0.5, 2.0, 1.0], dtype=torch.double)
    per = torch.stack([next_item_loss(hidden[i : i + 1], targets[i : i + 1], weight, "bce", neg[i : i + 1])
                       for i in range(5)])  # fmt: skip
    got = next_item_loss(hidden, targets, weight, "bce", neg, w)
    torch.testing.assert_close(got, (per * w).sum() / w.sum())


# -- negatives never hit the positive or the history -------------------------------------------
def test_bce_negatives_avoid_every_item_of_their_row():
    """The rejection step: with 6 items per row in a catalogue of 198, about 75 of 2,500 plain
    uniform draws would hit their row; after the redraws none does."""
    gen = torch.Generator().manual_seed(0)
    item_space = 200
    rows = torch.randint(C.N_RESERVED, item_space, (500, 6), generator=gen)
    rows[:50, :3] = C.PAD_ID  # padded rows
    neg = negatives_outside_rows(rows, 5, item_space, gen)
    assert neg.shape == (500, 5)
    assert bool(((neg >= C.N_RESERVED) & (neg < item_space)).all())
    assert not bool((neg.unsqueeze(-1) == rows.unsqueeze(1)).any())
    plain = uniform_items((500, 5), item_space, torch.Generator().manual_seed(0))
    assert int((plain.unsqueeze(-1) == rows.unsqueeze(1)).any(-1).sum()) > 30  # the check has power


def _long_histories(n_users: int, n_items: int, seed: int) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        catalogue = np.arange(C.N_RESERVED, C.N_RESERVED + n_items)
        chosen = rng.choice(catalogue, size=int(rng.integers(5, 9)), replace=False)
        users += [user] * len(chosen)
        items += chosen.tolist()
    return Interactions.from_arrays(users, items)


def test_sasrec_bce_negatives_are_never_the_target_nor_in_the_sequence(monkeypatch):
    """What SASRec's BCE loss gets: each position's negative is neither its target nor any item
    of the training row (history and targets)."""
    from recaug.models import SASRec, sequential

    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    drawn: list[tuple[torch.Tensor, torch.Tensor]] = []
    loss, sampler = sequential.next_item_loss, sequential.negatives_outside_rows

    def recording_loss(hidden, targets, item_weight, kind, negatives=None, weights=None):
        seen.append((targets.clone(), negatives.clone()))
        return loss(hidden, targets, item_weight, kind, negatives, weights)

    def recording_sampler(rows, n_cols, item_space, generator, **kw):
        neg = sampler(rows, n_cols, item_space, generator, **kw)
        drawn.append((rows.clone(), neg.clone()))
        return neg

    monkeypatch.setattr(sequential, "next_item_loss", recording_loss)
    monkeypatch.setattr(sequential, "negatives_outside_rows", recording_sampler)
    train = _long_histories(200, 100, seed=1)
    SASRec(hidden=8, n_layers=1, n_heads=1, max_len=8, epochs=1, batch_size=64, loss="bce", device="cpu",
           progress=False, threads=1).fit(train, item_space=C.N_RESERVED + 100)  # fmt: skip
    targets = torch.cat([t for t, _ in seen])
    negatives = torch.cat([n for _, n in seen])
    assert len(targets) == len(train) - train.n_users  # every next-item position of every row
    assert not bool((negatives == targets).any())
    for rows, neg in drawn:
        real = rows.unsqueeze(1) != C.PAD_ID
        assert not bool(((neg.unsqueeze(-1) == rows.unsqueeze(1)) & real).any())


def test_bpr_negatives_are_items_the_user_never_had(monkeypatch):
    """BPR's (user, positive, negative) triples: the negative is never one of the user's items."""
    from recaug.models import BPRMF

    new_module = BPRMF._new_module
    users: list[torch.Tensor] = []
    items: list[torch.Tensor] = []

    def hooked(self):
        net = new_module(self)
        net.user_embedding.register_forward_hook(lambda _m, args, _out: users.append(args[0].clone()))
        net.item_embedding.register_forward_hook(lambda _m, args, _out: items.append(args[0].clone()))
        return net

    monkeypatch.setattr(BPRMF, "_new_module", hooked)
    train = _long_histories(200, 100, seed=2)
    BPRMF(dim=4, epochs=1, batch_size=128, device="cpu", progress=False, threads=1).fit(
        train, item_space=C.N_RESERVED + 100
    )
    assert len(items) == 2 * len(users)  # per batch: the positives, then the negatives
    u = torch.cat(users)
    positives = torch.cat(items[0::2])
    negatives = torch.cat(items[1::2])
    had = set(zip(train.users.tolist(), train.items.tolist(), strict=True))
    assert len(u) == len(train) and {(int(a), int(b)) for a, b in zip(u, positives, strict=True)} == had
    hits = [(int(a), int(b)) for a, b in zip(u, negatives, strict=True) if (int(a), int(b)) in had]
    assert not hits, f"{len(hits)} negatives are items the user had, e.g. {hits[:3]}"
