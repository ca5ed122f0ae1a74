"""``Fuser``: mix real training interactions with synthetic rows, with quotas, weights and provenance.

Synthetic rows (``source != "real"``) either *complete an existing user* (their ``user_id``
is a real user's code) or belong to a *new synthetic user* (a code no real user has). Steps,
in order, each recorded in the :class:`FuseReport`:

1. **held-out hits**, by ``held_out_hits``. ``"keep"`` (the default,
   :data:`DEFAULT_HELD_OUT_HITS`) decides without held-out data: the fuser never reads
   ``split.valid``/``split.test`` (it does not touch ``split`` at all), and a synthetic row that
   equals a user's held-out pair is fused like any other -- a generator fitted on
   ``split.train`` alone may legitimately guess a held-out item. The two other modes read
   held-out labels and are diagnostics: ``"error"`` passes every synthetic row of an existing
   user to :meth:`Split.assert_no_leakage` *before any filtering* (a generator that produced a
   held-out pair fails even if sampling would have dropped that row); ``"drop"`` removes such
   rows (counted as ``held_out_hit``), a training-data decision made with test labels. Without
   ``split`` no mode looks at held-out data;
2. **de-duplication**: synthetic (user, item) pairs the user already has in ``train``, then
   repeats within the synthetic rows (first in time order kept);
3. **segment quota**: ``only_users_with_at_most`` training interactions (new users count as 0),
   ``allow_new_users``;
4. ``max_rows_per_user``: the last rows in time order (the ones next to the real history
   once prepended);
5. the optional :class:`ConsistencyFilter`;
6. ``ratio``: at most ``floor(ratio * real rows)`` synthetic rows, taken by whole synthetic
   user in a seeded hash order (the longest prefix of that order that fits);
7. **placement**: see below; then the ``weight`` column.

Placement of rows that complete an existing user (``placement="prepend"``, the default,
ASReP-style): the user's ``k`` synthetic rows keep their relative order and get timestamps
``t0 - k, ..., t0 - 1`` where ``t0`` is the user's first known timestamp, so they sit
before the whole real history and can never land after a held-out item. Timestamps may
become negative for position-style time. ``placement="keep"`` keeps the given timestamps
but raises :class:`LeakageError` if any is after the user's last training timestamp. New
synthetic users always keep their own timestamps. ``t0`` and "existing user" come from
``train`` (and, in the modes that read held-out data, also from ``split.valid``/``split.test``,
which matters only for users without training rows).

The inputs are never modified. Output columns are ``train``'s (synthetic columns train lacks
are dropped; columns synthetic lacks are null), plus ``weight`` when ``weight`` is set.
``fused.real()`` gives back exactly the real ``train`` rows (with ``weight`` = 1.0 added
when ``weight`` is set and train had no weight column).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final, Literal, get_args

import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError, DataError, LeakageError
from recaug.fuse.report import FuseReport
from recaug.random import hash_uniform

if TYPE_CHECKING:
    from recaug.fuse.consistency import ConsistencyFilter
    from recaug.split.base import Split

log = logging.getLogger("recaug.fuse")

_PLACEMENTS = ("prepend", "keep")

#: What the fuser does with a synthetic row that equals one of its user's held-out pairs.
HeldOutHits = Literal["keep", "drop", "error"]
#: Every ``held_out_hits`` mode; only ``"keep"`` decides without reading held-out data.
HELD_OUT_HITS_MODES: Final[tuple[str, ...]] = get_args(HeldOutHits)
#: The one default of ``held_out_hits``: the :class:`Fuser`, the pipeline's ``fuse`` section and
#: ``recaug fuse --held-out-hits`` all use this object, so they cannot drift apart.
DEFAULT_HELD_OUT_HITS: Final[HeldOutHits] = "keep"


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    counts = frame.group_by(C.SOURCE).len().sort(C.SOURCE)
    return dict(zip(counts.get_column(C.SOURCE).to_list(), counts.get_column("len").to_list(), strict=True))


@dataclass(frozen=True)
class Fuser:
    """Settings of a fusion; :meth:`fuse` does the work. See the module docstring for the steps.

    ``ratio``: synthetic rows per real row (cap, whole synthetic users, seeded);
    ``only_users_with_at_most``: only extend users with at most that many training rows;
    ``allow_new_users``: keep rows of new synthetic users; ``max_rows_per_user``: cap per user;
    ``weight``: value of the ``weight`` column on synthetic rows (real rows 1.0);
    ``deduplicate``: drop repeated pairs; ``placement``: ``"prepend"`` or ``"keep"``;
    ``consistency``: a :class:`ConsistencyFilter`; ``seed``: for the ratio sample;
    ``held_out_hits``: ``"keep"`` (default; held-out data is never read), or the diagnostics
    ``"error"`` (raise :class:`LeakageError`) and ``"drop"`` (remove) for synthetic rows of
    existing users that coincide with one of their held-out pairs -- both read ``split``'s
    validation and test items to decide about training data.
    """

    ratio: float | None = None
    only_users_with_at_most: int | None = None
    allow_new_users: bool = True
    max_rows_per_user: int | None = None
    weight: float | None = None
    deduplicate: bool = True
    placement: str = "prepend"
    consistency: ConsistencyFilter | None = None
    seed: int = 0
    held_out_hits: HeldOutHits = DEFAULT_HELD_OUT_HITS

    def __post_init__(self) -> None:
        if self.ratio is not None and self.ratio < 0:
            raise ConfigError(f"ratio must be >= 0, got {self.ratio}")
        if self.only_users_with_at_most is not None and self.only_users_with_at_most < 0:
            raise ConfigError(f"only_users_with_at_most must be >= 0, got {self.only_users_with_at_most}")
        if self.max_rows_per_user is not None and self.max_rows_per_user < 0:
            raise ConfigError(f"max_rows_per_user must be >= 0, got {self.max_rows_per_user}")
        if self.weight is not None and not (self.weight >= 0 and math.isfinite(self.weight)):
            raise ConfigError(f"weight must be a finite number >= 0, got {self.weight}")
        if self.held_out_hits not in HELD_OUT_HITS_MODES:
            raise ConfigError(
                f"held_out_hits must be one of {HELD_OUT_HITS_MODES}, got {self.held_out_hits!r}"
            )
        if self.placement not in _PLACEMENTS:
            raise ConfigError(f"placement must be one of {_PLACEMENTS}, got {self.placement!r}")

    def settings(self) -> dict[str, object]:
        """JSON-ready settings (the consistency filter as its own settings)."""
        out = asdict(self)
        out["consistency"] = None if self.consistency is None else asdict(self.consistency)
        return out

    # -- the verb -------------------------------------------------------------------------
    def fuse(
        self,
        train: Interactions,
        synthetic: Interactions,
        *,
        split: Split | None = None,
        item_space: int | None = None,
    ) -> tuple[Interactions, FuseReport]:
        """Return ``(fused, report)``: ``train`` plus the synthetic rows that pass every step.

        ``split`` is read only by the ``held_out_hits`` modes ``"error"`` and ``"drop"``;
        ``item_space`` (valid item codes are ``2 .. item_space - 1``), when given, makes any
        synthetic item code outside the catalogue a :class:`DataError` (see :func:`check_item_codes`).
        """
        started = time.perf_counter()
        if len(synthetic) and (synthetic.frame.get_column(C.SOURCE) == C.REAL).any():
            raise DataError(
                "synthetic rows must not have source 'real'", column=C.SOURCE, expected="the generator's name"
            )
        if item_space is not None:
            check_item_codes(synthetic, item_space)
        held_out = split if self.held_out_hits != "keep" else None  # "keep" never reads held-out data
        real_rows = int((train.frame.get_column(C.SOURCE) == C.REAL).sum())
        rows_in = _counts(pl.concat([train.frame.select(C.SOURCE), synthetic.frame.select(C.SOURCE)]))
        dropped: dict[str, int] = {}

        # Who is an existing user, and where does their known history start / train end?
        known = [train.frame.select(C.USER, C.TIME)]
        if held_out is not None:
            known += [held_out.valid.frame.select(C.USER, C.TIME), held_out.test.frame.select(C.USER, C.TIME)]
        users = pl.concat(known).group_by(C.USER).agg(pl.col(C.TIME).min().alias("_t0"))
        in_train = train.frame.group_by(C.USER).agg(
            pl.len().cast(pl.Int64).alias("_n_train"), pl.col(C.TIME).max().alias("_t_last")
        )
        users = users.join(in_train, on=C.USER, how="left").with_columns(
            pl.col("_n_train").fill_null(0), pl.lit(True).alias("_existing")
        )
        s = (
            synthetic.frame.with_row_index("_row")
            .sort([C.USER, C.TIME, "_row"])
            .join(users, on=C.USER, how="left", maintain_order="left")
            .with_columns(pl.col("_existing").fill_null(False), pl.col("_n_train").fill_null(0))
        )

        # 1. held-out hits (diagnostic modes only; "keep" decides without held-out data)
        if held_out is not None and self.held_out_hits == "drop":
            before = s.height
            s = s.join(held_out.leak_pairs(), on=[C.USER, C.ITEM], how="anti", maintain_order="left")
            dropped["held_out_hit"] = before - s.height
            if dropped["held_out_hit"]:
                log.warning(
                    "fuse: %d synthetic row(s) dropped because they equal a held-out (validation/test) pair: "
                    "a training-data decision made with held-out labels (held_out_hits='drop', a diagnostic)",
                    dropped["held_out_hit"],
                )
        if held_out is not None:
            held_out.assert_no_leakage(
                s.filter(pl.col("_existing")), what="synthetic rows for existing users"
            )

        def step(reason: str, keep: pl.Expr) -> None:
            nonlocal s
            before = s.height
            s = s.filter(keep)
            dropped[reason] = before - s.height

        # 2. de-duplication
        if self.deduplicate:
            before = s.height
            s = s.join(train.pairs(), on=[C.USER, C.ITEM], how="anti", maintain_order="left")
            dropped["duplicate_of_real"] = before - s.height
            step("duplicate_within_synthetic", pl.struct(C.USER, C.ITEM).is_first_distinct())
        # 3. segment quota
        if self.only_users_with_at_most is not None:
            step("user_not_in_segment", pl.col("_n_train") <= self.only_users_with_at_most)
        if not self.allow_new_users:
            step("new_user_not_allowed", pl.col("_existing"))
        # 4. per-user cap
        if self.max_rows_per_user is not None:
            k = self.max_rows_per_user
            rank_from_end = pl.len().cast(pl.Int64).over(C.USER) - pl.int_range(
                pl.len(), dtype=pl.Int64
            ).over(C.USER)
            step("over_max_rows_per_user", rank_from_end <= k)
        # 5. consistency filter
        if self.consistency is not None and s.height:
            kept = self.consistency.select_users(train, Interactions(s.select(synthetic.columns), sort=False))
            step("consistency_filter", pl.col(C.USER).is_in(pl.Series(kept, dtype=pl.Int32).implode()))
        # 6. ratio
        if self.ratio is not None:
            cap = math.floor(self.ratio * real_rows + 1e-9)
            per_user = s.group_by(C.USER).len()
            order = hash_uniform(self.seed, per_user.get_column(C.USER).to_numpy())
            per_user = (
                per_user.with_columns(pl.Series("_u", order))
                .sort(["_u", C.USER])
                .with_columns(pl.col("len").cum_sum().alias("_cum"))
            )
            chosen = per_user.filter(pl.col("_cum") <= cap).get_column(C.USER)
            step("over_ratio", pl.col(C.USER).is_in(chosen.implode()))

        # 7. placement
        if self.placement == "prepend":
            offset = pl.len().cast(pl.Int64).over(C.USER) - pl.int_range(pl.len(), dtype=pl.Int64).over(
                C.USER
            )
            s = s.with_columns(
                pl.when(pl.col("_existing"))
                .then(pl.col("_t0") - offset)
                .otherwise(pl.col(C.TIME))
                .alias(C.TIME)
            )
        else:
            late = s.filter(pl.col("_existing") & ~(pl.col(C.TIME) <= pl.col("_t_last")).fill_null(False))
            if late.height:
                first = late.row(0, named=True)
                raise LeakageError(
                    f"{late.height} synthetic row(s) for existing users are after the user's last training "
                    f"interaction, e.g. user_id={first[C.USER]} timestamp={first[C.TIME]}; "
                    "use placement='prepend' or move them into the training period"
                )

        users_extended = s.filter(pl.col("_existing")).get_column(C.USER).n_unique()
        users_new = s.filter(~pl.col("_existing")).get_column(C.USER).n_unique()

        # Align to train's schema (+ weight) and concatenate.
        t = train.frame
        if self.weight is not None:
            s = s.with_columns(pl.lit(self.weight).alias(C.WEIGHT))
            if C.WEIGHT not in t.columns:
                t = t.with_columns(pl.lit(1.0).alias(C.WEIGHT))
        elif C.WEIGHT in t.columns:  # train is weighted: unweighted synthetic rows count 1.0
            w = pl.col(C.WEIGHT).fill_null(1.0) if C.WEIGHT in s.columns else pl.lit(1.0)
            s = s.with_columns(w.alias(C.WEIGHT))
        schema = t.schema
        s = s.select(
            [
                pl.col(c).cast(dtype) if c in s.columns else pl.lit(None, dtype=dtype).alias(c)
                for c, dtype in schema.items()
            ]
        )
        fused = Interactions(pl.concat([t, s], how="vertical"))
        report = FuseReport(
            rows_in=rows_in,
            dropped=dropped,
            rows_out=_counts(fused.frame),
            users_extended=users_extended,
            users_new=users_new,
            settings=self.settings(),
        )
        log.info(
            "fuse: %d real + %d synthetic rows in, %d synthetic kept (%s) in %.2fs",
            real_rows,
            len(synthetic),
            s.height,
            ", ".join(f"{k}: -{v}" for k, v in dropped.items()) or "nothing dropped",
            time.perf_counter() - started,
        )
        return fused, report


def check_item_codes(synthetic: Interactions, item_space: int, *, file: object | None = None) -> None:
    """Raise :class:`DataError` naming the first synthetic row whose item code is not in the catalogue.

    Valid codes are ``2 .. item_space - 1`` (``Vocabulary.item_space``); ``row`` is the 0-based
    position in ``synthetic`` (its input order), ``file`` where it was read from, if anywhere.
    """
    items = synthetic.frame.get_column(C.ITEM)
    bad = (items >= item_space).arg_true()
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"item code {items[row]} is not in the catalogue ({len(bad)} synthetic row(s) outside it)",
            file=file,
            row=row,
            column=C.ITEM,
            expected=f"item codes 2..{item_space - 1} from the split's vocabulary",
        )


def held_out_hits_kept(fused: Interactions, split: Split) -> int:
    """Diagnostic, *after* fusion: kept synthetic rows that equal a user's held-out (valid/test) pair.

    Reads held-out items; call it only once every decision about ``fused`` is made, to report
    how many synthetic rows guessed a held-out item (pairs also in ``split.train`` are no hit).
    """
    kept = fused.frame.filter(pl.col(C.SOURCE) != C.REAL).select(C.USER, C.ITEM)
    return kept.join(split.leak_pairs(), on=[C.USER, C.ITEM], how="semi").height


def fuse(
    train: Interactions, synthetic: Interactions, *, split: Split | None = None, **settings: object
) -> tuple[Interactions, FuseReport]:
    """Shorthand for ``Fuser(**settings).fuse(train, synthetic, split=split)``."""
    return Fuser(**settings).fuse(train, synthetic, split=split)  # type: ignore[arg-type]
