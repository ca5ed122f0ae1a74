"""``MinLength``: drop users whose history is too short to learn from or to evaluate on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError
from recaug.preprocess.base import Step, with_frame


@dataclass(frozen=True)
class MinLength(Step):
    """Keep only users with at least ``n`` interactions (one pass; see :class:`KCore` for the iterative version)."""

    name: ClassVar[str] = "min_length"

    n: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 0:
            raise ConfigError(f"min_length: n must be an integer >= 0, got {self.n!r}")

    def describe(self) -> str:
        return f"min_length: drop users with fewer than {self.n} interactions"

    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        frame = dataset.interactions.frame
        users = frame.get_column(C.USER).to_numpy()
        if self.n <= 1 or not len(users):
            return with_frame(dataset, frame), {"user_too_short": 0}, {}
        keep = np.bincount(users)[users] >= self.n
        n_drop = int(len(keep) - keep.sum())
        out = frame.filter(pl.Series(keep)) if n_drop else frame
        return with_frame(dataset, out), {"user_too_short": n_drop}, {}
