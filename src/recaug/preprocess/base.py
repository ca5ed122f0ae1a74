"""The ``Step`` contract every preprocessing step follows, and small shared helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, fields
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.errors import DataError


class Step(ABC):
    """One preprocessing step: settings in the constructor, the work in :meth:`apply`.

    Subclasses are frozen dataclasses and implement :meth:`_apply`, which returns the new
    dataset plus ``{reason: rows dropped}`` and optional ``info`` (iterations, counts ...).
    ``apply`` never modifies its input.
    """

    #: Name used in configs (``{"step": name, ...}``) and reports.
    name: ClassVar[str] = "step"

    def apply(self, dataset: Dataset) -> Dataset:
        """Return a new dataset with this step applied."""
        return self._apply(dataset)[0]

    @abstractmethod
    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        """The work: (new dataset, rows dropped per reason, extra info)."""

    @abstractmethod
    def describe(self) -> str:
        """One readable line saying what the step does with its settings."""

    def to_config(self) -> dict[str, Any]:
        """The ``{"step": name, **settings}`` dict that :meth:`Preprocessor.from_config` reads back."""
        return {"step": self.name, **asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def config_keys(cls) -> list[str]:
        """Settings accepted by the constructor."""
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]


def is_time_sorted(frame: pl.DataFrame) -> bool:
    """True when rows are in (user_id, timestamp) order (an O(n) check, no sort)."""
    if len(frame) < 2:
        return True
    u = frame.get_column(C.USER).to_numpy()
    t = frame.get_column(C.TIME).to_numpy()
    du = np.diff(u)
    if (du < 0).any():
        return False
    return bool(((du > 0) | (np.diff(t) >= 0)).all())


def time_sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in (user_id, timestamp) order, ties in input order; no copy when already sorted."""
    if is_time_sorted(frame):
        return frame
    return frame.sort([C.USER, C.TIME], maintain_order=True)


def with_frame(dataset: Dataset, frame: pl.DataFrame) -> Dataset:
    """A new ``Dataset`` sharing vocabulary and side tables, with new interaction rows."""
    return Dataset(
        Interactions(frame, sort=False), dataset.vocab, dataset.items, dataset.users, name=dataset.name,
        time_kind=dataset.time_kind,
    )


def require_column(frame: pl.DataFrame, column: str, step: str, expected: str) -> None:
    """Raise :class:`DataError` naming ``column`` when the interactions lack it."""
    if column not in frame.columns:
        raise DataError(
            f"{step} needs column {column!r}; interactions have {frame.columns}",
            column=column,
            expected=expected,
        )
