"""Search splits: time-ordered per user, and the same with test queries never seen in training.

* :class:`SearchLeaveLastOut` (``"leave_last_out"``, the default): each user's searches in time
  order (ties in input order); the last is test, the one before it validation, the rest
  training. It is :class:`recaug.split.LeaveLastOut` applied to the search rows, with the same
  rules for short users and exact duplicate rows.
* :class:`UnseenQueries` (``"unseen_queries"``): test queries never occur in training *or*
  validation. The distinct normalised queries of the whole log (words joined by spaces, so
  ``"Red shoes"`` and ``"red  shoes"`` are one query) are shuffled with ``seed``; the first
  ``round(test_fraction * n)`` are *test queries*, the next ``round(valid_fraction * n)``
  *validation queries*, the rest training queries. Then, from the leave-last-out split:
  test = the test events whose query is a test query; valid = the validation events whose query
  is a validation query; train = the training events whose query is a training query. Every
  other event is dropped (counted in the protocol). So the test events are a subset of the
  default split's test events (the same event per user), and a model never sees a test query,
  not even in a user's history (``history("test")`` = train + valid).

Both return a :class:`SearchSplit` whose :attr:`~SearchSplit.protocol` (a
:class:`recaug.split.Protocol`) says which split was used, with its settings and counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.errors import ConfigError, LeakageError
from recaug.random import as_generator
from recaug.search.log import SearchLog
from recaug.split import LeaveLastOut, Protocol

log = logging.getLogger("recaug.search")

#: search splits mask nothing; ``SearchEvaluator(mask_history=True)`` records its own masking in each result
SEARCH_MASKING = "none"
#: temporary column holding the normalised query while splitting
_KEY = "__query_key"


@dataclass(eq=False)
class SearchSplit:
    """Train / validation / test search logs (same vocabulary and item table) and their protocol."""

    train: SearchLog
    valid: SearchLog
    test: SearchLog
    protocol: Protocol
    #: normalised queries that may occur only in test (empty for the leave-last-out split)
    test_queries: frozenset[str] = field(default_factory=frozenset)

    def history(self, target: str = "test") -> SearchLog:
        """What a model may see before ``target``: train for valid, train + valid for test."""
        if target == "valid":
            return self.train
        if target == "test":
            return self.train.with_frame(pl.concat([self.train.frame, self.valid.frame], how="diagonal_relaxed"))
        raise ConfigError(f"target must be 'valid' or 'test', got {target!r}")

    def check(self) -> None:
        """Raise :class:`LeakageError` if a held-out event is also a training event, or (unseen-queries
        split) a test query occurs in train or valid."""
        key = [C.USER, C.ITEM, C.TIME, C.QUERY]
        for name, part in (("valid", self.valid), ("test", self.test)):
            both = part.frame.select(key).join(self.train.frame.select(key), on=key, how="semi")
            if len(both):
                u, i, t, q = both.row(0)
                raise LeakageError(f"{len(both)} {name} event(s) also in train, e.g. user_id={u} item_id={i} "
                                   f"timestamp={t} query={q!r}")
        if not self.test_queries:
            return
        for name, part in (("train", self.train), ("valid", self.valid)):
            seen = part.query_keys().is_in(pl.Series(sorted(self.test_queries), dtype=pl.Utf8).implode())
            if seen.any():
                first = part.query_keys().filter(seen)[0]
                raise LeakageError(f"{int(seen.sum())} {name} event(s) carry a test query, e.g. {first!r}")

    def __repr__(self) -> str:
        return (f"SearchSplit(train={len(self.train)}, valid={len(self.valid)}, test={len(self.test)}; "
                f"{self.protocol.describe()})")


@dataclass(frozen=True)
class SearchLeaveLastOut:
    """Per user in time order: last search = test, the one before = validation, the rest train."""

    n_valid: int = 1
    n_test: int = 1
    min_train: int = 1

    name: ClassVar[str] = "leave_last_out"

    def _base(self) -> LeaveLastOut:
        return LeaveLastOut(n_valid=self.n_valid, n_test=self.n_test, min_train=self.min_train)

    @property
    def protocol(self) -> Protocol:
        """Self-description saved with results."""
        return Protocol(f"search_{self.name}", {"n_valid": self.n_valid, "n_test": self.n_test,
                                                "min_train": self.min_train, "order": "time per user"},
                        history_masking=SEARCH_MASKING)

    def split(self, search_log: SearchLog) -> SearchSplit:
        """Split ``search_log`` (see the module docstring)."""
        base = self._base().split(search_log.interactions)
        return SearchSplit(search_log.with_frame(base.train.frame), search_log.with_frame(base.valid.frame),
                           search_log.with_frame(base.test.frame), self.protocol)


@dataclass(frozen=True)
class UnseenQueries:
    """Leave-last-out restricted so that test (and validation) queries never occur in training."""

    test_fraction: float = 0.3
    valid_fraction: float = 0.1
    seed: int = 0
    min_train: int = 1

    name: ClassVar[str] = "unseen_queries"

    def __post_init__(self) -> None:
        for label, value in (("test_fraction", self.test_fraction), ("valid_fraction", self.valid_fraction)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{label} must be in [0, 1], got {value}")
        if self.test_fraction + self.valid_fraction > 1.0:
            raise ConfigError("test_fraction + valid_fraction must be at most 1")

    def settings(self) -> dict[str, Any]:
        """The constructor settings."""
        return {"test_fraction": self.test_fraction, "valid_fraction": self.valid_fraction,
                "seed": self.seed, "min_train": self.min_train}

    def query_groups(self, search_log: SearchLog, keys: pl.Series | None = None) -> tuple[set[str], set[str]]:
        """(test queries, validation queries): seeded disjoint draws from the log's distinct normalised queries.

        ``keys``: the log's query keys when already computed (:meth:`SearchLog.query_keys`).
        """
        distinct = (search_log.query_keys() if keys is None else keys).unique().sort()
        n = len(distinct)
        order = as_generator(self.seed).permutation(n)
        n_test = int(round(self.test_fraction * n))
        n_valid = min(int(round(self.valid_fraction * n)), n - n_test)
        shuffled = distinct.gather(order)
        return set(shuffled[:n_test].to_list()), set(shuffled[n_test : n_test + n_valid].to_list())

    def split(self, search_log: SearchLog) -> SearchSplit:
        """Split ``search_log`` (see the module docstring)."""
        keys = search_log.query_keys()
        test_q, valid_q = self.query_groups(search_log, keys)
        keyed = search_log.with_frame(search_log.frame.with_columns(keys.alias(_KEY)))
        base = SearchLeaveLastOut(min_train=self.min_train).split(keyed)
        tq = pl.Series(sorted(test_q), dtype=pl.Utf8).implode()
        vq = pl.Series(sorted(valid_q), dtype=pl.Utf8).implode()
        rules = {
            "train": ~(pl.col(_KEY).is_in(tq) | pl.col(_KEY).is_in(vq)),
            "valid": pl.col(_KEY).is_in(vq),
            "test": pl.col(_KEY).is_in(tq),
        }
        parts = {name: search_log.with_frame(getattr(base, name).frame.filter(rule).drop(_KEY))
                 for name, rule in rules.items()}
        dropped = {name: len(getattr(base, name)) - len(part) for name, part in parts.items()}
        n_queries = int(keys.n_unique())
        log.info("unseen-queries split: %d test / %d valid queries held out of %d; dropped %s events",
                 len(test_q), len(valid_q), n_queries, dropped)
        protocol = Protocol(f"search_{self.name}", {
            **self.settings(), "order": "time per user", "n_queries": n_queries,
            "n_test_queries": len(test_q), "n_valid_queries": len(valid_q), "dropped_events": dropped,
        }, history_masking=SEARCH_MASKING)
        return SearchSplit(parts["train"], parts["valid"], parts["test"], protocol, frozenset(test_q))


#: split protocols by name
SEARCH_SPLITS: dict[str, type] = {SearchLeaveLastOut.name: SearchLeaveLastOut, UnseenQueries.name: UnseenQueries}


def search_splitter(name: str, **settings: Any) -> SearchLeaveLastOut | UnseenQueries:
    """The split protocol ``name`` (``"leave_last_out"`` or ``"unseen_queries"``) with ``settings``."""
    if name not in SEARCH_SPLITS:
        raise ConfigError(f"unknown search split {name!r}; choose one of {sorted(SEARCH_SPLITS)}")
    try:
        return SEARCH_SPLITS[name](**settings)
    except TypeError as exc:
        raise ConfigError(f"search split {name!r}: {exc}") from None


def split_sizes(split: SearchSplit) -> dict[str, int]:
    """Events per part (for logs and benchmark rows)."""
    return {"train": len(split.train), "valid": len(split.valid), "test": len(split.test),
            "test_users": int(np.unique(split.test.users).size)}
