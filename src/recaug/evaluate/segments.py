"""User segments: which evaluated users a metric is averaged over.

A segment rule looks at the evaluated users (their per-user row, history and targets) and
returns one boolean membership array per segment name. The evaluator stores membership as
``segment:<name>`` columns of ``EvalResult.per_user``, and ``EvalResult.by_segment()`` averages
metrics within each. The segment ``"all"`` is always present and never stored as a column.

Built-in rules:

* :class:`HistoryLength`: buckets of the history length (interactions before the target; for
  ``target="test"`` that is train + valid). Default edges ``(3, 5, 10)`` give ``history<=3``,
  ``history4-5``, ``history6-10``, ``history>10``.
* :class:`NewUsers`: history length ``<= max_history``; default **5**. Leave-last-out on the
  usual 5-core data leaves every test user at least 4 history items, so a threshold of 3 would
  be empty there; 5 is the common "short-history user" cut-off in sequential recommendation.
* :class:`CrossCategory`: ``cross_category`` (some target's category is not among the
  categories of the user's history; users with an empty history count as cross-category) and
  ``same_category`` (every target with a known category is in a history category). Targets
  without a category never make a user cross-category. Only available when items have
  categories.
* :class:`RepeatTargets`: ``repeat_target`` (some target of the user is already in the user's
  history) and ``new_target`` (none is). Always on: under the default ``repeats="unreachable"``
  the repeat users score zero by construction, under ``"rankable"`` they often score far
  above the rest, so their share moves the overall figure either way.
* :class:`UserColumn`: a column of a user table keyed by ``user_id`` codes: a boolean column is
  one segment, any other column one segment per distinct value (``"column=value"``).
* :class:`ExprSegment`: a Polars expression over the per-user columns (``n_history``, metrics,
  ``rank`` ...), e.g. ``ExprSegment("deep", pl.col("n_history") > 50)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError

ALL = "all"
PREFIX = "segment:"


@dataclass(frozen=True)
class SegmentContext:
    """What a segment rule may look at; every array is aligned with ``per_user`` rows."""

    per_user: pl.DataFrame
    histories: Sequences
    target_offsets: np.ndarray
    target_items: np.ndarray


@runtime_checkable
class Segment(Protocol):
    """A rule that assigns evaluated users to one or more named segments."""

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """``{segment name: bool membership per per_user row}``."""
        ...

    def describe(self) -> dict[str, object]:
        """JSON-ready description saved with the evaluation protocol."""
        ...


def _bucket_names(edges: Sequence[int]) -> list[str]:
    names = [f"history<={edges[0]}"]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        names.append(f"history={hi}" if hi == lo + 1 else f"history{lo + 1}-{hi}")
    names.append(f"history>{edges[-1]}")
    return names


@dataclass(frozen=True)
class HistoryLength:
    """Buckets ``<= e0``, ``e0+1 .. e1``, ..., ``> e_last`` of the history length."""

    edges: tuple[int, ...] = (3, 5, 10)

    def __post_init__(self) -> None:
        if not self.edges or any(b <= a for a, b in zip(self.edges[:-1], self.edges[1:], strict=True)):
            raise ConfigError(f"history-length edges must be non-empty and increasing, got {self.edges}")

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """One segment per bucket."""
        n = ctx.per_user.get_column("n_history").to_numpy()
        bucket = np.searchsorted(np.asarray(self.edges), n, side="left")
        return {name: bucket == i for i, name in enumerate(_bucket_names(self.edges))}

    def describe(self) -> dict[str, object]:
        """Rule name and edges."""
        return {"rule": "history_length", "edges": list(self.edges)}


@dataclass(frozen=True)
class NewUsers:
    """Users with at most ``max_history`` interactions before the target."""

    max_history: int = 5
    name: str = "new_users"

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """One segment."""
        return {self.name: ctx.per_user.get_column("n_history").to_numpy() <= self.max_history}

    def describe(self) -> dict[str, object]:
        """Rule name and threshold."""
        return {"rule": "new_users", "name": self.name, "max_history": self.max_history}


def _category_codes(categories: object) -> np.ndarray:
    """Per item code: a dense int category code, -1 where unknown."""
    if hasattr(categories, "item_categories"):
        categories = categories.item_categories()  # a Dataset
        if categories is None:
            raise ConfigError("the dataset's items have no category column")
    s = pl.Series("c", categories) if not isinstance(categories, pl.Series) else categories.alias("c")
    codes = (
        pl.DataFrame({"c": s.cast(pl.Utf8)}).select(pl.col("c").rank("dense").fill_null(0)).get_column("c")
    )
    return codes.to_numpy().astype(np.int64) - 1


@dataclass(frozen=True)
class CrossCategory:
    """``cross_category`` / ``same_category`` from item categories (index = item code).

    ``categories`` is a Polars Series / array indexed by item code (``Dataset.item_categories()``)
    or a ``Dataset``.
    """

    categories: object = field(repr=False)

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """Two segments."""
        cat = _category_codes(self.categories)
        n_rows = len(ctx.per_user)

        def lookup(items: np.ndarray) -> np.ndarray:
            items = np.asarray(items, dtype=np.int64)
            ok = (items >= 0) & (items < len(cat))
            return np.where(ok, cat[np.where(ok, items, 0)], -1)

        width = int(cat.max()) + 2 if len(cat) else 1
        h_rows = np.repeat(np.arange(n_rows, dtype=np.int64), ctx.histories.lengths)
        h_cat = lookup(ctx.histories.items)
        h_key = np.unique(h_rows * width + h_cat)
        t_rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(ctx.target_offsets))
        t_cat = lookup(ctx.target_items)
        known = t_cat >= 0
        new = known & ~np.isin(t_rows * width + t_cat, h_key)
        cross = np.bincount(t_rows, weights=new, minlength=n_rows) > 0
        any_known = np.bincount(t_rows, weights=known, minlength=n_rows) > 0
        return {"cross_category": cross, "same_category": any_known & ~cross}

    def describe(self) -> dict[str, object]:
        """Rule name."""
        return {"rule": "cross_category"}


@dataclass(frozen=True)
class UserColumn:
    """Segments from a user table column (keyed by ``user_id`` codes)."""

    table: pl.DataFrame = field(repr=False)
    column: str = ""
    name: str | None = None

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """A boolean column gives one segment, any other column one per distinct value."""
        if self.column not in self.table.columns or C.USER not in self.table.columns:
            raise ConfigError(
                f"user table needs columns {C.USER!r} and {self.column!r}; has {self.table.columns}"
            )
        side = self.table.select(pl.col(C.USER).cast(pl.Int32), pl.col(self.column)).unique(
            C.USER, keep="first"
        )
        values = (
            ctx.per_user.select(pl.col(C.USER).cast(pl.Int32))
            .join(side, on=C.USER, how="left", maintain_order="left")
            .get_column(self.column)
        )
        label = self.name or self.column
        if values.dtype == pl.Boolean:
            return {label: values.fill_null(False).to_numpy().astype(bool)}
        out = {}
        for value in values.drop_nulls().unique().sort().to_list():
            out[f"{label}={value}"] = (values == value).fill_null(False).to_numpy().astype(bool)
        return out

    def describe(self) -> dict[str, object]:
        """Rule name and column."""
        return {"rule": "user_column", "column": self.column, "name": self.name or self.column}


@dataclass(frozen=True)
class ExprSegment:
    """A named Polars boolean expression over the per-user columns."""

    name: str
    expr: pl.Expr = field(repr=False)

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """One segment (nulls count as outside)."""
        values = ctx.per_user.select(self.expr.alias("_seg")).get_column("_seg")
        return {self.name: values.cast(pl.Boolean).fill_null(False).to_numpy().astype(bool)}

    def describe(self) -> dict[str, object]:
        """Rule name and the expression's text."""
        return {"rule": "expression", "name": self.name, "expr": str(self.expr)}


def targets_in_history(histories: Sequences, target_offsets: np.ndarray, target_items: np.ndarray) -> np.ndarray:
    """Per target (aligned with ``target_items``): whether its row's history holds that item."""
    target_offsets = np.asarray(target_offsets, dtype=np.int64)
    target_items = np.asarray(target_items, dtype=np.int64)
    n_rows = len(histories)
    if not len(target_items) or not len(histories.items):
        return np.zeros(len(target_items), dtype=bool)
    width = int(max(histories.items.max(initial=0), target_items.max(initial=0))) + 1
    h_keys = np.repeat(np.arange(n_rows, dtype=np.int64), histories.lengths) * width + histories.items
    t_keys = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(target_offsets)) * width + target_items
    # membership by binary search in the sorted history keys (np.isin would hash or sort both sides)
    h_keys = np.sort(h_keys)
    found = h_keys[np.minimum(np.searchsorted(h_keys, t_keys), len(h_keys) - 1)] == t_keys
    return found & (target_items >= 0)


@dataclass(frozen=True)
class RepeatTargets:
    """``repeat_target`` / ``new_target``: does a held-out item repeat one of the user's history?"""

    def assign(self, ctx: SegmentContext) -> dict[str, np.ndarray]:
        """Membership per evaluated user."""
        hit = targets_in_history(ctx.histories, ctx.target_offsets, ctx.target_items)
        rows = np.repeat(np.arange(len(ctx.histories)), np.diff(ctx.target_offsets))
        repeat = np.zeros(len(ctx.histories), dtype=bool)
        repeat[rows[hit]] = True
        return {"repeat_target": repeat, "new_target": ~repeat}

    def describe(self) -> dict[str, object]:
        """JSON-ready description."""
        return {"rule": "repeat_targets"}


def default_segments(
    item_categories: object | None = None,
    *,
    edges: tuple[int, ...] = (3, 5, 10),
    new_user_max_history: int = 5,
) -> list[Segment]:
    """History-length buckets, new users, repeat/new targets, and cross-category when categories are known.

    A ``Dataset`` whose items have no ``category`` column (e.g. Toys) simply gets no
    cross-category segment.
    """
    rules: list[Segment] = [HistoryLength(edges), NewUsers(new_user_max_history), RepeatTargets()]
    items = getattr(item_categories, "items", None)
    no_category = isinstance(items, pl.DataFrame) and C.CATEGORY not in items.columns
    if item_categories is not None and not no_category:
        rules.append(CrossCategory(item_categories))
    return rules


def assign_segments(rules: Sequence[Segment], ctx: SegmentContext) -> dict[str, np.ndarray]:
    """Run every rule; segment names must be unique and not ``"all"``."""
    out: dict[str, np.ndarray] = {}
    for rule in rules:
        for name, member in rule.assign(ctx).items():
            if name == ALL or name in out:
                raise ConfigError(f"segment name {name!r} is reserved or used twice")
            member = np.asarray(member, dtype=bool)
            if member.shape != (len(ctx.per_user),):
                raise ConfigError(
                    f"segment {name!r} has {member.shape} memberships for {len(ctx.per_user)} users"
                )
            out[name] = member
    return out


def segment_columns(per_user: pl.DataFrame) -> list[str]:
    """Segment names stored in a per-user frame (without the ``segment:`` prefix), in order."""
    return [c[len(PREFIX) :] for c in per_user.columns if c.startswith(PREFIX)]
