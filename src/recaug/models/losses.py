"""Next-item losses over hidden states and a shared item embedding, and bulk negative sampling.

* ``"ce"``: full softmax over every item (PAD/MASK excluded).
* ``"bce"``: one sampled negative per position, binary cross-entropy (the SASRec/S3Rec setting).
* ``"sampled_softmax"``: softmax over the target and ``n_negatives`` sampled items per position
  (negatives equal to the target are masked out).

``info_nce`` is the contrastive (NT-Xent) loss of CL4SRec / DuoRec over two batches of views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from recaug import columns as C
from recaug.errors import ConfigError

LOSSES = ("bce", "ce", "sampled_softmax")


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
        logits = hidden @ item_weight[C.N_RESERVED :].T
        per_position = F.cross_entropy(logits, targets - C.N_RESERVED, reduction="none")
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
