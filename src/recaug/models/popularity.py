"""``Popularity``: every user gets the most-interacted items (the baseline every model must beat)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.models.base import Recommender, register
from recaug.models.inputs import finish_scores, item_counts


@register
class Popularity(Recommender):
    """Score = number of training interactions of the item (the same for every user).

    With a ``weight`` column the score is the item's summed weight instead.
    """

    name = "pop"

    def __init__(self, *, seed: int = 0, device: str = "auto") -> None:
        super().__init__(seed=seed, device=device)
        self.counts_: torch.Tensor | None = None
        self.history_: list[dict[str, Any]] = []

    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, item_space: int | None = None
    ) -> Popularity:
        """Count interactions per item (sum of weights, when there is a ``weight`` column)."""
        self.item_space_ = self._item_space(train, valid, item_space)
        counts = item_counts(train, self.item_space_, weighted=True)
        self.counts_ = torch.from_numpy(counts.astype(np.float32))
        return self

    def _score_all(self, histories: Sequences) -> torch.Tensor:
        """The popularity row, repeated for every history row."""
        self._check_fitted()
        assert self.counts_ is not None
        return finish_scores(self.counts_.expand(len(histories), -1).clone())

    def state_dict(self) -> dict[str, Any]:
        """``{"counts": tensor}``."""
        return {"counts": self.counts_}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`."""
        self.counts_ = state["counts"].float()
