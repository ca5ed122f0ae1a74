"""RepPad for sequence-model training: fill each row's padding with repeats of its own pairs.

RepPad (Dang et al., RecSys 2024) uses the idle padding of a short training row: the row's
(input, target) pairs are repeated, separated by one delimiter pair (PAD input, PAD target,
so it adds no loss), a random number of extra times per epoch, so the model trains on the
same transitions with a longer context. It works on *pairs*, not on items: repeating the item
row itself (:class:`recaug.expand.RepeatPad`) would put the row's final target into the
context of its last copy, a trivial copy task. Only training rows are padded; the histories
scored at test time are left as they are.
"""

from __future__ import annotations

import torch

from recaug.models.contrastive import spans


def copies_that_fit(span: torch.Tensor, width: int) -> torch.Tensor:
    """Most copies of a ``span``-long row (with one delimiter between copies) in ``width`` columns."""
    return torch.where(span > 0, (width + 1) // (span + 1), 1).clamp_min(1)


def repeat_pad_pairs(
    inputs: torch.Tensor, targets: torch.Tensor, side: str, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """RepPad the aligned ``(B, L)`` input and target rows.

    ``u`` holds one uniform [0, 1) number per row that picks the number of extra copies
    uniformly from 1 to as many as fit (rows with no room are unchanged). A row's pairs are
    the columns from its first to its last non-PAD input; copies are laid out from the row's
    real end (the last column of left-padded rows, the first of right-padded ones).
    """
    width = inputs.shape[1]
    span = spans(inputs, side)
    most = copies_that_fit(span, width)
    extra = torch.minimum((u.to(torch.float64) * (most - 1)).floor().to(torch.int64) + 1, most - 1)
    copies = torch.where(most > 1, extra + 1, 1)
    # column offset from the row's real end, and which copy / position within a copy it falls on
    col = torch.arange(width).unsqueeze(0)
    offset = (width - 1 - col) if side == "left" else col
    period = (span + 1).unsqueeze(1)
    copy, pos = offset // period, offset % period
    filled = (copy < copies.unsqueeze(1)) & (pos < span.unsqueeze(1))
    source = (width - 1 - pos) if side == "left" else pos
    source = source.clamp(0, width - 1)
    new_x = torch.where(filled, torch.gather(inputs, 1, source), torch.zeros_like(inputs))
    new_y = torch.where(filled, torch.gather(targets, 1, source), torch.zeros_like(targets))
    return new_x, new_y
