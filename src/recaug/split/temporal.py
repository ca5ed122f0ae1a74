"""Temporal split: one global clock; train is the past, validation and test are later windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError
from recaug.split.base import Protocol, Split
from recaug.timestamps import to_epoch_seconds

CutPoint = float | int | str | datetime


def _is_quantile(value: CutPoint | None) -> bool:
    return isinstance(value, float) and 0.0 < value < 1.0


def _timestamp(value: CutPoint, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"temporal split: {what} must be a quantile in (0, 1) or a timestamp, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ConfigError(
            f"temporal split: {what}={value!r} is neither a quantile in (0, 1) nor a whole-second timestamp"
        )
    if isinstance(value, str | datetime):
        return to_epoch_seconds(value, f"temporal split: {what}")
    raise ConfigError(f"temporal split: {what} has unsupported type {type(value).__name__}")


@dataclass(frozen=True)
class TemporalSplit:
    """Global temporal split at two cut points on the shared clock.

    * train: every interaction with ``timestamp < valid_at``;
    * valid: interactions with ``valid_at <= timestamp < test_at``;
    * test: interactions with ``timestamp >= test_at``.

    Cut points are quantiles of all timestamps when given as floats in (0, 1) (defaults
    ``0.8`` / ``0.9``), otherwise timestamps (epoch seconds, ``datetime`` or ISO string).
    ``valid_at=None`` gives an empty validation set (train is everything before ``test_at``).
    With ``require_train_history=True`` (default) validation and test keep only users that
    have at least one training interaction; ``max_per_user`` keeps only each user's first
    ``n`` interactions of a window (e.g. 1 for "predict the next item after the cut").
    """

    valid_at: CutPoint | None = 0.8
    test_at: CutPoint = 0.9
    require_train_history: bool = True
    max_per_user: int | None = None

    def __post_init__(self) -> None:
        if self.test_at is None:
            raise ConfigError("temporal split: test_at is required")
        for what in ("valid_at", "test_at"):
            v = getattr(self, what)
            if v is not None and not _is_quantile(v):
                _timestamp(v, what)  # validates
        if self.valid_at is not None and _is_quantile(self.valid_at) != _is_quantile(self.test_at):
            raise ConfigError("temporal split: give valid_at and test_at both as quantiles or both as timestamps")
        if self.valid_at is not None and _is_quantile(self.valid_at) and self.valid_at > self.test_at:
            raise ConfigError(f"temporal split: valid_at ({self.valid_at}) must not be after test_at ({self.test_at})")
        if self.max_per_user is not None and (not isinstance(self.max_per_user, int) or self.max_per_user < 1):
            raise ConfigError(f"temporal split: max_per_user must be None or an integer >= 1, got {self.max_per_user!r}")

    def _params(self) -> dict[str, Any]:
        def show(v: CutPoint | None) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        return {
            "valid_at": show(self.valid_at),
            "test_at": show(self.test_at),
            "require_train_history": self.require_train_history,
            "max_per_user": self.max_per_user,
        }

    @property
    def protocol(self) -> Protocol:
        """Self-description (the split's own protocol also records the resolved cut timestamps)."""
        return Protocol("temporal", self._params())

    def cut_points(self, interactions: Interactions) -> tuple[int, int]:
        """The ``(valid_cut, test_cut)`` timestamps for this data (valid_cut == test_cut without validation)."""
        if _is_quantile(self.test_at):
            t = interactions.frame.get_column(C.TIME).to_numpy()
            if not len(t):
                return 0, 0
            probs = [float(self.test_at)] + ([] if self.valid_at is None else [float(self.valid_at)])  # type: ignore[arg-type]
            ks = [min(int(np.floor(p * len(t))), len(t) - 1) for p in probs]
            part = np.partition(t, ks)  # O(n): the k-th smallest timestamps, no full sort
            test_cut = int(part[ks[0]])
            valid_cut = test_cut if self.valid_at is None else int(part[ks[1]])
        else:
            test_cut = _timestamp(self.test_at, "test_at")
            valid_cut = test_cut if self.valid_at is None else _timestamp(self.valid_at, "valid_at")
        if valid_cut > test_cut:
            raise ConfigError(f"temporal split: valid cut {valid_cut} is after test cut {test_cut}")
        return valid_cut, test_cut

    def split(self, interactions: Interactions) -> Split:
        """Split by the global clock; row order inside each part follows the input."""
        valid_cut, test_cut = self.cut_points(interactions)
        frame = interactions.frame
        t = pl.col(C.TIME)
        train = frame.filter(t < valid_cut)
        valid = frame.filter((t >= valid_cut) & (t < test_cut))
        test = frame.filter(t >= test_cut)
        if self.require_train_history:
            seen = train.select(C.USER).unique()
            valid = valid.join(seen, on=C.USER, how="semi", maintain_order="left")
            test = test.join(seen, on=C.USER, how="semi", maintain_order="left")
        if self.max_per_user is not None:
            n = self.max_per_user

            def first_n(f: pl.DataFrame) -> pl.DataFrame:
                f = f.sort([C.USER, C.TIME], maintain_order=True)
                return f.filter(pl.int_range(pl.len()).over(C.USER) < n)

            valid, test = first_n(valid), first_n(test)
        protocol = Protocol("temporal", {**self._params(), "valid_cut": valid_cut, "test_cut": test_cut})
        return Split(
            Interactions(train, sort=False),
            Interactions(valid, sort=False),
            Interactions(test, sort=False),
            protocol,
        )
