"""Reorder: shuffle a random contiguous part of each sequence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.expand import _csr
from recaug.expand._streams import PURPOSE_POS, row_bits
from recaug.expand.base import Operation, check_fraction
from recaug.expand.registry import register


@register
@dataclass(eq=False, repr=False)
class Reorder(Operation):
    """Shuffle a random contiguous window of ``floor(beta * len)`` items (CoSeRec's reorder).

    Keeps the length and the multiset of items; timestamps stay at their positions, so a
    row's time order is unchanged.
    """

    beta: float = 0.6
    name: ClassVar[str] = "reorder"

    def __post_init__(self) -> None:
        check_fraction("beta", self.beta)

    def describe(self) -> str:
        return f"Reorder: shuffle a random contiguous {self.beta:.0%} of each sequence"

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        lengths = seqs.lengths
        seg = np.floor(self.beta * lengths + 1e-9).astype(np.int64)
        seg = np.where(seg >= 2, seg, 0)  # a window of one item cannot change anything
        start = _csr.random_start(row_bits(state), lengths, seg)
        items = seqs.items.copy()
        _csr.shuffle_segments(items, seqs.offsets[:-1] + start, seg, state, PURPOSE_POS)
        return csr.with_items(seqs, items), None
