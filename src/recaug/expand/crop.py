"""Crop: keep a random contiguous part of each sequence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.expand import _csr
from recaug.expand._streams import row_bits
from recaug.expand.base import Operation, check_fraction
from recaug.expand.registry import register


@register
@dataclass(eq=False, repr=False)
class Crop(Operation):
    """Keep a random contiguous window of ``max(1, floor(eta * len))`` items (CoSeRec's crop).

    Never lengthens a row; empty rows stay empty; timestamps follow their items.
    """

    eta: float = 0.6
    name: ClassVar[str] = "crop"

    def __post_init__(self) -> None:
        check_fraction("eta", self.eta)

    def describe(self) -> str:
        return f"Crop: keep a random contiguous {self.eta:.0%} of each sequence (at least one item)"

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        lengths = np.diff(seqs.offsets)
        keep = np.minimum(np.maximum((self.eta * lengths + 1e-9).astype(np.int64), 1), lengths)
        start = _csr.random_start(row_bits(state), lengths, keep)
        idx, offsets = csr.slice_index(seqs.offsets[:-1] + start, keep)
        return csr.gather(seqs, idx, offsets), None
