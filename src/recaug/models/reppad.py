"""RepPad for sequence-model training: fill each row's padding with repeats of its own pairs.

RepPad (Dang et al., RecSys 2024) uses the idle padding of a short training row: the row's
(input, target) pairs are repeated a random number of extra times per epoch (1 to
``width // length``, the last copy cut at the row's width), so the model trains on the same
transitions with a longer context. The paper's headline numbers (e.g. SASRec on Beauty,
NDCG@10 0.0312 -> 0.0415) repeat the pairs back to back; its variant with a delimiter puts
one (PAD input, PAD target) pair between copies (it adds no loss). Rows longer than half the
width are left as they are.

It works on *pairs*, not on items: repeating the item row itself
(:class:`recaug.expand.RepeatPad`) would put the row's final target into the context of its
last copy, a trivial copy task. Only training rows are padded; the histories scored at test
time are left as they are.
"""

from __future__ import annotations

import torch

from recaug.models.contrastive import spans


def extra_copies_allowed(span: torch.Tensor, width: int) -> torch.Tensor:
    """Most extra copies RepPad may add to a ``span``-long row: ``width // span``, or 0 when that is < 2."""
    most = torch.where(span > 0, width // span.clamp_min(1), 0)
    return torch.where(most >= 2, most, 0)


def repeat_pad_pairs(
    inputs: torch.Tensor, targets: torch.Tensor, side: str, u: torch.Tensor, delimiter: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """RepPad the aligned ``(B, L)`` input and target rows.

    ``u`` holds one uniform [0, 1) number per row that picks the number of extra copies
    uniformly from 1 to :func:`extra_copies_allowed` (rows without room are unchanged). A row's
    pairs are the columns from its first to its last non-PAD input; copies are laid out from the
    row's real end (the last column of left-padded rows, the first of right-padded ones), with one
    PAD pair between copies when ``delimiter``; whatever passes the row's width is cut.
    """
    width = inputs.shape[1]
    span = spans(inputs, side)
    most = extra_copies_allowed(span, width)
    extra = torch.minimum((u.to(torch.float64) * most).floor().to(torch.int64) + 1, most)
    copies = torch.where(most > 0, extra + 1, 1)
    # column offset from the row's real end, and which copy / position within a copy it falls on
    col = torch.arange(width).unsqueeze(0)
    offset = (width - 1 - col) if side == "left" else col
    period = (span + int(delimiter)).clamp_min(1).unsqueeze(1)
    copy, pos = offset // period, offset % period
    filled = (copy < copies.unsqueeze(1)) & (pos < span.unsqueeze(1))
    source = (width - 1 - pos) if side == "left" else pos
    source = source.clamp(0, width - 1)
    new_x = torch.where(filled, torch.gather(inputs, 1, source), torch.zeros_like(inputs))
    new_y = torch.where(filled, torch.gather(targets, 1, source), torch.zeros_like(targets))
    return new_x, new_y
