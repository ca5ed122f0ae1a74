"""``Sequences``: per-user time-ordered item arrays in CSR form (offsets + values).

This is the form augmenters and sequential models work on: whole-array NumPy kernels over
``items`` with row boundaries in ``offsets``, never a Python list of lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import DataError

#: the order of a user's items in a row: by user, then time (ties keep the input order)
ROW_ORDER = (C.USER, C.TIME)


@dataclass(eq=False)
class Sequences:
    """Rows of item codes; row ``r`` is ``items[offsets[r]:offsets[r+1]]``.

    ``users[r]`` is the user the row came from (augmented rows keep their source user),
    ``source[r]`` says what made the row (``"real"`` or an operation name), ``timestamps``
    (optional) is aligned with ``items``.
    """

    offsets: np.ndarray
    items: np.ndarray
    users: np.ndarray
    timestamps: np.ndarray | None = None
    source: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        self.items = np.asarray(self.items, dtype=np.int32)
        self.users = np.asarray(self.users, dtype=np.int32)
        if self.timestamps is not None:
            self.timestamps = np.asarray(self.timestamps, dtype=np.int64)
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.items):
            raise DataError("CSR offsets must start at 0 and end at len(items)", column="offsets")
        if np.any(np.diff(self.offsets) < 0):
            raise DataError("CSR offsets must be non-decreasing", column="offsets")
        if len(self.users) != n:
            raise DataError(f"users has {len(self.users)} entries for {n} rows", column="users")
        if self.timestamps is not None and len(self.timestamps) != len(self.items):
            raise DataError("timestamps must align with items", column="timestamps")
        if self.source is None:
            self.source = np.full(n, C.REAL, dtype=object)
        else:
            self.source = np.asarray(self.source, dtype=object)
            if len(self.source) != n:
                raise DataError(f"source has {len(self.source)} entries for {n} rows", column="source")

    # -- conversions ----------------------------------------------------------------------
    @classmethod
    def from_interactions(cls, interactions: Interactions) -> Sequences:
        """One row per user, items in (timestamp, input) order; users in ascending code order."""
        frame = interactions.frame.sort(list(ROW_ORDER), maintain_order=True)
        users = frame.get_column(C.USER).to_numpy()
        items = frame.get_column(C.ITEM).to_numpy()
        ts = frame.get_column(C.TIME).to_numpy()
        if len(users):
            starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        offsets = np.r_[starts, len(users)].astype(np.int64)
        return cls(offsets=offsets, items=items, users=users[starts], timestamps=ts)

    @classmethod
    def from_lists(cls, rows: list[list[int]], users: list[int] | None = None) -> Sequences:
        """Convenience constructor for small hand-written data (tests, examples)."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        items = np.fromiter((i for r in rows for i in r), dtype=np.int32, count=int(lengths.sum()))
        users_arr = np.arange(len(rows)) if users is None else np.asarray(users)
        return cls(offsets=offsets, items=items, users=users_arr)

    def to_interactions(self) -> Interactions:
        """Long form; timestamps are kept when present, otherwise the position in the row."""
        lengths = self.lengths
        users = np.repeat(self.users, lengths)
        if self.timestamps is not None:
            ts = self.timestamps
        else:
            ts = np.arange(len(self.items), dtype=np.int64) - np.repeat(self.offsets[:-1], lengths)
        source = np.repeat(self.source.astype(str), lengths) if len(self.source) else np.array([], dtype=str)
        frame = pl.DataFrame(
            {C.USER: users, C.ITEM: self.items, C.TIME: ts, C.SOURCE: pl.Series(source, dtype=pl.Utf8)}
        )
        return Interactions(frame, sort=False)

    def to_lists(self) -> list[list[int]]:
        """Rows as Python lists (small data only)."""
        return [self.items[a:b].tolist() for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    # -- views ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> np.ndarray:
        return self.items[self.offsets[row] : self.offsets[row + 1]]

    def __repr__(self) -> str:
        return f"Sequences(rows={len(self)}, items={len(self.items)})"

    @property
    def lengths(self) -> np.ndarray:
        """Length of every row."""
        return np.diff(self.offsets)

    def take(self, rows: np.ndarray) -> Sequences:
        """A new ``Sequences`` with the given rows, in the given order (vectorised gather)."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        idx = np.repeat(self.offsets[rows] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Sequences(
            offsets=offsets,
            items=self.items[idx],
            users=self.users[rows],
            timestamps=None if self.timestamps is None else self.timestamps[idx],
            source=self.source[rows],
        )

    def to_padded(
        self, max_len: int, *, pad: float = C.PAD_ID, side: str = "left", values: np.ndarray | None = None
    ) -> np.ndarray:
        """A dense ``(rows, max_len)`` int64 matrix of the last ``max_len`` items of every row.

        ``side="left"`` right-aligns the items (padding on the left, the SASRec convention).
        ``values`` (aligned with ``items``, e.g. row weights) is laid out the same way instead
        of the items, in its own dtype.
        """
        if values is not None and len(values) != len(self.items):
            raise DataError(f"values has {len(values)} entries for {len(self.items)} items", column="values")
        n = len(self)
        source = self.items if values is None else np.asarray(values)
        out = np.full((n, max_len), pad, dtype=np.int64 if values is None else source.dtype)
        lengths = self.lengths
        keep = np.minimum(lengths, max_len)
        row = np.repeat(np.arange(n), keep)
        pos_in_keep = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)
        src = np.repeat(self.offsets[1:] - keep, keep) + pos_in_keep
        col = pos_in_keep + (np.repeat(max_len - keep, keep) if side == "left" else 0)
        out[row, col] = source[src]
        return out

    def equals(self, other: Sequences) -> bool:
        """Same rows, users, timestamps and sources."""
        same_ts = (self.timestamps is None and other.timestamps is None) or (
            self.timestamps is not None
            and other.timestamps is not None
            and np.array_equal(self.timestamps, other.timestamps)
        )
        return (
            np.array_equal(self.offsets, other.offsets)
            and np.array_equal(self.items, other.items)
            and np.array_equal(self.users, other.users)
            and np.array_equal(self.source, other.source)
            and same_ts
        )
