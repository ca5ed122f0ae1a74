"""``Interactions``: the long table of (user, item, time, ...) events every stage exchanges."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.errors import DataError

_DTYPES: dict[str, pl.DataType] = {
    C.USER: pl.Int32(),
    C.ITEM: pl.Int32(),
    C.TIME: pl.Int64(),
    C.SOURCE: pl.Utf8(),
    C.EVENT: pl.Utf8(),
    C.RATING: pl.Float32(),
    C.QUERY: pl.Utf8(),
    C.SESSION: pl.Int64(),
    C.WEIGHT: pl.Float32(),
    C.CATEGORY: pl.Utf8(),
}


class Interactions:
    """A Polars frame with canonical columns and dense int32 ``user_id``/``item_id`` codes.

    ``timestamp`` is an int64 (seconds since the epoch, or the position in the user's sequence
    for formats without time). ``source`` is ``"real"`` for logged rows and names the
    synthesizer or augmenter for anything else, so synthetic rows can always be removed.
    Rows are kept in (user, timestamp) order with ties in input order.
    """

    def __init__(self, frame: pl.DataFrame, *, sort: bool = True) -> None:
        frame = self._normalise(frame)
        if sort:
            frame = frame.sort([C.USER, C.TIME], maintain_order=True)
        self.frame = frame

    @staticmethod
    def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
        if C.SOURCE not in frame.columns:
            frame = frame.with_columns(pl.lit(C.REAL).alias(C.SOURCE))
        missing = [c for c in (C.USER, C.ITEM, C.TIME) if c not in frame.columns]
        if missing:
            raise DataError(
                f"interactions lack column(s) {missing}; have {frame.columns}",
                column=missing[0],
                expected="user_id, item_id and timestamp columns",
            )
        casts = []
        for name, dtype in _DTYPES.items():
            if name in frame.columns and frame.schema[name] != dtype:
                casts.append(pl.col(name).cast(dtype, strict=True))
        try:
            frame = frame.with_columns(casts) if casts else frame
        except Exception as exc:  # polars raises its own types; re-raise with the column named
            raise DataError(f"cannot convert interaction columns to canonical types: {exc}") from None
        for name in (C.USER, C.ITEM, C.TIME):
            nulls = frame.get_column(name).null_count()
            if nulls:
                row = int(frame.get_column(name).is_null().arg_true()[0])
                raise DataError(f"{nulls} null value(s)", row=row, column=name, expected="no nulls")
        if len(frame) and frame.get_column(C.ITEM).min() < C.N_RESERVED:
            raise DataError(
                "item code below 2 (0 = PAD and 1 = MASK are reserved)", column=C.ITEM, expected="codes >= 2"
            )
        return frame

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        users: Iterable[int] | np.ndarray,
        items: Iterable[int] | np.ndarray,
        timestamps: Iterable[int] | np.ndarray | None = None,
        **extra: Iterable | np.ndarray,
    ) -> Interactions:
        """Build from code arrays; timestamps default to the row position."""
        users = np.asarray(users, dtype=np.int32)
        items = np.asarray(items, dtype=np.int32)
        ts = np.arange(len(users), dtype=np.int64) if timestamps is None else np.asarray(timestamps, np.int64)
        data = {C.USER: users, C.ITEM: items, C.TIME: ts}
        data.update({k: np.asarray(v) if not isinstance(v, pl.Series) else v for k, v in extra.items()})
        return cls(pl.DataFrame(data))

    # -- views --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"Interactions(rows={len(self)}, users={self.n_users}, items={self.n_items})"

    @property
    def columns(self) -> list[str]:
        """Column names of the underlying frame."""
        return self.frame.columns

    @property
    def n_users(self) -> int:
        """Number of distinct users present."""
        return self.frame.get_column(C.USER).n_unique()

    @property
    def n_items(self) -> int:
        """Number of distinct items present."""
        return self.frame.get_column(C.ITEM).n_unique()

    def column(self, name: str) -> np.ndarray:
        """One column as a NumPy array."""
        return self.frame.get_column(name).to_numpy()

    @property
    def users(self) -> np.ndarray:
        """``user_id`` codes as int32."""
        return self.column(C.USER)

    @property
    def items(self) -> np.ndarray:
        """``item_id`` codes as int32."""
        return self.column(C.ITEM)

    @property
    def timestamps(self) -> np.ndarray:
        """``timestamp`` as int64."""
        return self.column(C.TIME)

    def real(self) -> Interactions:
        """Only the rows that came from real logs."""
        return Interactions(self.frame.filter(pl.col(C.SOURCE) == C.REAL), sort=False)

    def with_source(self, source: str) -> Interactions:
        """A copy with every row tagged ``source``."""
        return Interactions(self.frame.with_columns(pl.lit(source).alias(C.SOURCE)), sort=False)

    def filter(self, predicate: pl.Expr) -> Interactions:
        """Rows matching a Polars expression."""
        return Interactions(self.frame.filter(predicate), sort=False)

    def concat(self, other: Interactions) -> Interactions:
        """Rows of both (columns missing on one side become null)."""
        return Interactions(pl.concat([self.frame, other.frame], how="diagonal_relaxed"))

    def pairs(self) -> pl.DataFrame:
        """The distinct (user_id, item_id) pairs."""
        return self.frame.select(C.USER, C.ITEM).unique()

    def equals(self, other: Interactions) -> bool:
        """Same rows, same columns, same order."""
        return self.frame.equals(other.frame)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interactions) and self.equals(other)
