"""Statistics: seeds, bootstrap intervals, paired comparisons."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from recaug import columns as C
from recaug.evaluate import (
    EvalResult,
    bootstrap_ci,
    compare,
    mean_std,
    paired_seeds,
    paired_stats,
    paired_test,
)


def result(values: np.ndarray, users: np.ndarray | None = None, name: str = "NDCG@10") -> EvalResult:
    users = np.arange(len(values)) if users is None else users
    frame = pl.DataFrame(
        {C.USER: users.astype(np.int32), name: values.astype(np.float64), "HR@10": (values > 0.5) * 1.0}
    )
    return EvalResult(frame, {"candidates": "all_items"})


def test_mean_std_over_seeds() -> None:
    runs = [{"HR@10": 0.1, "NDCG@10": 0.05}, {"HR@10": 0.2, "NDCG@10": 0.07}, {"HR@10": 0.3}]
    out = mean_std(runs)
    assert list(out) == ["HR@10"]  # only metrics every run has
    assert out["HR@10"]["mean"] == pytest.approx(0.2)
    assert out["HR@10"]["std"] == pytest.approx(0.1)  # sample std (ddof=1) of 0.1, 0.2, 0.3
    assert out["HR@10"]["n"] == 3
    assert math.isnan(mean_std([{"HR@10": 0.5}])["HR@10"]["std"])
    assert mean_std([result(np.array([0.0, 1.0]))])["NDCG@10"]["mean"] == 0.5


def test_bootstrap_ci(rng: np.random.Generator) -> None:
    values = rng.random(500)
    ci = bootstrap_ci(values, n_resamples=2000, seed=1)
    assert ci.low < values.mean() < ci.high and ci.mean == pytest.approx(values.mean())
    assert ci == bootstrap_ci(values, n_resamples=2000, seed=1)  # deterministic under seed
    assert ci != bootstrap_ci(values, n_resamples=2000, seed=2)
    # close to the normal-theory interval: mean +- 1.96 * sd / sqrt(n)
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert ci.high - ci.low == pytest.approx(2 * half, rel=0.15)
    wide = bootstrap_ci(values[:50], seed=1)
    assert wide.high - wide.low > ci.high - ci.low
    assert bootstrap_ci(np.full(10, 0.3), seed=0).low == pytest.approx(0.3)


def test_bootstrap_on_result_and_blocks(rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    res = result(rng.random(300))
    cis = bootstrap_ci(res, n_resamples=500, seed=3)
    assert set(cis) == {"NDCG@10", "HR@10"}
    for name, ci in cis.items():
        assert ci.low <= res.summary()[name] <= ci.high and ci.n == 300
    import recaug.evaluate.stats as st

    monkeypatch.setattr(st, "_BLOCK", 1000)  # resample in many small blocks: same numbers
    assert bootstrap_ci(res, n_resamples=500, seed=3) == cis
    assert math.isnan(bootstrap_ci(np.array([])).mean)


def test_paired_detects_planted_shift(rng: np.random.Generator) -> None:
    base = rng.random(400)
    treated = base + 0.05 + rng.normal(0, 0.05, size=400)
    cmp = paired_test(result(base), result(treated))
    assert cmp.n == 400 and cmp.t_pvalue < 1e-6 and cmp.wilcoxon_pvalue < 1e-6
    assert cmp.mean_diff == pytest.approx((treated - base).mean())
    assert cmp.cohens_d == pytest.approx((treated - base).mean() / (treated - base).std(ddof=1))
    assert cmp.relative_lift == pytest.approx(treated.mean() / base.mean() - 1)
    ref = sps.ttest_rel(treated, base)
    assert cmp.t_statistic == pytest.approx(ref.statistic) and cmp.t_pvalue == pytest.approx(ref.pvalue)
    assert cmp.wilcoxon_pvalue == pytest.approx(sps.wilcoxon(treated - base).pvalue)


def test_paired_identical_and_constant_shift(rng: np.random.Generator) -> None:
    base = rng.random(50)
    same = paired_test(result(base), result(base.copy()))
    assert same.t_pvalue == 1.0 and same.wilcoxon_pvalue == 1.0
    assert same.cohens_d == 0.0 and same.mean_diff == 0.0 and same.relative_lift == 0.0
    zeros = paired_stats(np.zeros(20), np.zeros(20))
    assert zeros.t_pvalue == 1.0 and zeros.relative_lift == 0.0
    shift = paired_stats(np.zeros(20), np.full(20, 0.1))
    assert shift.cohens_d == math.inf and shift.t_pvalue == 0.0 and shift.wilcoxon_pvalue < 1e-4
    assert shift.relative_lift == math.inf
    # mostly zero differences (typical for HR) work too
    d = np.zeros(100)
    d[:10] = 1.0
    some = paired_stats(np.zeros(100), d)
    assert 0 < some.t_pvalue < 0.05 and some.n == 100


def test_paired_aligns_by_user(rng: np.random.Generator) -> None:
    base = rng.random(100)
    treated = base + 0.1
    order = rng.permutation(100)
    extra_users = np.r_[order, [500, 501]]
    shuffled = result(np.r_[treated[order], [0.0, 0.0]], extra_users)
    cmp = compare(result(base), shuffled)
    assert set(cmp) == {"NDCG@10", "HR@10"}
    assert cmp["NDCG@10"].n == 100 and cmp["NDCG@10"].mean_diff == pytest.approx(0.1)
    frame_cmp = paired_test(result(base).per_user, shuffled.per_user)
    assert frame_cmp.to_dict() == cmp["NDCG@10"].to_dict()


def test_paired_seeds() -> None:
    control = [{"NDCG@10": v} for v in (0.10, 0.11, 0.12, 0.10, 0.11)]
    treatment = [{"NDCG@10": v} for v in (0.12, 0.12, 0.14, 0.11, 0.13)]
    cmp = paired_seeds(control, treatment)
    assert cmp.n == 5 and cmp.mean_diff == pytest.approx(0.016) and cmp.t_pvalue < 0.05
