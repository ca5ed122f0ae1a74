"""The search towers' fast paths equal their plain references (value and gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from recaug.models.losses import next_item_loss
from recaug.search.towers import fused_softmax_ce, text_mean_matrix


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("chunk_rows", [1, 3, None])
def test_fused_softmax_ce_equals_the_plain_loss_and_its_gradients(weighted: bool, chunk_rows: int | None) -> None:
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(7, 5, generator=g, dtype=torch.float64)
    items = torch.randn(13, 5, generator=g, dtype=torch.float64)
    targets = torch.randint(2, 13, (7,), generator=g)
    weights = torch.rand(7, generator=g, dtype=torch.float64) if weighted else None
    h1, i1 = hidden.clone().requires_grad_(), items.clone().requires_grad_()
    h2, i2 = hidden.clone().requires_grad_(), items.clone().requires_grad_()
    reference = next_item_loss(h1, targets, i1, "ce", weights=weights)
    fused = fused_softmax_ce(h2, i2, targets, weights, chunk_rows=chunk_rows)
    (3.0 * reference).backward()
    (3.0 * fused).backward()
    assert torch.allclose(fused, reference, atol=1e-10)
    assert torch.allclose(h2.grad, h1.grad, atol=1e-10)
    assert torch.allclose(i2.grad, i1.grad, atol=1e-10)
    assert torch.all(i2.grad[:2] == 0)  # PAD and MASK are never candidates


def test_text_mean_matrix_is_the_mean_word_embedding() -> None:
    offsets = torch.tensor([0, 2, 2, 5])  # item 1 has no words; item 2 repeats word 4
    ids = torch.tensor([1, 3, 4, 4, 2])
    terms = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    got = text_mean_matrix(offsets, ids, 6) @ terms
    want = F.embedding_bag(ids, terms, offsets[:-1], mode="mean")
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.all(got[1] == 0)
