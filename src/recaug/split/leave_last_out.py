"""Leave-last-out: per user, the last ``n_test`` interactions are test and the ``n_valid`` before them validation."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError, DataError
from recaug.split.base import Protocol, Split, time_sorted

log = logging.getLogger("recaug.split")

#: what to do with exact duplicate rows (same user, item, timestamp and event)
DUPLICATE_POLICIES = ("drop", "keep", "error")
DuplicatePolicy = Literal["drop", "keep", "error"]
#: the one default of the duplicate policy
DEFAULT_DUPLICATES: DuplicatePolicy = "drop"


@dataclass(frozen=True)
class LeaveLastOut:
    """The P1 protocol of S3Rec/CoSeRec/ICLRec (defaults: one valid, one test item per user).

    A user always keeps ``min_train`` training interactions; short users give up held-out
    items from the validation side first: with the defaults a user with 1 interaction is
    train only, one with 2 has 1 train + 1 test and no validation item.

    Exact duplicate rows (same user, item, timestamp and event: a logging artefact) would make
    a user's validation item the copy of the test item, so early stopping would select on the
    test item. ``duplicates="drop"`` (default) keeps the first copy and warns with the count;
    ``"error"`` refuses the data; ``"keep"`` splits as given. Whatever the policy, users whose
    validation item equals their test item are counted and warned about.
    """

    n_valid: int = 1
    n_test: int = 1
    min_train: int = 1
    duplicates: str = DEFAULT_DUPLICATES

    def __post_init__(self) -> None:
        if self.n_valid < 0 or self.n_test < 0 or self.min_train < 0:
            raise ConfigError("n_valid, n_test and min_train must be >= 0")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ConfigError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {self.duplicates!r}")

    @property
    def protocol(self) -> Protocol:
        """Self-description saved with results."""
        return Protocol(
            "leave_last_out",
            {"n_valid": self.n_valid, "n_test": self.n_test, "min_train": self.min_train, "duplicates": self.duplicates},
        )

    def split(self, interactions: Interactions) -> Split:
        """Split by position in each user's time-ordered sequence (ties keep input order)."""
        f = self._handle_duplicates(time_sorted(interactions.frame))
        users = f.get_column(C.USER).to_numpy()
        n = len(users)
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if n else np.zeros(0, np.int64)
        lengths = np.diff(np.r_[starts, n])
        length = np.repeat(lengths, lengths)
        from_end = length - (np.arange(n) - np.repeat(starts, lengths))  # 1 for the last interaction
        room = np.maximum(length - self.min_train, 0)
        n_test = np.minimum(self.n_test, room)
        n_valid = np.minimum(self.n_valid, room - n_test)
        is_test = from_end <= n_test
        is_valid = ~is_test & (from_end <= n_test + n_valid)
        is_train = ~(is_test | is_valid)
        pieces = [Interactions(f.filter(pl.Series(mask)), sort=False) for mask in (is_train, is_valid, is_test)]
        _warn_valid_equals_test(pieces[1], pieces[2])
        return Split(pieces[0], pieces[1], pieces[2], self.protocol)

    def _handle_duplicates(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Apply the ``duplicates`` policy to exact duplicate rows (first copy kept when dropping)."""
        key = [c for c in (C.USER, C.ITEM, C.TIME, C.EVENT) if c in frame.columns]
        if not len(frame):
            return frame
        copies = frame.select(key).is_duplicated()
        if not copies.any():
            return frame
        first = frame.select(pl.struct(key).is_first_distinct()).to_series()
        extra = int((~first).sum())
        users = int(frame.filter(copies).get_column(C.USER).n_unique())
        if self.duplicates == "error":
            row = int(np.flatnonzero((~first).to_numpy())[0])
            raise DataError(
                f"{extra:,} exact duplicate row(s) ({'/'.join(key)}) for {users:,} user(s), first at row {row} "
                "(time-sorted); deduplicate first or split with duplicates='drop'",
                row=row,
                expected="each (user, item, timestamp) once",
            )
        if self.duplicates == "keep":
            log.warning("leave-last-out: %d exact duplicate rows for %d users kept (duplicates='keep')", extra, users)
            return frame
        log.warning(
            "leave-last-out: dropped %d exact duplicate rows (%s) of %d users before splitting", extra, "/".join(key), users
        )
        return frame.filter(first)


def _warn_valid_equals_test(valid: Interactions, test: Interactions) -> None:
    """Warn with the count of users whose validation items equal their test items."""
    if not len(valid) or not len(test):
        return
    pairs = [p.frame.select(C.USER, C.ITEM).unique() for p in (valid, test)]
    same = pairs[0].join(pairs[1], on=[C.USER, C.ITEM], how="semi").get_column(C.USER).n_unique()
    if same:
        log.warning(
            "leave-last-out: %d user(s) have a validation item equal to their test item; early stopping "
            "on them selects on the test item", same,
        )
