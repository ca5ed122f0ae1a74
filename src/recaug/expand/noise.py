"""Noise: random item replacement or insertion at a per-position rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug import columns as C
from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand._replacement import ItemSourceOperation
from recaug.expand._streams import PURPOSE_POS, PURPOSE_VAL, position_bits, position_uniform
from recaug.expand.base import check_fraction, check_item_space
from recaug.expand.registry import register


@register
@dataclass(eq=False, repr=False)
class Noise(ItemSourceOperation):
    """Every real item independently, with probability ``rate``, is replaced by (``"replace"``)
    or preceded by (``"insert"``) a uniformly random real item: the noisy-interaction model.

    Needs the item code space: ``item_space`` here, or ``fit(train)`` learns it.
    """

    rate: float = 0.1
    kind: str = "replace"
    item_space: int | None = None
    name: ClassVar[str] = "noise"
    nested: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        check_fraction("rate", self.rate)
        check_item_space(self.item_space)
        if self.kind not in ("replace", "insert"):
            raise ConfigError(f"kind must be 'replace' or 'insert', got {self.kind!r}")
        self.mode, self.top_k, self.similarity = "random", 1, None
        self.item_space_ = None

    def describe(self) -> str:
        verb = "replace" if self.kind == "replace" else "insert before"
        return f"Noise: {verb} each item with probability {self.rate:.0%} by a uniformly random item"

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        row = csr.row_of(seqs.offsets)
        pos = csr.pos_in_row(seqs.offsets, row)
        bits = position_bits(state, row, pos, PURPOSE_POS)
        threshold = np.uint64(min(int(self.rate * 2.0**64), 2**64 - 1))
        hit = (bits < threshold) & (seqs.items >= C.N_RESERVED)
        where = np.flatnonzero(hit)
        new = self.random_items(position_uniform(state, row[where], pos[where], PURPOSE_VAL))
        if self.kind == "insert":
            return csr.insert_before(seqs, hit, new), None
        items = seqs.items.copy()
        items[where] = new
        return csr.with_items(seqs, items), None
