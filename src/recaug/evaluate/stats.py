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
* :func:`pool_seeds` / :func:`seed_pooled` - per-user metrics averaged over seeds, then the paired
  per-user test on them (the seed-averaged model pair; seed-to-seed variance is ignored).
* :func:`seed_level_test` - one-sample t-test of the per-seed relative lifts against 0 (each seed
  one observation; ``p = None`` with a reason below 2 seeds).
* :func:`joint_significance` - "significant" only when the per-user paired test (pooled, else
  every seed's) and the seed-level test both hold at ``alpha``.
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


# -- seeds: pooling per-user results, and the seed-level test ----------------------------------
def pool_seeds(results: Sequence[EvalResult | pl.DataFrame], *, on: str = C.USER) -> pl.DataFrame:
    """One row per user: every metric (columns with ``@``) averaged over the seeds' per-user results.

    The seeds share one split, so their users are the same; other columns (``segment:*``,
    ``n_history`` ...) are taken from the first result. Rows are in ``on`` order (deterministic).
    A paired test on two pooled frames (:func:`seed_pooled`) tests the seed-averaged model pair
    over users: it ignores how much the lift varies from seed to seed (see :func:`seed_level_test`).
    """
    frames = [_frame_of(r) for r in results]
    if not frames:
        raise ConfigError("pool_seeds needs at least one per-user result")
    metrics = [c for c in frames[0].columns if "@" in c]
    for i, f in enumerate(frames):
        missing = [m for m in metrics if m not in f.columns]
        if missing:
            raise DataError(f"per-user result {i} lacks metric column(s) {missing}", column=missing[0])
    stacked = pl.concat([f.select(on, *metrics).with_columns(pl.col(metrics).cast(pl.Float64)) for f in frames])
    mean = stacked.group_by(on).agg(pl.col(metrics).mean()).sort(on)
    rest = [c for c in frames[0].columns if c != on and c not in metrics]
    return mean.join(frames[0].select(on, *rest), on=on, how="left") if rest else mean


def seed_pooled(
    control: Sequence[EvalResult | pl.DataFrame],
    treatment: Sequence[EvalResult | pl.DataFrame],
    metrics: Sequence[str] | None = None,
    *,
    on: str = C.USER,
) -> dict[str, PairedComparison]:
    """:func:`compare` on the seed-averaged per-user metrics (:func:`pool_seeds`) of both arms.

    ``control[i]`` and ``treatment[i]`` are the per-user results of the same seed.
    """
    if len(control) != len(treatment):
        raise ConfigError(f"{len(control)} control runs vs {len(treatment)} treatment runs")
    return compare(pool_seeds(control, on=on), pool_seeds(treatment, on=on), metrics, on=on)


@dataclass(frozen=True)
class SeedLevelTest:
    """One-sample t-test of the per-seed relative lifts against 0 (each seed one observation).

    ``pvalue`` (two-sided) and ``t_statistic`` are ``None`` with a ``reason`` when there is no
    test: fewer than 2 seeds, or a lift that is not finite (a control mean of 0). All lifts 0
    give p = 1; the same non-zero lift in every seed gives p = 0 (as :func:`paired_stats`).
    """

    metric: str
    n_seeds: int
    lifts: tuple[float, ...]
    mean_lift: float | None
    std_lift: float | None
    t_statistic: float | None
    pvalue: float | None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        d = asdict(self)
        d["lifts"] = list(self.lifts)
        return d


def _mean_of(r: EvalResult | pl.DataFrame | Mapping[str, float] | float, metric: str) -> float:
    if isinstance(r, int | float | np.floating | np.integer):
        return float(r)
    if isinstance(r, pl.DataFrame):
        if metric not in r.columns or r.height == 0:
            raise DataError(f"a per-user result has no {metric!r} values", column=metric)
        return float(r.get_column(metric).mean())  # type: ignore[arg-type]
    return float(_summary_of(r)[metric])


def seed_lifts(
    control: Sequence[EvalResult | pl.DataFrame | Mapping[str, float] | float],
    treatment: Sequence[EvalResult | pl.DataFrame | Mapping[str, float] | float],
    metric: str = "NDCG@10",
) -> list[float]:
    """Relative lift ``treatment / control - 1`` of each seed (``control[i]`` pairs ``treatment[i]``).

    Each entry is a per-seed mean (a number), a summary mapping, an ``EvalResult`` or a per-user
    frame (its mean over users). A control mean of 0 gives ``inf`` (or 0 when both are 0).
    """
    if len(control) != len(treatment):
        raise ConfigError(f"{len(control)} control runs vs {len(treatment)} treatment runs")
    out = []
    for a, b in zip(control, treatment, strict=True):
        ma, mb = _mean_of(a, metric), _mean_of(b, metric)
        out.append(mb / ma - 1.0 if ma != 0 else (0.0 if mb == 0 else math.copysign(math.inf, mb)))
    return out


def seed_level_test(
    lifts: Sequence[float] | None = None,
    *,
    control: Sequence[EvalResult | pl.DataFrame | Mapping[str, float] | float] | None = None,
    treatment: Sequence[EvalResult | pl.DataFrame | Mapping[str, float] | float] | None = None,
    metric: str = "NDCG@10",
) -> SeedLevelTest:
    """Is the lift consistent over seeds? A one-sample t-test of the per-seed relative lifts against 0.

    Give the per-seed ``lifts`` or the per-seed ``control`` and ``treatment`` results (see
    :func:`seed_lifts`). The seeds are the observations, so seed-to-seed variance counts: a lift
    that three seeds show at +5%, +2.6% and +1.9% is judged on those three numbers alone, however
    many users each seed evaluated.
    """
    means = (control is not None, treatment is not None)
    if (lifts is None and means != (True, True)) or (lifts is not None and any(means)):
        raise ConfigError("seed_level_test needs either lifts or both control and treatment")
    if lifts is None:
        assert control is not None and treatment is not None
        lifts = seed_lifts(control, treatment, metric)
    x = np.asarray([float(v) for v in lifts], dtype=np.float64)
    n = len(x)
    if n == 0:
        return SeedLevelTest(metric, 0, (), None, None, None, None, "no seeds")
    values = tuple(float(v) for v in x)
    if not np.isfinite(x).all():
        return SeedLevelTest(metric, n, values, None, None, None, None, "a seed's lift is not finite (control 0)")
    mean = float(x.mean())
    if n < 2:
        return SeedLevelTest(metric, n, values, mean, None, None, None, "fewer than 2 seeds: no seed-level test")
    sd = float(x.std(ddof=1))
    if not np.any(x):
        return SeedLevelTest(metric, n, values, mean, sd, 0.0, 1.0)
    if sd <= 1e-12 * abs(mean):  # the same non-zero lift in every seed (up to rounding)
        return SeedLevelTest(metric, n, values, mean, sd, math.copysign(math.inf, mean), 0.0)
    t = sps.ttest_1samp(x, 0.0)
    return SeedLevelTest(metric, n, values, mean, sd, float(t.statistic), float(t.pvalue))


@dataclass(frozen=True)
class Significance:
    """The decision of :func:`joint_significance` and what it rests on."""

    significant: bool
    alpha: float
    per_user: str | None  # "pooled", "per seed" or None (no per-user test)
    per_user_pvalues: tuple[float, ...]
    seed_pvalue: float | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        d = asdict(self)
        d["per_user_pvalues"] = list(self.per_user_pvalues)
        return d


def _pvalue(x: PairedComparison | Mapping[str, float] | float | None, which: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, PairedComparison):
        p = getattr(x, which)
    elif isinstance(x, Mapping):
        p = x.get(which)
    else:
        p = x
    return None if p is None or not math.isfinite(float(p)) else float(p)


def _lift_of(x: PairedComparison | Mapping[str, float] | float | None) -> float | None:
    if isinstance(x, PairedComparison):
        return x.relative_lift
    if isinstance(x, Mapping):
        return x.get("relative_lift")
    return None


def joint_significance(
    seed_test: SeedLevelTest | None,
    *,
    pooled: PairedComparison | Mapping[str, float] | float | None = None,
    per_seed: Sequence[PairedComparison | Mapping[str, float] | float] | None = None,
    alpha: float = 0.05,
    which: str = "wilcoxon_pvalue",
) -> Significance:
    """Significant only when BOTH the per-user paired test and the seed-level test hold at ``alpha``.

    The per-user test is the seed-pooled one (``pooled``, :func:`seed_pooled`) when given, else
    every per-seed test (``per_seed``) must hold. Each is a :class:`PairedComparison`, its
    ``to_dict()`` or a bare p-value; ``which`` names the p-value to read (``wilcoxon_pvalue`` or
    ``t_pvalue``). The seed-level test (:func:`seed_level_test`) must have a p-value (>= 2 seeds)
    below ``alpha``, and the per-user lifts must point the same way as the mean seed lift.
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha}")
    seed_p = seed_test.pvalue if seed_test is not None else None
    if pooled is not None:
        kind, tests = "pooled", [pooled]
    elif per_seed:
        kind, tests = "per seed", list(per_seed)
    else:
        kind, tests = None, []
    ps = [_pvalue(t, which) for t in tests]
    shown = tuple(p for p in ps if p is not None)

    def decide(ok: bool, reason: str) -> Significance:
        return Significance(ok, alpha, kind, shown, seed_p, reason)

    if kind is None:
        return decide(False, "no per-user paired test")
    if None in ps:
        return decide(False, "a per-user test has no p-value")
    if seed_test is None or seed_p is None:
        why = seed_test.reason if seed_test is not None and seed_test.reason else "no seed-level test"
        return decide(False, why)
    user_ok = all(p < alpha for p in shown)
    seed_ok = seed_p < alpha
    if not user_ok and not seed_ok:
        return decide(False, f"neither the per-user ({kind}) nor the seed-level test is below {alpha:g}")
    if not user_ok:
        return decide(False, f"the per-user test ({kind}) is not below {alpha:g}")
    if not seed_ok:
        return decide(False, f"the seed-level test is not below {alpha:g}")
    mean = seed_test.mean_lift or 0.0
    user_lifts = [lift for t in tests if (lift := _lift_of(t)) is not None]
    if any(lift * mean < 0 for lift in user_lifts):
        return decide(False, "the per-user and seed-level lifts point in opposite directions")
    return decide(True, f"per-user ({kind}) and seed-level tests both below {alpha:g}")
