"""Search evaluation: full ranking of each test event's item among all items, per-event metrics, segments.

Protocol: every held-out search event (user, query, target item) is one row. The model scores
the query (and user, for personalised models) over the **whole catalogue**; the target's 0-based
rank counts every item scored at least as high as the target (ties **pessimistic**, as in
:mod:`recaug.evaluate.ranking`: an item tied with the target ranks above it, so a model that
scores whole groups alike cannot look good); NaN candidates count above; PAD/MASK are never
candidates; a target whose score is NaN or ``-inf`` (or whose code is invalid) gets the worst
rank, the number of columns. ``n_tied`` is how many other items have exactly the target's score.
By default nothing is masked (a shopper may buy again what they searched before);
``mask_history=True`` masks the items of the user's history (``split.history(target)``) with
``-inf``, except the target.

Metrics are recaug's formulas (:func:`recaug.evaluate.metrics.metrics_table`): ``HR@K``,
``NDCG@K = 1/log2(rank + 2)``, ``MRR@K = 1/(rank + 1)`` when ``rank < K``. The result is a
:class:`recaug.evaluate.EvalResult` whose ``per_user`` table has one row per event (one event
per user under the default split): ``user_id``, ``query``, ``target``, ``rank``, ``n_tied``,
``n_history``, ``query_train_count``, ``item_train_count``, the metric columns and the segments:

* ``rare_query``: the event's normalised query occurs at most ``rare_max_count`` times in the
  training log (unseen queries included, as they occur 0 times);
* ``unseen_query``: the normalised query never occurs in the training log;
* ``tail_item``: the target is not among the most popular ``1 - tail_share`` of all items by
  training count (ties by item code); with the default 0.8 the head is the top 20 % of items;
* ``short_history``: the user has at most ``short_history_max`` events in the history.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.errors import ConfigError
from recaug.search.log import SearchLog

if TYPE_CHECKING:
    from recaug.evaluate.result import EvalResult
    from recaug.search.base import SearchModel
    from recaug.search.split import SearchSplit

log = logging.getLogger("recaug.search")

#: metrics a search evaluation may report
SEARCH_METRICS = ("HR", "NDCG", "MRR", "Recall")
#: the segments every search evaluation stores
SEARCH_SEGMENTS = ("rare_query", "unseen_query", "tail_item", "short_history")


def rank_targets(scores: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, n_tied)`` of each row's target among all columns of ``scores`` (pessimistic ties).

    ``rank`` is 0-based: the columns other than the target that are not strictly below it (NaN
    counts as above). A target with an invalid code (PAD, MASK, out of range) or a NaN / ``-inf``
    score gets rank ``n_columns`` and ``n_tied = -1``.
    """
    scores = np.asarray(scores)
    targets = np.asarray(targets, dtype=np.int64)
    n, m = scores.shape
    if targets.shape != (n,):
        raise ConfigError(f"{len(targets)} targets for {n} score rows")
    valid = (targets >= C.N_RESERVED) & (targets < m)
    t = scores[np.arange(n), np.where(valid, targets, 0)]
    ok = valid & ~np.isnan(t) & (t > -np.inf)
    t = t[:, None]
    above = (~(scores < t)).sum(axis=1) - 1
    tied = (scores == t).sum(axis=1) - 1
    return np.where(ok, above, m).astype(np.int64), np.where(ok, tied, -1).astype(np.int64)


@dataclass
class SearchEvaluator:
    """Full-ranking evaluation of a :class:`SearchModel` on a :class:`SearchSplit` (see the module docstring)."""

    ks: tuple[int, ...] = (5, 10, 20)
    metrics: tuple[str, ...] = ("HR", "NDCG", "MRR")
    chunk_size: int = 1024
    mask_history: bool = False
    rare_max_count: int = 5
    short_history_max: int = 5
    tail_share: float = 0.8

    def __post_init__(self) -> None:
        self.ks = tuple(int(k) for k in self.ks)
        self.metrics = tuple(self.metrics)
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"ks must be positive cut-offs, got {self.ks}")
        bad = [m for m in self.metrics if m not in SEARCH_METRICS]
        if bad:
            raise ConfigError(f"unknown metric(s) {bad}; choose from {SEARCH_METRICS}")
        if self.chunk_size < 1:
            raise ConfigError("chunk_size must be >= 1")
        if not 0.0 <= self.tail_share <= 1.0:
            raise ConfigError(f"tail_share must be in [0, 1], got {self.tail_share}")

    def protocol(self) -> dict[str, Any]:
        """The ranking part of the protocol (the split adds its own part)."""
        return {
            "task": "product_search",
            "candidates": "all_items",
            "history_masking": "-inf (except the target)" if self.mask_history else "none",
            "ties": "pessimistic",
            "ks": list(self.ks),
            "metrics": list(self.metrics),
            "segments": {
                "rare_query": f"query occurs <= {self.rare_max_count} times in train (unseen included)",
                "unseen_query": "query never occurs in train",
                "tail_item": f"target outside the top {1 - self.tail_share:.0%} of items by train count",
                "short_history": f"<= {self.short_history_max} history events",
            },
        }

    def evaluate(self, model: SearchModel, split: SearchSplit, target: str = "test") -> EvalResult:
        """Evaluate ``model`` on ``split.<target>`` (history = ``split.history(target)``)."""
        if target not in ("valid", "test"):
            raise ConfigError(f"target must be 'valid' or 'test', got {target!r}")
        return self.evaluate_events(
            model, getattr(split, target), train=split.train, history=split.history(target),
            protocol={**split.protocol.to_dict(), "target": target},
        )

    def evaluate_events(
        self,
        model: SearchModel,
        events: SearchLog,
        *,
        train: SearchLog,
        history: SearchLog | None = None,
        protocol: dict[str, Any] | None = None,
    ) -> EvalResult:
        """Lower-level entry: rank each event of ``events``; ``train`` defines the segments' counts."""
        from recaug.evaluate.metrics import metrics_table
        from recaug.evaluate.result import EvalResult

        t0 = time.perf_counter()
        history = train if history is None else history
        if hasattr(model, "use_history"):  # a personalised model reads what the user did before these events
            model.use_history(history)
        frame = events.frame.sort([C.USER, C.TIME], maintain_order=True)
        queries = frame.get_column(C.QUERY)
        users = frame.get_column(C.USER).to_numpy().astype(np.int64)
        targets = frame.get_column(C.ITEM).to_numpy().astype(np.int64)
        n = len(frame)
        ranks = np.empty(n, dtype=np.int64)
        tied = np.empty(n, dtype=np.int64)
        score_seconds = 0.0
        hist_pairs = history.frame.select(C.USER, C.ITEM).unique() if self.mask_history else None
        personalised = bool(getattr(model, "personalised", False))
        # events grouped by query text, so a chunk scores each distinct query once (unless personalised)
        order = np.arange(n)
        if not personalised:
            order = pl.DataFrame({"q": queries, "i": order}).sort("q", maintain_order=True).get_column("i").to_numpy()
        for start in range(0, n, self.chunk_size):
            rows = order[start : start + self.chunk_size]
            chunk = queries.gather(rows)
            s0 = time.perf_counter()
            if personalised:
                scores = model.score(chunk, users[rows])
            else:
                distinct = chunk.unique(maintain_order=True)
                where = pl.DataFrame({"q": chunk}).join(
                    pl.DataFrame({"q": distinct, "i": np.arange(len(distinct))}), on="q", how="left",
                    maintain_order="left",
                ).get_column("i").to_numpy()
                scores = model.score(distinct)[where]
            score_seconds += time.perf_counter() - s0
            if hist_pairs is not None:
                _mask(scores, users[rows], targets[rows], hist_pairs)
            ranks[rows], tied[rows] = rank_targets(scores, targets[rows])
        values = metrics_table(ranks, self.ks, self.metrics)
        per_event = pl.DataFrame({
            C.USER: users.astype(np.int32), C.QUERY: queries, "target": targets.astype(np.int32),
            "rank": ranks, "n_tied": tied,
        })
        per_event = per_event.with_columns(self._features(per_event, events, train, history))
        per_event = per_event.with_columns([pl.Series(k, v) for k, v in values.items()])
        per_event = per_event.with_columns(
            (pl.col("query_train_count") <= self.rare_max_count).alias("segment:rare_query"),
            (pl.col("query_train_count") == 0).alias("segment:unseen_query"),
            (~self._head_items(train, events.item_space, per_event)).alias("segment:tail_item"),
            (pl.col("n_history") <= self.short_history_max).alias("segment:short_history"),
        )
        seconds = time.perf_counter() - t0
        proto = {**(protocol or {}), **self.protocol(), "model": getattr(model, "name", type(model).__name__),
                 "n_events": n, "seconds_scoring": score_seconds}
        result = EvalResult(per_event, proto, seconds)
        log.info("search evaluation: %d events in %.2f s (scoring %.2f s)", n, seconds, score_seconds)
        return result

    @staticmethod
    def _features(per_event: pl.DataFrame, events: SearchLog, train: SearchLog, history: SearchLog) -> list[pl.Series]:
        """``n_history``, ``query_train_count``, ``item_train_count`` per event."""
        from recaug.search.tokenize import normalize

        n_hist = history.frame.group_by(C.USER).agg(pl.len().alias("n_history"))
        q_counts = train.query_keys().value_counts(name="query_train_count")
        i_counts = train.frame.group_by(C.ITEM).agg(pl.len().alias("item_train_count"))
        keyed = per_event.select(
            pl.col(C.USER), normalize(per_event.get_column(C.QUERY)).alias("query_key"), pl.col("target").alias(C.ITEM)
        )
        joined = (
            keyed.join(n_hist, on=C.USER, how="left", maintain_order="left")
            .join(q_counts, on="query_key", how="left", maintain_order="left")
            .join(i_counts, on=C.ITEM, how="left", maintain_order="left")
        )
        return [joined.get_column(c).fill_null(0).cast(pl.Int64).alias(c)
                for c in ("n_history", "query_train_count", "item_train_count")]

    def _head_items(self, train: SearchLog, item_space: int, per_event: pl.DataFrame) -> pl.Series:
        """Whether each event's target is a head item (top ``1 - tail_share`` of items by train count)."""
        counts = np.bincount(train.targets.astype(np.int64), minlength=item_space)[C.N_RESERVED:item_space]
        n_items = len(counts)
        n_head = int(math.ceil((1.0 - self.tail_share) * n_items - 1e-9))
        order = np.lexsort((np.arange(n_items), -counts))  # most popular first, ties by code
        head = np.zeros(item_space, dtype=bool)
        head[order[:n_head] + C.N_RESERVED] = True
        t = per_event.get_column("target").to_numpy().astype(np.int64)
        inside = (t >= 0) & (t < item_space)
        return pl.Series("head", np.where(inside, head[np.where(inside, t, 0)], False))


def _mask(scores: np.ndarray, users: np.ndarray, targets: np.ndarray, hist_pairs: pl.DataFrame) -> None:
    """Set each row's history items (but not its target) to ``-inf``, in place."""
    rows = pl.DataFrame({"row": np.arange(len(users), dtype=np.int64), C.USER: users.astype(np.int32),
                         "target": targets.astype(np.int32)})
    pairs = rows.join(hist_pairs, on=C.USER, how="inner").filter(pl.col(C.ITEM) != pl.col("target"))
    r = pairs.get_column("row").to_numpy()
    c = pairs.get_column(C.ITEM).to_numpy().astype(np.int64)
    ok = (c >= 0) & (c < scores.shape[1])
    scores[r[ok], c[ok]] = -np.inf
