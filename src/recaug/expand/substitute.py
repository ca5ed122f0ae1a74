"""Substitute: replace items with random or correlated items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug import columns as C
from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.expand import _csr
from recaug.expand._replacement import ItemSourceOperation
from recaug.expand._streams import PURPOSE_POS, PURPOSE_VAL, position_uniform
from recaug.expand.base import check_fraction
from recaug.expand.registry import register
from recaug.expand.similarity import ItemSimilarity


@register
@dataclass(eq=False, repr=False)
class Substitute(ItemSourceOperation):
    """Replace ``max(1, floor(rate * len))`` distinct random real items of each row.

    ``mode="correlated"`` (CoSeRec's substitute, ``top_k=1``): each chosen item becomes a
    neighbour from an item-similarity model fitted on training data, and stays unchanged when
    it has none. ``mode="random"``: uniformly random real items. PAD/MASK entries are never
    touched; length and timestamps are unchanged.
    """

    rate: float = 0.3
    mode: str = "correlated"
    top_k: int = 1
    similarity: ItemSimilarity | None = None
    item_space: int | None = None
    name: ClassVar[str] = "substitute"

    def __post_init__(self) -> None:
        check_fraction("rate", self.rate)
        self._validate_source()

    def describe(self) -> str:
        return f"Substitute: replace {self.rate:.0%} of the items (at least one) with {self._source_text()}"

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        lengths = seqs.lengths
        k = np.maximum(1, np.floor(self.rate * lengths + 1e-9).astype(np.int64))
        eligible = seqs.items >= C.N_RESERVED
        chosen = _csr.choose_k(seqs.offsets, k, state, PURPOSE_POS, eligible)
        where = np.flatnonzero(chosen)
        row = np.searchsorted(seqs.offsets, where, side="right") - 1
        old = seqs.items[where]
        new = self.new_items(old, position_uniform(state, row, where - seqs.offsets[row], PURPOSE_VAL))
        items = seqs.items.copy()
        items[where] = np.where(new >= C.N_RESERVED, new, old)
        return csr.with_items(seqs, items), None
