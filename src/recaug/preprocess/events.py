"""``EventFilter``: keep some event types and weight the rest (e.g. buy > cart > view)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, DataError
from recaug.preprocess.base import Step, require_column, with_frame

#: A common e-commerce weighting, for ``EventFilter(weights=DEFAULT_EVENT_WEIGHTS)``.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {"view": 1.0, "click": 1.0, "fav": 2.0, "cart": 3.0, "buy": 5.0}


@dataclass(frozen=True)
class EventFilter(Step):
    """Filter rows by ``event`` and/or add a ``weight`` column from a per-event table.

    ``keep``: event types to keep (None keeps all; rows with a null event are dropped when
    ``keep`` is given). ``weights``: event -> weight; every kept event must be in it unless
    ``default_weight`` is set, otherwise a :class:`DataError` names the unmapped events.
    """

    name: ClassVar[str] = "event_filter"

    keep: tuple[str, ...] | None = None
    weights: dict[str, float] | None = None
    default_weight: float | None = None

    def __post_init__(self) -> None:
        if self.keep is not None:
            if isinstance(self.keep, str) or not all(isinstance(k, str) for k in self.keep):
                raise ConfigError(f"event_filter: keep must be a list of event names, got {self.keep!r}")
            object.__setattr__(self, "keep", tuple(self.keep))
        if self.weights is not None:
            if not isinstance(self.weights, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in self.weights.values()
            ):
                raise ConfigError(f"event_filter: weights must map event -> number, got {self.weights!r}")
            object.__setattr__(self, "weights", {str(k): float(v) for k, v in self.weights.items()})
        if self.keep is None and self.weights is None:
            raise ConfigError("event_filter: give keep, weights or both")

    def __hash__(self) -> int:  # weights is a dict; hash the settings' text
        return hash(repr(self))

    def describe(self) -> str:
        parts = []
        if self.keep is not None:
            parts.append(f"keep events {list(self.keep)}")
        if self.weights is not None:
            order = sorted(self.weights.items(), key=lambda kv: -kv[1])
            parts.append("weight " + ", ".join(f"{k}={v:g}" for k, v in order))
        return "event_filter: " + "; ".join(parts)

    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        frame = dataset.interactions.frame
        require_column(frame, C.EVENT, "event_filter", "an event column (view, cart, buy ...)")
        dropped: dict[str, int] = {}
        if self.keep is not None:
            n = len(frame)
            frame = frame.filter(pl.col(C.EVENT).is_in(list(self.keep)))
            dropped["event_not_kept"] = n - len(frame)
        if self.weights is not None:
            weight = pl.col(C.EVENT).replace_strict(
                list(self.weights), list(self.weights.values()),
                default=self.default_weight, return_dtype=pl.Float32,
            )
            if self.default_weight is None:
                unmapped = frame.filter(~pl.col(C.EVENT).is_in(list(self.weights)) | pl.col(C.EVENT).is_null())
                if len(unmapped):
                    values = unmapped.get_column(C.EVENT).unique().sort(nulls_last=True).to_list()
                    raise DataError(
                        f"{len(unmapped)} row(s) have event(s) without a weight: {values[:10]}",
                        column=C.EVENT,
                        expected=f"one of {list(self.weights)} (or set default_weight)",
                    )
            frame = frame.with_columns(weight.alias(C.WEIGHT))
        return with_frame(dataset, frame), dropped, {}
