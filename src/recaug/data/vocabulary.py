"""Mapping between original ids (any strings) and dense integer codes.

Items take codes from 2 upward because 0 (PAD) and 1 (MASK) are reserved; users take
codes from 0. Codes are assigned in sorted order of the original ids (numeric order when
every id is an integer), so the mapping does not depend on row order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recaug.columns import N_RESERVED
from recaug.errors import DataError


def _sorted_unique(values: pl.Series) -> pl.Series:
    uniq = values.cast(pl.Utf8).unique()
    as_int = uniq.cast(pl.Int64, strict=False)
    if as_int.null_count() == 0:
        order = as_int.arg_sort()
    else:
        order = uniq.arg_sort()
    return uniq.gather(order).alias("original")


class Vocabulary:
    """Dense codes for users and items; ``PAD = 0`` and ``MASK = 1`` never belong to a real item."""

    def __init__(self, users: pl.Series | list[str], items: pl.Series | list[str]) -> None:
        self.users = pl.Series("original", users, dtype=pl.Utf8)
        self.items = pl.Series("original", items, dtype=pl.Utf8)
        for name, s in (("user", self.users), ("item", self.items)):
            if s.null_count():
                raise DataError(f"{name} ids contain nulls", column=f"{name}_id", expected="non-null ids")
            if s.n_unique() != len(s):
                raise DataError(f"{name} ids are not unique in the vocabulary", column=f"{name}_id")

    @classmethod
    def build(cls, user_ids: pl.Series, item_ids: pl.Series) -> Vocabulary:
        """Build from raw id columns (duplicates allowed)."""
        return cls(_sorted_unique(user_ids), _sorted_unique(item_ids))

    @property
    def n_users(self) -> int:
        """Number of real users."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of real items (not counting PAD and MASK)."""
        return len(self.items)

    @property
    def item_space(self) -> int:
        """Size of the item code space including the reserved ids: valid codes are ``2 .. item_space-1``."""
        return len(self.items) + N_RESERVED

    def _encode(self, values: pl.Series, table: pl.Series, offset: int, what: str, strict: bool) -> pl.Series:
        mapping = pl.DataFrame({"original": table, "code": np.arange(len(table), dtype=np.int32) + offset})
        codes = (
            pl.DataFrame({"original": values.cast(pl.Utf8)})
            .join(mapping, on="original", how="left", maintain_order="left")
            .get_column("code")
        )
        if strict and codes.null_count():
            bad = values.cast(pl.Utf8).filter(codes.is_null())
            row = int(codes.is_null().arg_true()[0])
            raise DataError(
                f"unknown {what} id {bad[0]!r} ({len(bad)} unknown in all)",
                row=row,
                column=f"{what}_id",
                expected=f"an id present in the {what} vocabulary",
            )
        return codes.cast(pl.Int32)

    def encode_users(self, values: pl.Series, *, strict: bool = True) -> pl.Series:
        """Original user ids -> codes (null for unknown ids when ``strict=False``)."""
        return self._encode(values, self.users, 0, "user", strict)

    def encode_items(self, values: pl.Series, *, strict: bool = True) -> pl.Series:
        """Original item ids -> codes >= 2 (null for unknown ids when ``strict=False``)."""
        return self._encode(values, self.items, N_RESERVED, "item", strict)

    def decode_users(self, codes: np.ndarray | pl.Series) -> pl.Series:
        """Codes -> original user ids."""
        return self.users.gather(np.asarray(codes, dtype=np.int64))

    def decode_items(self, codes: np.ndarray | pl.Series) -> pl.Series:
        """Codes -> original item ids (codes must be >= 2)."""
        idx = np.asarray(codes, dtype=np.int64) - N_RESERVED
        if idx.size and idx.min() < 0:
            raise DataError("cannot decode reserved item codes (PAD=0, MASK=1)", column="item_id")
        return self.items.gather(idx)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.users.equals(other.users)
            and self.items.equals(other.items)
        )

    def __repr__(self) -> str:
        return f"Vocabulary(n_users={self.n_users}, n_items={self.n_items})"
