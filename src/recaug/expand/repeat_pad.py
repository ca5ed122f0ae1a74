"""RepeatPad: fill the padding room of short sequences with repeats of themselves (RepPad)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug import columns as C
from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand.base import Operation
from recaug.expand.registry import register


@register
@dataclass(eq=False, repr=False)
class RepeatPad(Operation):
    """A row shorter than ``max_len`` becomes ``r`` copies of itself separated by ``gap`` PAD
    ids, with the largest ``r`` (at most ``max_repeats``) that fits in ``max_len``.

    The original row always comes last, so its final item (the training target) is unchanged.
    Earlier copies take the row's first timestamp, so time order holds. Deterministic.

    This is the *offline*, item-row form. The paper's method repeats the (input, target) pairs
    inside training with a fresh random number of copies each epoch: use
    ``SASRec(repeat_pad=True)`` / ``GRU4Rec(repeat_pad=True)`` (``recaug.models.reppad``) for that.
    On Beauty the in-training form scored higher (see benchmarks/README.md).
    """

    max_len: int = 50
    gap: int = 1
    max_repeats: int | None = None
    name: ClassVar[str] = "repeat_pad"

    def __post_init__(self) -> None:
        if int(self.max_len) < 1 or int(self.gap) < 0:
            raise ConfigError("max_len must be >= 1 and gap >= 0")
        if self.max_repeats is not None and int(self.max_repeats) < 1:
            raise ConfigError(f"max_repeats must be >= 1, got {self.max_repeats}")

    def describe(self) -> str:
        sep = f" separated by {self.gap} PAD" if self.gap else ""
        return (
            f"RepeatPad: repeat sequences shorter than {self.max_len}{sep} to fill {self.max_len} positions"
        )

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        lengths = seqs.lengths
        g = int(self.gap)
        period = lengths + g
        reps = np.where(
            (lengths > 0) & (lengths < self.max_len), (int(self.max_len) + g) // np.maximum(period, 1), 1
        )
        reps = np.maximum(reps, 1)
        if self.max_repeats is not None:
            reps = np.minimum(reps, int(self.max_repeats))
        out_len = np.where(lengths > 0, reps * lengths + (reps - 1) * g, 0)
        offsets = csr.offsets_from_lengths(out_len)
        row = csr.row_of(offsets)
        p = csr.pos_in_row(offsets, row)
        q = p % np.maximum(period[row], 1)
        is_item = q < lengths[row]
        src = seqs.offsets[:-1][row] + np.where(is_item, q, 0)
        items = np.where(is_item, seqs.items[src] if len(src) else src, C.PAD_ID).astype(np.int32)
        ts = None
        if seqs.timestamps is not None:
            last_copy = p >= (out_len - lengths)[row]
            ts = np.where(last_copy, seqs.timestamps[src], seqs.timestamps[seqs.offsets[:-1][row]])
        return Sequences(offsets, items, seqs.users, ts, np.empty(len(seqs), dtype=object)), None
