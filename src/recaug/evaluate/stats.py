"""Statistics over evaluation results: seeds, bootstrap intervals, paired comparisons.

* :func:`mean_std` - mean and sample standard deviation (``ddof=1``) of each metric over seeds.
* :func:`bootstrap_ci` - percentile bootstrap confidence interval of per-user means; resamples
  are drawn as an index matrix in blocks (vectorised, bounded memory) with a seeded generator,
  turned into per-user draw counts, and every metric's resampled means come from one matrix
  product (all metrics share the same resamples).
* :func:`paired_test` / :func:`compare` - control vs treatment on the same users (aligned by
  ``user_id``): paired t-test and Wilcoxon signed-rank (SciPy), Cohen's d for paired data
  (mean difference / sd of differences) and relative lift (treatment / control - 1).
  Identical runs give p = 1 and effect 0 instead of NaN warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl
from scipy import stats as sps

from recaug import columns as C
from recaug.errors import ConfigError, DataError
from recaug.evaluate.result import EvalResult

#: Largest resample-index block (entries) held in memory at once.
_BLOCK = 4_000_000


def _summary_of(r: EvalResult | Mapping[str, float]) -> Mapping[str, float]:
    return r.summary() if isinstance(r, EvalResult) else r


def mean_std(results: Sequence[EvalResult | Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "std", "n"}}`` over several runs (e.g. seeds); std is NaN for one run.

    Only metrics present in every run are reported.
    """
    if not results:
        raise ConfigError("mean_std needs at least one result")
    summaries = [_summary_of(r) for r in results]
    keys = [k for k in summaries[0] if all(k in s for s in summaries[1:])]
    out = {}
    for k in keys:
        v = np.array([s[k] for s in summaries], dtype=np.float64)
        out[k] = {
            "mean": float(v.mean()),
            "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
            "n": len(v),
        }
    return out


@dataclass(frozen=True)
class ConfidenceInterval:
    """Mean with a bootstrap interval ``[low, high]`` at ``confidence``."""

    mean: float
    low: float
    high: float
    confidence: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


def _bootstrap_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, n_columns)`` means of resampled rows of ``values`` (``(n, m)``)."""
    n = values.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, values.shape[1]))
    block = max(1, _BLOCK // max(n, 1))
    for start in range(0, n_resamples, block):
        stop = min(start + block, n_resamples)
        b = stop - start
        idx = rng.integers(0, n, size=(b, n))
        # how often each user was drawn in each resample; means are then one matrix product
        counts = np.bincount((idx + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        out[start:stop] = (counts.astype(np.float64) @ values) / n
    return out


def bootstrap_ci(
    values: np.ndarray | EvalResult,
    *,
    metrics: Sequence[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval | dict[str, ConfidenceInterval]:
    """Percentile bootstrap CI of the mean over users.

    ``values`` is a 1-d array of per-user values (returns one interval) or an ``EvalResult``
    (returns ``{metric: interval}`` for ``metrics``, default all). Same ``seed``, same interval.
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ConfigError("n_resamples must be >= 1")
    if isinstance(values, EvalResult):
        names = list(metrics) if metrics is not None else values.metric_names
        matrix = values.per_user.select(names).to_numpy().astype(np.float64)
    else:
        names = None
        matrix = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    n = matrix.shape[0]
    if n == 0:
        nan = float("nan")
        cis = [ConfidenceInterval(nan, nan, nan, confidence, 0) for _ in range(matrix.shape[1])]
    else:
        means = _bootstrap_means(matrix, n_resamples, seed)
        alpha = (1.0 - confidence) / 2.0
        low, high = np.quantile(means, [alpha, 1.0 - alpha], axis=0)
        centre = matrix.mean(axis=0)
        cis = [
            ConfidenceInterval(float(centre[j]), float(low[j]), float(high[j]), confidence, n)
            for j in range(matrix.shape[1])
        ]
    return cis[0] if names is None else dict(zip(names, cis, strict=True))


@dataclass(frozen=True)
class PairedComparison:
    """Control vs treatment on the same units (users or seeds)."""

    metric: str
    n: int
    mean_control: float
    mean_treatment: float
    mean_diff: float
    relative_lift: float
    cohens_d: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_statistic: float
    wilcoxon_pvalue: float

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready form."""
        return asdict(self)


def paired_stats(control: np.ndarray, treatment: np.ndarray, metric: str = "value") -> PairedComparison:
    """Paired t-test, Wilcoxon signed-rank, Cohen's d and relative lift for aligned arrays."""
    a = np.asarray(control, dtype=np.float64)
    b = np.asarray(treatment, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise DataError(f"paired values must be 1-d and aligned, got shapes {a.shape} and {b.shape}")
    n = len(a)
    nan = float("nan")
    if n == 0:
        return PairedComparison(metric, 0, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    d = b - a
    mean_a, mean_b, mean_d = float(a.mean()), float(b.mean()), float(d.mean())
    if mean_a != 0:
        lift = mean_b / mean_a - 1.0
    else:
        lift = 0.0 if mean_b == 0 else math.copysign(math.inf, mean_b)
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    nonzero = np.count_nonzero(d)
    if nonzero == 0:  # identical runs: no evidence of any difference
        return PairedComparison(metric, n, mean_a, mean_b, 0.0, lift, 0.0, 0.0, 1.0, 0.0, 1.0)
    if sd <= 1e-9 * abs(mean_d):  # a constant non-zero shift up to rounding (or a single unit)
        cohens_d = math.copysign(math.inf, mean_d) if n > 1 else nan
        t_stat, t_p = (cohens_d, 0.0) if n > 1 else (nan, nan)
    else:
        cohens_d = mean_d / sd
        t = sps.ttest_rel(b, a)
        t_stat, t_p = float(t.statistic), float(t.pvalue)
    w = sps.wilcoxon(d, zero_method="wilcox")
    return PairedComparison(
        metric, n, mean_a, mean_b, mean_d, lift, cohens_d, t_stat, t_p, float(w.statistic), float(w.pvalue)
    )


def _frame_of(r: EvalResult | pl.DataFrame) -> pl.DataFrame:
    return r.per_user if isinstance(r, EvalResult) else r


def paired_test(
    control: EvalResult | pl.DataFrame,
    treatment: EvalResult | pl.DataFrame,
    metric: str = "NDCG@10",
    *,
    on: str = C.USER,
) -> PairedComparison:
    """Compare two runs on the users both evaluated (inner join on ``on``)."""
    return compare(control, treatment, [metric], on=on)[metric]


def compare(
    control: EvalResult | pl.DataFrame,
    treatment: EvalResult | pl.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    on: str = C.USER,
) -> dict[str, PairedComparison]:
    """:func:`paired_test` for several metrics (default: every metric of ``control``)."""
    fa, fb = _frame_of(control), _frame_of(treatment)
    names = (
        list(metrics)
        if metrics is not None
        else [
            m for m in (control.metric_names if isinstance(control, EvalResult) else fa.columns) if "@" in m
        ]
    )
    for m in names:
        for side, f in (("control", fa), ("treatment", fb)):
            if m not in f.columns:
                raise DataError(f"{side} results have no column {m!r}", column=m)
    joined = fa.select(on, *names).join(fb.select(on, *names), on=on, how="inner", suffix="__t")
    if len(joined) < max(len(fa), len(fb)):
        import logging

        logging.getLogger("recaug.evaluate").warning(
            "paired comparison on %d common users (control %d, treatment %d)", len(joined), len(fa), len(fb)
        )
    return {
        m: paired_stats(joined.get_column(m).to_numpy(), joined.get_column(m + "__t").to_numpy(), m)
        for m in names
    }


def paired_seeds(
    control: Sequence[EvalResult | Mapping[str, float]],
    treatment: Sequence[EvalResult | Mapping[str, float]],
    metric: str = "NDCG@10",
) -> PairedComparison:
    """Paired comparison over seeds: ``control[i]`` and ``treatment[i]`` share seed ``i``."""
    if len(control) != len(treatment):
        raise ConfigError(f"{len(control)} control runs vs {len(treatment)} treatment runs")
    a = [_summary_of(r)[metric] for r in control]
    b = [_summary_of(r)[metric] for r in treatment]
    return paired_stats(np.array(a), np.array(b), metric)
