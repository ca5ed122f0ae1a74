"""TimeJitter: perturb timestamps while keeping each sequence's time order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand._streams import PURPOSE_AUX, position_uniform
from recaug.expand.base import Operation
from recaug.expand.registry import register


@register
@dataclass(eq=False, repr=False)
class TimeJitter(Operation):
    """Shift every timestamp by a uniform integer in ``[-max_shift, max_shift]``, then take the
    running maximum within each row so timestamps stay non-decreasing in item order.

    Items are untouched; rows without timestamps pass through unchanged.
    """

    max_shift: int = 3600
    name: ClassVar[str] = "time_jitter"

    def __post_init__(self) -> None:
        if int(self.max_shift) < 0:
            raise ConfigError(f"max_shift must be >= 0, got {self.max_shift}")

    def describe(self) -> str:
        return f"TimeJitter: shift timestamps by up to ±{self.max_shift} and keep them in order"

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        if seqs.timestamps is None or len(seqs.items) == 0:
            return csr.with_items(seqs, seqs.items), None
        row = csr.row_of(seqs.offsets)
        pos = csr.pos_in_row(seqs.offsets, row)
        width = 2 * int(self.max_shift) + 1
        shift = (position_uniform(state, row, pos, PURPOSE_AUX) * width).astype(np.int64) - int(
            self.max_shift
        )
        ts = seqs.timestamps + shift
        # segmented running max: lift each row above the previous one, accumulate, lower back
        nonempty = seqs.lengths > 0
        lo = np.zeros(len(seqs), dtype=np.int64)
        hi = np.zeros(len(seqs), dtype=np.int64)
        lo[nonempty] = np.minimum.reduceat(ts, seqs.offsets[:-1][nonempty])
        hi[nonempty] = np.maximum.reduceat(ts, seqs.offsets[:-1][nonempty])
        span = np.where(nonempty, hi - lo + 1, 0)
        lift = np.cumsum(span) - span - lo
        ts = np.maximum.accumulate(ts + lift[row]) - lift[row]
        return csr.with_items(seqs, seqs.items, ts), None
