"""``Deduplicate``: drop exact duplicate rows and/or consecutive repeats of the same item."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, DataError
from recaug.preprocess.base import Step, time_sorted, with_frame

_MODES = ("exact", "consecutive", "both")
_KEEP = ("first", "last", "strongest")


@dataclass(frozen=True)
class Deduplicate(Step):
    """Remove duplicate interactions.

    * ``mode="exact"``: rows equal on ``subset`` (default ``user_id, item_id, timestamp`` and
      ``event`` when present) are reduced to one.
    * ``mode="consecutive"``: in each user's time-ordered sequence, a run of the same item
      (``A A A B A`` -> ``A B A``) is reduced to one row, whatever the event of each row.
    * ``mode="both"``: exact first, then consecutive.

    ``keep`` says which row of a group survives (``"first"`` or ``"last"`` in time order, or
    ``"strongest"``: in a consecutive run the row with the strongest event survives, e.g. the
    buy of a view -> cart -> buy run, first on ties; falls back to ``"first"`` without events
    and for exact duplicates).
    """

    name: ClassVar[str] = "dedup"

    mode: str = "exact"
    keep: str = "first"
    subset: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ConfigError(f"dedup: mode must be one of {_MODES}, got {self.mode!r}")
        if self.keep not in _KEEP:
            raise ConfigError(f"dedup: keep must be one of {_KEEP}, got {self.keep!r}")
        if self.subset is not None:
            object.__setattr__(self, "subset", tuple(self.subset))

    def describe(self) -> str:
        what = {"exact": "exact duplicate rows", "consecutive": "consecutive repeats of an item",
                "both": "exact duplicate rows and consecutive repeats of an item"}[self.mode]
        return f"dedup: drop {what}, keeping the {self.keep}"

    def _exact_subset(self, frame: pl.DataFrame) -> list[str]:
        if self.subset is None:
            return [c for c in (C.USER, C.ITEM, C.TIME, C.EVENT) if c in frame.columns]
        missing = [c for c in self.subset if c not in frame.columns]
        if missing:
            raise DataError(
                f"dedup subset names column(s) {missing} the interactions lack; have {frame.columns}",
                column=missing[0],
                expected="columns present in the interactions",
            )
        return list(self.subset)

    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        frame = time_sorted(dataset.interactions.frame)
        dropped: dict[str, int] = {}
        if self.mode in ("exact", "both"):
            subset = self._exact_subset(frame)
            n = len(frame)
            keep = "first" if self.keep == "strongest" else self.keep
            frame = frame.unique(subset=subset, keep=keep, maintain_order=True)
            dropped["exact_duplicate"] = n - len(frame)
        if self.mode in ("consecutive", "both"):
            users = frame.get_column(C.USER).to_numpy()
            items = frame.get_column(C.ITEM).to_numpy()
            same = (users[1:] == users[:-1]) & (items[1:] == items[:-1])
            drop = np.zeros(len(frame), dtype=bool)
            if self.keep == "strongest" and C.EVENT in frame.columns:
                drop = _weaker_in_run(frame, same)
            elif self.keep in ("first", "strongest"):
                drop[1:] = same
            else:
                drop[:-1] = same
            n_drop = int(drop.sum())
            if n_drop:
                frame = frame.filter(pl.Series(~drop))
            dropped["consecutive_repeat"] = n_drop
        return with_frame(dataset, frame), dropped, {}


def _weaker_in_run(frame: pl.DataFrame, same_as_previous: np.ndarray) -> np.ndarray:
    """Drop mask keeping, in every run of consecutive same-item rows, the strongest event (first on ties)."""
    from recaug.preprocess.events import DEFAULT_EVENT_WEIGHTS

    run = np.cumsum(np.r_[True, ~same_as_previous]) - 1
    strength = (
        frame.get_column(C.EVENT)
        .replace_strict(DEFAULT_EVENT_WEIGHTS, default=0.0, return_dtype=pl.Float64)
        .fill_null(0.0)
        .to_numpy()
    )
    starts = np.flatnonzero(np.r_[True, ~same_as_previous])
    best = np.maximum.reduceat(strength, starts) if len(starts) else strength
    is_best = strength == best[run]
    # first row reaching the run's best strength survives
    idx = np.arange(len(frame))
    first_best = np.full(len(starts), len(frame))
    np.minimum.at(first_best, run[is_best], idx[is_best])
    keep = np.zeros(len(frame), dtype=bool)
    keep[first_best] = True
    return ~keep
