"""Next-item losses over hidden states and a shared item embedding, and bulk negative sampling.

* ``"ce"``: full softmax over every item (PAD/MASK excluded); on CPU, batches whose logits would
  exceed `CHUNKED_ABOVE` floats are computed over chunks of rows (`softmax_ce`).
* ``"bce"``: one sampled negative per position, binary cross-entropy (the SASRec/S3Rec setting).
* ``"sampled_softmax"``: softmax over the target and ``n_negatives`` sampled items per position
  (negatives equal to the target are masked out).

``info_nce`` is the contrastive (NT-Xent) loss of CL4SRec / DuoRec over two batches of views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from recaug import columns as C
from recaug.errors import ConfigError

LOSSES = ("bce", "ce", "sampled_softmax")
#: floats in one chunk of logits in `softmax_ce` (4 MB): small enough to be reused from the heap
CHUNK_ELEMENTS = 1 << 20
#: CPU logits larger than this many floats (1 GB) go through `softmax_ce`: below it the plain
#: form is faster on a free core (``benchmarks/ce_loss_speed.py``), above it memory decides
CHUNKED_ABOVE = 1 << 28


def check_loss(loss: str, n_negatives: int) -> None:
    """Raise ``ConfigError`` for an unknown loss or a bad number of negatives."""
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss == "sampled_softmax" and n_negatives < 1:
        raise ConfigError("sampled_softmax needs n_negatives >= 1")


def uniform_items(shape: tuple[int, ...], item_space: int, generator: torch.Generator) -> torch.Tensor:
    """Item codes drawn uniformly from ``[2, item_space)`` (CPU int64)."""
    return torch.randint(C.N_RESERVED, max(item_space, C.N_RESERVED + 1), shape, generator=generator)


def negatives_outside_rows(
    rows: torch.Tensor, n_cols: int, item_space: int, generator: torch.Generator, *, rounds: int = 4
) -> torch.Tensor:
    """``(B, n_cols)`` negatives, each avoiding every item of its row of ``rows`` (B, L).

    Vectorised rejection: collisions are redrawn ``rounds`` times (a leftover collision after
    that is kept; it only happens when a row covers almost the whole catalogue).
    """
    neg = uniform_items((rows.shape[0], n_cols), item_space, generator)
    for _ in range(rounds):
        clash = (neg.unsqueeze(-1) == rows.unsqueeze(1)).any(-1)
        n = int(clash.sum())
        if n == 0:
            break
        neg[clash] = uniform_items((n,), item_space, generator)
    return neg


def next_item_loss(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    item_weight: torch.Tensor,
    loss: str,
    negatives: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean loss of ``hidden`` (N, d) predicting ``targets`` (N,) with item vectors ``item_weight``.

    ``negatives`` is (N,) for ``"bce"`` and (N, n) for ``"sampled_softmax"``; unused for ``"ce"``.
    ``weights`` (N,), optional: each position's share of the loss (a weighted mean), e.g. the
    fuser's down-weighted synthetic rows as targets.
    """
    if hidden.shape[0] == 0:
        return hidden.sum() * 0.0
    if loss == "ce":
        # PAD/MASK are never candidates: score real items only (no -inf fill, no extra copy)
        items = item_weight[C.N_RESERVED :]
        if hidden.device.type == "cpu" and hidden.shape[0] * items.shape[0] > CHUNKED_ABOVE:
            per_position = softmax_ce(hidden, items, targets - C.N_RESERVED)
        else:  # one matrix product: faster on a free core, and on CUDA (its allocator reuses memory)
            per_position = F.cross_entropy(hidden @ items.T, targets - C.N_RESERVED, reduction="none")
    elif loss in ("bce", "sampled_softmax"):
        assert negatives is not None
        pos = (hidden * item_weight[targets]).sum(-1)
        if loss == "bce":
            neg = (hidden * item_weight[negatives]).sum(-1)
            per_position = -(F.logsigmoid(pos) + F.logsigmoid(-neg))
        else:
            neg = torch.einsum("nd,nkd->nk", hidden, item_weight[negatives])
            neg = neg.masked_fill(negatives == targets.unsqueeze(1), -torch.inf)
            logits = torch.cat([pos.unsqueeze(1), neg], dim=1)
            per_position = F.cross_entropy(logits, torch.zeros_like(targets), reduction="none")
    else:
        raise ConfigError(f"loss must be one of {LOSSES}, got {loss!r}")
    if weights is None:
        return per_position.mean()
    weights = weights.to(per_position)
    return (per_position * weights).sum() / weights.sum().clamp_min(1e-12)


class _ChunkedSoftmaxCE(torch.autograd.Function):
    """Per-row ``logsumexp(h @ items.T) - h · items[target]``, a chunk of rows at a time.

    The backward pass recomputes each chunk's logits instead of keeping them: one more matrix
    product, but no (rows × items) matrix is ever allocated.
    """

    @staticmethod
    def forward(ctx: object, hidden: torch.Tensor, items: torch.Tensor, targets: torch.Tensor,
                rows: int) -> torch.Tensor:  # fmt: skip
        n = hidden.shape[0]
        lse = hidden.new_empty(n)
        buf = hidden.new_empty(min(rows, n), items.shape[0])
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            logits = torch.mm(hidden[start:stop], items.T, out=buf[: stop - start])
            lse[start:stop] = torch.logsumexp(logits, dim=1)
        ctx.save_for_backward(hidden, items, targets, lse)
        ctx.rows = rows
        return lse - (hidden * items[targets]).sum(1)

    @staticmethod
    @once_differentiable
    def backward(ctx: object, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        hidden, items, targets, lse = ctx.saved_tensors
        need_hidden, need_items = ctx.needs_input_grad[:2]
        grad_hidden = torch.empty_like(hidden) if need_hidden else None
        grad_items = torch.zeros_like(items) if need_items else None
        n, rows = hidden.shape[0], ctx.rows
        buf = hidden.new_empty(min(rows, n), items.shape[0])
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            d_logits = torch.mm(hidden[start:stop], items.T, out=buf[: stop - start])
            d_logits.sub_(lse[start:stop, None]).exp_()  # softmax
            d_logits[torch.arange(stop - start), targets[start:stop]] -= 1.0  # minus the one-hot target
            d_logits.mul_(grad[start:stop, None])
            if need_hidden:
                torch.mm(d_logits, items, out=grad_hidden[start:stop])
            if need_items:
                grad_items.addmm_(d_logits.T, hidden[start:stop])
        return grad_hidden, grad_items, None, None


def softmax_ce(
    hidden: torch.Tensor, items: torch.Tensor, targets: torch.Tensor, chunk_rows: int | None = None
) -> torch.Tensor:
    """Full-softmax cross-entropy per row: ``F.cross_entropy(hidden @ items.T, targets, reduction="none")``.

    Why: on CPU the plain form allocates the (rows × items) logits and their gradient afresh every
    step. Its page faults are cheap on a free core but cost more than the arithmetic when every core
    is busy (``benchmarks/ce_loss_speed.py``, Beauty: 0.16 s wall per step plain vs 0.22 s chunked
    on a free core, 0.59 s vs 0.30 s with two other processes running), and the matrix can outgrow
    memory for large catalogues. Here the logits live a chunk of ``chunk_rows`` rows at a time (default: about
    `CHUNK_ELEMENTS` floats), in a buffer the allocator reuses.
    """
    if chunk_rows is None:
        chunk_rows = max(1, CHUNK_ELEMENTS // max(items.shape[0], 1))
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if hidden.shape[0] == 0:
        return hidden.new_zeros(0) + 0.0 * hidden.sum()
    return _ChunkedSoftmaxCE.apply(hidden, items, targets, chunk_rows)


def info_nce(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    temperature: float = 1.0,
    *,
    same: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE (NT-Xent) with dot-product similarity and in-batch negatives.

    ``anchors[i]`` and ``positives[i]`` (both ``(N, d)``) are a positive pair; every other of
    the ``2N`` vectors is a negative of both, as in CL4SRec / DuoRec (``sim="dot"``). ``same``
    (optional ``(N, N)`` bool, symmetric) marks rows that must not be each other's negatives
    (DuoRec: sequences with the same target); the designated positive is always kept. Returns
    the mean over all ``2N`` rows of ``-log softmax`` of the positive.
    """
    n = anchors.shape[0]
    if n == 0:
        return anchors.sum() * 0.0
    z = torch.cat([anchors, positives])
    sim = z @ z.T / float(temperature)
    idx = torch.arange(2 * n, device=z.device)
    pos = (idx + n) % (2 * n)
    blocked = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    if same is not None:
        blocked = blocked | same.to(device=z.device, dtype=torch.bool).repeat(2, 2)
        blocked[idx, pos] = False
    return F.cross_entropy(sim.masked_fill(blocked, -torch.inf), pos)
