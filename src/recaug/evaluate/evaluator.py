"""``Evaluator``: rank every held-out item of every user and keep the per-user metrics.

Protocol (the DESIGN defaults): the history of a user is ``split.history(target)`` in time order
(train for ``"valid"``, train + valid for ``"test"``); ranking is over **all** items with the
history masked by ``-inf``, PAD/MASK never candidates, ties pessimistic (see ``ranking.py``).
``repeats`` says what happens to a target the user already had: ``"unreachable"`` (default,
P1-faithful: the whole history is masked, so it ranks last) or ``"rankable"`` (repeat-aware:
the history is masked except the targets). Every result reports the share of users whose
target repeats an earlier item and the segments ``repeat_target`` / ``new_target``. Users with held-out items but no history are still evaluated with an empty
history. Held-out items repeated within a user count once. ``candidates=n`` switches to
*sampled* ranking against ``n`` seeded random negatives; the result's protocol says
``"candidates": "sampled"`` and every printed form of it says SAMPLED.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from recaug import columns as C
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.evaluate.metrics import METRICS, multi_target_metrics
from recaug.evaluate.ranking import rank_target_sets
from recaug.evaluate.result import EvalResult
from recaug.evaluate.segments import PREFIX, Segment, SegmentContext, assign_segments, default_segments
from recaug.split.repeats import DEFAULT_REPEATS, check_repeats

log = logging.getLogger("recaug.evaluate")


def _list_column(name: str, offsets: np.ndarray, values: np.ndarray, dtype: pa.DataType) -> pl.Series:
    arr = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values, type=dtype))
    return pl.Series(name, pl.from_arrow(arr))


def held_out_histories(split: object, target: str = "test") -> tuple[Sequences, np.ndarray, np.ndarray]:
    """``(histories, target_offsets, target_items)`` for every user with held-out items.

    Rows are users in ascending code order; ``histories`` holds ``split.history(target)`` in time
    order (empty rows for users without history); targets are in time order, repeats dropped.
    """
    if target not in ("valid", "test"):
        raise ConfigError(f"target must be 'valid' or 'test', got {target!r}")
    held = (
        getattr(split, target)
        .frame.sort([C.USER, C.TIME], maintain_order=True)
        .unique([C.USER, C.ITEM], keep="first", maintain_order=True)
    )
    h_users = held.get_column(C.USER).to_numpy()
    if len(h_users):
        starts = np.flatnonzero(np.r_[True, h_users[1:] != h_users[:-1]])
    else:
        starts = np.zeros(0, dtype=np.int64)
    users = h_users[starts].astype(np.int32)
    t_offsets = np.r_[starts, len(h_users)].astype(np.int64)
    t_items = held.get_column(C.ITEM).to_numpy().astype(np.int64)

    hist = split.history(target).frame  # type: ignore[attr-defined]
    hist = hist.join(pl.DataFrame({C.USER: users}), on=C.USER, how="semi").sort(
        [C.USER, C.TIME], maintain_order=True
    )
    hu = hist.get_column(C.USER).to_numpy()
    lengths = np.searchsorted(hu, users, side="right") - np.searchsorted(hu, users, side="left")
    histories = Sequences(
        offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        items=hist.get_column(C.ITEM).to_numpy(),
        users=users,
        timestamps=hist.get_column(C.TIME).to_numpy(),
    )
    return histories, t_offsets, t_items


@dataclass
class Evaluator:
    """Full-ranking (default) or sampled evaluation of any object with ``score(Sequences)``.

    ``candidates="all"`` ranks against every item; an int ``n`` ranks against ``n`` random
    negatives per user drawn with ``seed`` (labelled "sampled" everywhere).
    """

    ks: tuple[int, ...] = (5, 10, 20)
    metrics: tuple[str, ...] = METRICS
    chunk_size: int = 2048
    candidates: str | int = "all"
    seed: int = 0
    mask_history: bool = True
    repeats: str = DEFAULT_REPEATS

    def __post_init__(self) -> None:
        check_repeats(self.repeats)
        self.ks = tuple(int(k) for k in self.ks)
        self.metrics = tuple(self.metrics)
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"ks must be positive cut-offs, got {self.ks}")
        bad = [m for m in self.metrics if m not in METRICS]
        if bad:
            raise ConfigError(f"unknown metric(s) {bad}; choose from {METRICS}")
        if self.chunk_size < 1:
            raise ConfigError("chunk_size must be >= 1")
        if isinstance(self.candidates, bool) or not (
            self.candidates == "all" or (isinstance(self.candidates, int) and self.candidates > 0)
        ):
            raise ConfigError(
                f"candidates must be 'all' or a positive number of negatives, got {self.candidates!r}"
            )

    @property
    def sampled(self) -> bool:
        """Whether this evaluator uses sampled negatives."""
        return self.candidates != "all"

    def protocol(self) -> dict[str, object]:
        """The ranking part of the protocol (the split adds its own part)."""
        return {
            "candidates": "sampled" if self.sampled else "all_items",
            "n_negatives": int(self.candidates) if self.sampled else None,
            "negative_seed": self.seed if self.sampled else None,
            "history_masking": ("excluded from negatives" if self.sampled else "-inf")
            if self.mask_history or self.sampled
            else "none",
            "repeats": self.repeats,
            "target_masking": (
                "a target already in the history is masked with it (ranks last)"
                if self.repeats == "unreachable" and (self.mask_history or self.sampled)
                else "never (a target already in the history is ranked by its score)"
            ),
            "ties": "pessimistic",
            "repeated_targets": "counted once",
            "ks": list(self.ks),
            "metrics": list(self.metrics),
        }

    def evaluate(
        self,
        model: object,
        split: object,
        target: str = "test",
        segments: Sequence[Segment] | None = None,
        *,
        item_categories: object | None = None,
    ) -> EvalResult:
        """Evaluate ``model`` on ``split.<target>`` with ``split.history(target)`` as input.

        ``segments=None`` uses :func:`default_segments` (cross-category when ``item_categories``,
        a per-item-code Series or a ``Dataset``, is given); ``[]`` keeps only ``"all"``.
        """
        histories, t_offsets, t_items = held_out_histories(split, target)
        base = dict(split.protocol.to_dict()) if hasattr(split, "protocol") else {}  # type: ignore[attr-defined]
        return self.evaluate_histories(
            model,
            histories,
            t_offsets,
            t_items,
            segments,
            item_categories=item_categories,
            protocol={**base, "target": target},
        )

    def evaluate_histories(
        self,
        model: object,
        histories: Sequences,
        target_offsets: np.ndarray,
        target_items: np.ndarray,
        segments: Sequence[Segment] | None = None,
        *,
        item_categories: object | None = None,
        protocol: dict[str, object] | None = None,
    ) -> EvalResult:
        """Lower-level entry: explicit histories and CSR targets (distinct per row)."""
        t0 = time.perf_counter()
        _warn_if_trivial(model, self.ks)
        target_offsets = np.asarray(target_offsets, dtype=np.int64)
        target_items = np.asarray(target_items, dtype=np.int64)
        ranks = rank_target_sets(
            model,
            histories,
            target_offsets,
            target_items,
            chunk_size=self.chunk_size,
            mask_history=self.mask_history,
            n_negatives=int(self.candidates) if self.sampled else None,
            seed=self.seed,
            repeats=self.repeats,
        )
        values = multi_target_metrics(ranks, target_offsets, self.ks, self.metrics)
        n_t = np.diff(target_offsets)
        best = np.full(len(histories), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, np.repeat(np.arange(len(histories)), n_t), ranks)
        per_user = pl.DataFrame(
            [
                pl.Series(C.USER, histories.users, dtype=pl.Int32),
                pl.Series("n_history", histories.lengths, dtype=pl.Int64),
                pl.Series("n_targets", n_t, dtype=pl.Int64),
                _list_column("targets", target_offsets, target_items.astype(np.int32), pa.int32()),
                _list_column("ranks", target_offsets, ranks, pa.int64()),
                pl.Series("rank", best, dtype=pl.Int64),
                *(pl.Series(name, v, dtype=pl.Float64) for name, v in values.items()),
            ]
        )
        rules = default_segments(item_categories) if segments is None else list(segments)
        ctx = SegmentContext(per_user, histories, target_offsets, target_items)
        members = assign_segments(rules, ctx)
        if members:
            per_user = per_user.with_columns(
                pl.Series(PREFIX + name, m, dtype=pl.Boolean) for name, m in members.items()
            )
        proto = {**(protocol or {}), **self.protocol(), "segments": [r.describe() for r in rules]}
        seconds = time.perf_counter() - t0
        result = EvalResult(per_user, proto, seconds)
        log.info("evaluated %d users in %.2fs: %s", len(per_user), seconds, result.describe())
        return result


def _warn_if_trivial(model: object, ks: tuple[int, ...]) -> None:
    """Warn when the catalogue is so small that a top-K list holds every item (e.g. one item)."""
    space = getattr(model, "item_space_", None)
    if not isinstance(space, int | np.integer):
        return
    n_items = int(space) - C.N_RESERVED
    if n_items <= max(ks):
        log.warning(
            "only %d item(s) to rank and cut-offs up to %d: every item is in the top-%d list, so "
            "HR/NDCG@%d say nothing about the model (the ranking is trivial)", n_items, max(ks), max(ks), max(ks)
        )
