"""Next-item losses: the chunked full-softmax cross-entropy against PyTorch's own."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recaug import columns as C
from recaug.errors import ConfigError
from recaug.models.losses import next_item_loss, softmax_ce


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
