"""``TimeWindow``: keep interactions inside ``[start, end)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError
from recaug.preprocess.base import Step, with_frame
from recaug.timestamps import TimeLike, to_epoch_seconds


@dataclass(frozen=True)
class TimeWindow(Step):
    """Keep rows with ``start <= timestamp < end`` (either bound optional).

    Bounds are epoch seconds, ``datetime`` objects (naive means UTC) or ISO-8601 strings.
    """

    name: ClassVar[str] = "time_window"

    start: TimeLike | None = None
    end: TimeLike | None = None

    def __post_init__(self) -> None:
        lo = None if self.start is None else to_epoch_seconds(self.start, "time_window.start")
        hi = None if self.end is None else to_epoch_seconds(self.end, "time_window.end")
        if lo is not None and hi is not None and hi <= lo:
            raise ConfigError(f"time_window: end ({self.end}) must be after start ({self.start})")

    @property
    def bounds(self) -> tuple[int | None, int | None]:
        """``(start, end)`` in epoch seconds."""
        lo = None if self.start is None else to_epoch_seconds(self.start)
        hi = None if self.end is None else to_epoch_seconds(self.end)
        return lo, hi

    def describe(self) -> str:
        return f"time_window: keep {self.start if self.start is not None else '-inf'} <= t < " \
               f"{self.end if self.end is not None else '+inf'}"

    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        frame = dataset.interactions.frame
        lo, hi = self.bounds
        t = pl.col(C.TIME)
        counts = frame.select(
            (t < lo).sum().alias("before") if lo is not None else pl.lit(0).alias("before"),
            (t >= hi).sum().alias("after") if hi is not None else pl.lit(0).alias("after"),
        ).row(0)
        dropped = {"before_start": int(counts[0]), "after_end": int(counts[1])}
        if dropped["before_start"] or dropped["after_end"]:
            cond = pl.lit(True)
            if lo is not None:
                cond = cond & (t >= lo)
            if hi is not None:
                cond = cond & (t < hi)
            frame = frame.filter(cond)
        return with_frame(dataset, frame), dropped, {}
