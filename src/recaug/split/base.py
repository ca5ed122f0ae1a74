"""``Protocol`` (a self-describing recipe) and ``Split`` (its result, with a leakage guard)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.atomic import write_text
from recaug.data.interactions import Interactions
from recaug.errors import DataError, LeakageError


def time_sorted(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in (user_id, timestamp) order, ties in input order; an O(n) check avoids re-sorting.

    (Belongs on ``Interactions``; kept here so ``split`` does not depend on ``preprocess``.)
    """
    if len(frame) < 2:
        return frame
    u = frame.get_column(C.USER).to_numpy()
    t = frame.get_column(C.TIME).to_numpy()
    du = np.diff(u)
    if not (du < 0).any() and ((du > 0) | (np.diff(t) >= 0)).all():
        return frame
    return frame.sort([C.USER, C.TIME], maintain_order=True)


@dataclass(frozen=True)
class Protocol:
    """How data was split and will be evaluated; printed with and saved next to every result."""

    split: str
    params: dict[str, Any] = field(default_factory=dict)
    candidates: str = "all_items"
    history_masking: str = "-inf"

    def describe(self) -> str:
        """One readable line."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"split={self.split}({params}); candidates={self.candidates}; history masked with {self.history_masking}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "split": self.split,
            **self.params,
            "candidates": self.candidates,
            "history_masking": self.history_masking,
        }

    def save(self, path: str | Path) -> None:
        """Write ``protocol.json`` atomically."""
        write_text(path, json.dumps(self.to_dict(), indent=2))


@dataclass(eq=False)
class Split:
    """Train / validation / test interactions from one protocol.

    Only ``train`` may ever reach an augmenter, synthesizer, fuser or tuner;
    :meth:`assert_no_leakage` proves a frame does not contain held-out pairs.
    """

    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: Protocol

    def held_out(self, which: str = "both") -> pl.DataFrame:
        """Distinct held-out (user_id, item_id) pairs: ``"valid"``, ``"test"`` or ``"both"``."""
        parts = {"valid": [self.valid], "test": [self.test], "both": [self.valid, self.test]}[which]
        return pl.concat([p.frame.select(C.USER, C.ITEM) for p in parts]).unique()

    def leak_pairs(self) -> pl.DataFrame:
        """Held-out (user_id, item_id) pairs that are not also training pairs: what counts as a leak."""
        return self.held_out().join(self.train.pairs(), on=[C.USER, C.ITEM], how="anti")

    def assert_no_leakage(
        self, interactions: Interactions | pl.DataFrame, *, what: str = "data", real_only: bool = False
    ) -> None:
        """Raise :class:`LeakageError` if any held-out (user, item) pair appears in ``interactions``.

        Pairs that also occur in ``train`` (repeat purchases) are not leaks: the user did
        interact with that item before the held-out time. ``real_only``: check only rows whose
        ``source`` is ``"real"`` (for fused training data: a synthetic row from a generator
        fitted on ``train`` may equal a held-out pair without having seen it, a real one may not).
        """
        frame = interactions.frame if isinstance(interactions, Interactions) else interactions
        if real_only and C.SOURCE in frame.columns:
            frame = frame.filter(pl.col(C.SOURCE) == C.REAL)
        missing = [c for c in (C.USER, C.ITEM) if c not in frame.columns]
        if missing:
            raise DataError(f"cannot check {what} for leakage: no column {missing[0]!r}", column=missing[0],
                            expected="user_id and item_id codes")
        try:
            frame = frame.select(pl.col(C.USER).cast(pl.Int32), pl.col(C.ITEM).cast(pl.Int32))
        except Exception:
            raise DataError(f"cannot check {what} for leakage: user_id/item_id are not integer codes",
                            column=C.USER, expected="int32 codes from the split's vocabulary") from None
        leaks = frame.select(C.USER, C.ITEM).join(self.leak_pairs(), on=[C.USER, C.ITEM], how="semi")
        if len(leaks):
            first = leaks.row(0)
            raise LeakageError(
                f"{len(leaks)} held-out (user, item) pair(s) appear in {what}, "
                f"e.g. user_id={first[0]} item_id={first[1]}; only split.train may be used"
            )

    def history(self, target: str = "test") -> Interactions:
        """What a model may see when predicting ``target``: train for valid, train + valid for test."""
        if target == "valid":
            return self.train
        if target == "test":
            return self.train.concat(self.valid)
        raise ValueError(f"target must be 'valid' or 'test', got {target!r}")

    def __repr__(self) -> str:
        return f"Split(train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)}; {self.protocol.describe()})"
