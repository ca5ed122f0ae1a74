"""Insert: add random or correlated items into each sequence."""

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
class Insert(ItemSourceOperation):
    """Insert ``max(1, floor(rate * len))`` items, each right before a distinct random position.

    ``mode="correlated"`` (CoSeRec's insert) inserts a neighbour of the item it precedes from
    an item-similarity model fitted on training data (the item itself is repeated when it has
    no neighbour); ``mode="random"`` inserts uniformly random real items. Inserted items take
    the timestamp of the item they precede.
    """

    rate: float = 0.3
    mode: str = "correlated"
    top_k: int = 1
    similarity: ItemSimilarity | None = None
    item_space: int | None = None
    name: ClassVar[str] = "insert"

    def __post_init__(self) -> None:
        check_fraction("rate", self.rate)
        self._validate_source()

    def describe(self) -> str:
        return (
            f"Insert: add {self.rate:.0%} more items (at least one), each {self._source_text()} it precedes"
        )

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        lengths = seqs.lengths
        k = np.where(lengths > 0, np.maximum(1, np.floor(self.rate * lengths + 1e-9).astype(np.int64)), 0)
        chosen = _csr.choose_k(seqs.offsets, k, state, PURPOSE_POS)
        where = np.flatnonzero(chosen)
        anchors = seqs.items[where]
        row = np.searchsorted(seqs.offsets, where, side="right") - 1
        u = position_uniform(state, row, where - seqs.offsets[row], PURPOSE_VAL)
        new = self.new_items(anchors, u)
        bad = new < C.N_RESERVED  # no neighbour, or the anchor itself is PAD/MASK
        if bad.any():
            fallback = np.where(anchors >= C.N_RESERVED, anchors, self._fallback(u))
            new = np.where(bad, fallback, new)
        return csr.insert_before(seqs, chosen, new), None

    def _fallback(self, u: np.ndarray) -> np.ndarray:
        space = self.similarity.item_space_ if self.mode == "correlated" else self._space()  # type: ignore[union-attr]
        n_real = max(int(space) - C.N_RESERVED, 1)  # type: ignore[arg-type]
        return (C.N_RESERVED + np.minimum((u * n_real).astype(np.int64), n_real - 1)).astype(np.int32)
