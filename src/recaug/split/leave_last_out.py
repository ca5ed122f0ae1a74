"""Leave-last-out: per user, the last ``n_test`` interactions are test and the ``n_valid`` before them validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError
from recaug.split.base import Protocol, Split, time_sorted


@dataclass(frozen=True)
class LeaveLastOut:
    """The P1 protocol of S3Rec/CoSeRec/ICLRec (defaults: one valid, one test item per user).

    A user always keeps ``min_train`` training interactions; short users give up held-out
    items from the validation side first: with the defaults a user with 1 interaction is
    train only, one with 2 has 1 train + 1 test and no validation item.
    """

    n_valid: int = 1
    n_test: int = 1
    min_train: int = 1

    def __post_init__(self) -> None:
        if self.n_valid < 0 or self.n_test < 0 or self.min_train < 0:
            raise ConfigError("n_valid, n_test and min_train must be >= 0")

    @property
    def protocol(self) -> Protocol:
        """Self-description saved with results."""
        return Protocol(
            "leave_last_out", {"n_valid": self.n_valid, "n_test": self.n_test, "min_train": self.min_train}
        )

    def split(self, interactions: Interactions) -> Split:
        """Split by position in each user's time-ordered sequence (ties keep input order)."""
        f = time_sorted(interactions.frame)
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
        return Split(pieces[0], pieces[1], pieces[2], self.protocol)
