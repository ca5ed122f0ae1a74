"""Where new items come from for Insert / Substitute / Noise (internal).

``mode="random"``: uniform over real item codes ``2 .. item_space-1`` (``item_space`` given, or
learned by ``fit`` as ``max training code + 1``). ``mode="correlated"``: a neighbour drawn from
the top ``top_k`` of an :class:`~recaug.expand.similarity.ItemSimilarity` fitted on training
data only (PAD_ID where an item has no neighbour; callers decide the fallback).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand.base import Operation, check_item_space, training_item_space
from recaug.expand.similarity import ItemSimilarity

MODES = ("random", "correlated")


class ItemSourceOperation(Operation):
    """Base of operations that emit new item codes (dataclass fields defined by subclasses)."""

    mode: str
    top_k: int
    similarity: ItemSimilarity | None
    item_space: int | None
    nested: ClassVar[dict[str, str]] = {"similarity": "similarity"}

    def _validate_source(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        if int(self.top_k) < 1:
            raise ConfigError(f"top_k must be >= 1, got {self.top_k}")
        check_item_space(self.item_space)
        if self.mode == "correlated" and self.similarity is None:
            self.similarity = ItemSimilarity()
        if self.mode == "correlated" and self.similarity is not None and self.top_k > self.similarity.k:
            raise ConfigError(f"top_k={self.top_k} exceeds the similarity model's k={self.similarity.k}")
        self.item_space_: int | None = None

    def fit(self, train: Interactions | Sequences) -> ItemSourceOperation:
        """Fit the similarity model (correlated) or learn the item code space (random) from ``train``."""
        if self.mode == "correlated":
            assert self.similarity is not None
            self.similarity.fit(train)
        else:
            self.item_space_ = (
                int(self.item_space) if self.item_space is not None else training_item_space(train)
            )
        return self

    @property
    def is_fitted(self) -> bool:
        if self.mode == "correlated":
            return self.similarity is not None and self.similarity.is_fitted
        return self.item_space is not None or self.item_space_ is not None

    def _space(self) -> int:
        return int(self.item_space) if self.item_space is not None else int(self.item_space_)  # type: ignore[arg-type]

    def random_items(self, u: np.ndarray) -> np.ndarray:
        """Uniform real item codes from uniforms ``u``."""
        n_real = self._space() - C.N_RESERVED
        return (C.N_RESERVED + np.minimum((u * n_real).astype(np.int64), n_real - 1)).astype(np.int32)

    def new_items(self, anchors: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One new item per anchor item (PAD_ID when correlated and the anchor has no neighbour)."""
        if self.mode == "random":
            return self.random_items(u)
        assert self.similarity is not None
        return self.similarity.sample(anchors, u, self.top_k)

    def _source_text(self) -> str:
        if self.mode == "random":
            return "uniformly random items"
        assert self.similarity is not None
        return f"one of the top-{self.top_k} {self.similarity.method} neighbours of the item"
