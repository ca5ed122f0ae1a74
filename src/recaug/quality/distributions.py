"""Marginal fidelity statistics: sequence length, item popularity, category mix, transitions.

Every function compares a real and a synthetic ``Interactions`` and returns
``(score, stats)``: ``score`` is in [0, 1] with 1 = the two distributions are
indistinguishable by that statistic, ``stats`` holds JSON-ready raw numbers.
All work is vectorised Polars / NumPy; nothing loops over users.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import stats as sps

from recaug import columns as C
from recaug.data.interactions import Interactions

_MISSING_CATEGORY = "<missing>"


def shares(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Relative frequency (column ``share``) of every distinct value of ``keys``, in key order.

    Polars ``group_by`` order is arbitrary; the sort makes what is written from it (plot data
    that feeds a stage fingerprint) byte-identical from run to run.
    """
    counts = frame.group_by(keys).len().sort(keys, nulls_last=True)
    total = counts.get_column("len").sum()
    return counts.with_columns((pl.col("len") / max(total, 1)).alias("share")).drop("len")


def counts(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Number of rows (column ``n``) of every distinct value of ``keys``, in key order."""
    return frame.group_by(keys).agg(pl.len().cast(pl.Int64).alias("n")).sort(keys, nulls_last=True)


def _aligned(p: pl.DataFrame, q: pl.DataFrame, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer counts of both sides over the union of keys, in key order (deterministic)."""
    joined = p.rename({"n": "_p"}).join(
        q.rename({"n": "_q"}), on=keys, how="full", coalesce=True, nulls_equal=True
    )
    joined = joined.with_columns(pl.col("_p").fill_null(0), pl.col("_q").fill_null(0)).sort(keys)
    return joined.get_column("_p").to_numpy(), joined.get_column("_q").to_numpy()


def total_variation(p: pl.DataFrame, q: pl.DataFrame, keys: list[str]) -> float:
    """Total variation distance (0 = equal, 1 = disjoint) between two ``counts`` frames.

    Computed in exact integer arithmetic: ``sum |a_i * B - b_i * A| / (2 * A * B)``, so equal
    distributions give exactly 0 and disjoint ones exactly 1.
    """
    a, b = _aligned(p, q, keys)
    total_a, total_b = int(a.sum()), int(b.sum())
    if total_a == 0 or total_b == 0:
        return 0.0 if total_a == total_b else 1.0
    dtype = np.int64 if total_a * total_b < 2**61 else object  # object = Python ints, no overflow
    diff = int(np.abs(a.astype(dtype) * total_b - b.astype(dtype) * total_a).sum())
    return diff / (2 * total_a * total_b)


def jensen_shannon(p: pl.DataFrame, q: pl.DataFrame, keys: list[str]) -> float:
    """Jensen-Shannon divergence in bits (0 = equal, 1 = disjoint) between two ``counts`` frames."""
    a, b = _aligned(p, q, keys)
    a = a / max(a.sum(), 1)
    b = b / max(b.sum(), 1)
    m = 0.5 * (a + b)

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return float(min(1.0, max(0.0, 0.5 * kl(a) + 0.5 * kl(b))))


def user_lengths(interactions: Interactions) -> np.ndarray:
    """Number of interactions of every user, in user-code order (deterministic: it is written to
    the fuse stage's ``quality/plot_data.json``, which feeds the stage fingerprint)."""
    return interactions.frame.group_by(C.USER).len().sort(C.USER).get_column("len").to_numpy()


def length_fidelity(real: Interactions, synthetic: Interactions) -> tuple[float, dict[str, Any]]:
    """Sequence-length distributions: score = 1 - two-sample Kolmogorov-Smirnov statistic."""
    a, b = user_lengths(real), user_lengths(synthetic)
    ks = float(sps.ks_2samp(a, b).statistic) if len(a) and len(b) else 1.0

    def summary(x: np.ndarray) -> dict[str, float]:
        if not len(x):
            return {"users": 0}
        return {
            "users": int(len(x)),
            "mean": float(x.mean()),
            "median": float(np.median(x)),
            "p90": float(np.quantile(x, 0.9)),
            "min": int(x.min()),
            "max": int(x.max()),
        }

    return 1.0 - ks, {"ks_statistic": ks, "real": summary(a), "synthetic": summary(b)}


def popularity_fidelity(real: Interactions, synthetic: Interactions) -> tuple[float, dict[str, Any]]:
    """Item frequency distributions: score = 1 - total variation distance."""
    p, q = counts(real.frame, [C.ITEM]), counts(synthetic.frame, [C.ITEM])
    tv = total_variation(p, q, [C.ITEM])
    real_items = p.get_column(C.ITEM)
    covered = q.filter(pl.col(C.ITEM).is_in(real_items.implode())).height
    return 1.0 - tv, {
        "total_variation": tv,
        "jensen_shannon": jensen_shannon(p, q, [C.ITEM]),
        "items_real": int(p.height),
        "items_synthetic": int(q.height),
        "real_items_covered": float(covered / max(p.height, 1)),
        "synthetic_items_unseen_in_real": int(q.height - covered),
    }


def with_category(interactions: Interactions, items: pl.DataFrame) -> pl.DataFrame:
    """The interactions with the item table's ``category`` joined on (missing -> ``<missing>``)."""
    table = items.select(pl.col(C.ITEM).cast(pl.Int32), pl.col(C.CATEGORY).cast(pl.Utf8)).unique(
        C.ITEM, keep="first"
    )
    frame = interactions.frame.select(C.USER, C.ITEM).join(table, on=C.ITEM, how="left")
    return frame.with_columns(pl.col(C.CATEGORY).fill_null(_MISSING_CATEGORY))


def category_fidelity(
    real: Interactions, synthetic: Interactions, items: pl.DataFrame
) -> tuple[float, dict[str, Any]]:
    """Category mix of interactions: score = 1 - total variation distance over categories."""
    p = counts(with_category(real, items), [C.CATEGORY])
    q = counts(with_category(synthetic, items), [C.CATEGORY])
    tv = total_variation(p, q, [C.CATEGORY])
    return 1.0 - tv, {
        "total_variation": tv,
        "categories_real": int(p.height),
        "categories_synthetic": int(q.height),
    }


def transitions(interactions: Interactions) -> pl.DataFrame:
    """Counts of consecutive ``(item_id, next_item)`` pairs within each user's time-ordered sequence."""
    frame = interactions.frame.select(C.USER, C.ITEM, C.TIME).sort([C.USER, C.TIME], maintain_order=True)
    frame = frame.with_columns(pl.col(C.ITEM).shift(-1).over(C.USER).alias("next_item")).drop_nulls(
        "next_item"
    )
    return counts(frame, [C.ITEM, "next_item"])


def transition_fidelity(real: Interactions, synthetic: Interactions) -> tuple[float, dict[str, Any]]:
    """Item-to-item transition distributions: score = 1 - total variation distance.

    Users with a single interaction contribute no transitions; if either side has none the
    score is 0 unless both have none (then 1).
    """
    p, q = transitions(real), transitions(synthetic)
    if p.height == 0 or q.height == 0:
        tv = 0.0 if p.height == q.height else 1.0
        js = tv
    else:
        tv = total_variation(p, q, [C.ITEM, "next_item"])
        js = jensen_shannon(p, q, [C.ITEM, "next_item"])
    return 1.0 - tv, {
        "total_variation": tv,
        "jensen_shannon": js,
        "distinct_transitions_real": int(p.height),
        "distinct_transitions_synthetic": int(q.height),
    }
