"""Leave-last-out: per user, the last ``n_test`` interactions are test and the ``n_valid`` before them validation."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError
from recaug.split.base import Protocol, Split


@dataclass(frozen=True)
class LeaveLastOut:
    """The P1 protocol of S3Rec/CoSeRec/ICLRec (defaults: one valid, one test item per user).

    Users with at most ``n_valid + n_test`` interactions keep everything in train when
    ``min_train=1`` would otherwise be violated: a user always keeps ``min_train`` training
    interactions, and loses held-out items from the test side first.
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
        f = interactions.frame.sort([C.USER, C.TIME], maintain_order=True)
        f = f.with_columns(
            pl.int_range(pl.len()).over(C.USER).alias("_pos"), pl.len().over(C.USER).alias("_len")
        )
        from_end = pl.col("_len") - pl.col("_pos")  # 1 for the last interaction
        room = (pl.col("_len") - self.min_train).clip(lower_bound=0)
        n_test = pl.min_horizontal(pl.lit(self.n_test), room)
        n_valid = pl.min_horizontal(pl.lit(self.n_valid), room - n_test)
        part = (
            pl.when(from_end <= n_test)
            .then(pl.lit("test"))
            .when(from_end <= n_test + n_valid)
            .then(pl.lit("valid"))
            .otherwise(pl.lit("train"))
        )
        f = f.with_columns(part.alias("_part"))
        pieces = {
            name: Interactions(f.filter(pl.col("_part") == name).drop("_pos", "_len", "_part"), sort=False)
            for name in ("train", "valid", "test")
        }
        return Split(pieces["train"], pieces["valid"], pieces["test"], self.protocol)
