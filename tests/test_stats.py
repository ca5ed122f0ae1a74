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
from recaug.evaluate.stats import (
    joint_significance,
    pool_seeds,
    seed_level_test,
    seed_lifts,
    seed_pooled,
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


# -- seed level --------------------------------------------------------------------------------
def test_seed_level_t_test_by_hand() -> None:
    """Lifts +5%, +2.6%, +1.9%: mean 0.031667, sd 0.016258, t = mean / (sd / sqrt 3) = 3.3735 with
    2 degrees of freedom, where the two-sided p is exactly 1 - t / sqrt(t^2 + 2) = 0.07776."""
    lifts = [0.05, 0.026, 0.019]
    test = seed_level_test(lifts)
    mean = 0.095 / 3
    sd = math.sqrt(((0.05 - mean) ** 2 + (0.026 - mean) ** 2 + (0.019 - mean) ** 2) / 2)
    t = mean / (sd / math.sqrt(3))
    assert test.n_seeds == 3 and test.lifts == tuple(lifts) and test.reason is None
    assert test.mean_lift == pytest.approx(0.0316667, abs=1e-7)
    assert test.std_lift == pytest.approx(0.0162583, abs=1e-7)
    assert test.t_statistic == pytest.approx(t) and t == pytest.approx(3.37355, abs=1e-5)
    assert test.pvalue == pytest.approx(1 - t / math.sqrt(t * t + 2)) and test.pvalue == pytest.approx(0.07776, abs=1e-5)
    assert test.pvalue == pytest.approx(sps.ttest_1samp(lifts, 0.0).pvalue)
    assert test.to_dict()["lifts"] == lifts
    # every seed up by the same few percent (small spread) is significant at 5%, with 4 seeds
    four = seed_level_test([0.031, 0.029, 0.030, 0.032])
    assert four.pvalue == pytest.approx(sps.ttest_1samp([0.031, 0.029, 0.030, 0.032], 0.0).pvalue)
    assert four.pvalue < 0.001


def test_seed_level_from_control_and_treatment_means() -> None:
    control = [0.100, 0.050, 0.080]
    treatment = [0.105, 0.0513, 0.08152]  # +5%, +2.6%, +1.9%
    assert seed_lifts(control, treatment) == pytest.approx([0.05, 0.026, 0.019])
    test = seed_level_test(control=control, treatment=treatment)
    assert test.pvalue == pytest.approx(seed_level_test([0.05, 0.026, 0.019]).pvalue)
    # summaries and per-user frames work too (a frame's seed mean is its mean over users)
    frames_c = [pl.DataFrame({C.USER: [0, 1], "NDCG@10": [v, v]}) for v in control]
    frames_t = [{"NDCG@10": v} for v in treatment]
    assert seed_level_test(control=frames_c, treatment=frames_t).t_statistic == pytest.approx(test.t_statistic)
    with pytest.raises(Exception, match="either lifts or both"):
        seed_level_test([0.1], control=control)


def test_seed_level_needs_two_finite_seeds() -> None:
    one = seed_level_test([0.05])
    assert one.n_seeds == 1 and one.mean_lift == 0.05 and one.pvalue is None and one.t_statistic is None
    assert "fewer than 2 seeds" in (one.reason or "")
    assert seed_level_test([]).pvalue is None and seed_level_test([]).reason == "no seeds"
    inf = seed_level_test(control=[0.0, 0.1], treatment=[0.1, 0.1])
    assert inf.pvalue is None and "not finite" in (inf.reason or "")
    zero = seed_level_test([0.0, 0.0, 0.0])
    assert zero.pvalue == 1.0 and zero.t_statistic == 0.0
    same = seed_level_test([0.02, 0.02])
    assert same.pvalue == 0.0 and same.t_statistic == math.inf


def test_joint_significance_needs_both_tests() -> None:
    seeds_ok = seed_level_test([0.031, 0.029, 0.030, 0.032])  # p < 0.001
    seeds_weak = seed_level_test([0.05, 0.026, 0.019])  # p = 0.078
    pooled_ok = {"relative_lift": 0.03, "wilcoxon_pvalue": 0.001}
    pooled_weak = {"relative_lift": 0.03, "wilcoxon_pvalue": 0.2}
    yes = joint_significance(seeds_ok, pooled=pooled_ok)
    assert yes.significant and yes.per_user == "pooled" and yes.per_user_pvalues == (0.001,)
    assert yes.seed_pvalue == seeds_ok.pvalue
    no_seed = joint_significance(seeds_weak, pooled=pooled_ok)  # per-user alone is not enough
    assert not no_seed.significant and "seed-level" in no_seed.reason
    no_user = joint_significance(seeds_ok, pooled=pooled_weak)  # seeds alone are not enough
    assert not no_user.significant and "per-user" in no_user.reason
    assert joint_significance(seeds_weak, pooled=pooled_ok, alpha=0.1).significant  # alpha is a setting
    # no pooled test: every per-seed test must hold
    per_seed = [{"relative_lift": 0.03, "wilcoxon_pvalue": p} for p in (0.01, 0.02, 0.04, 0.03)]
    assert joint_significance(seeds_ok, per_seed=per_seed).per_user == "per seed"
    assert joint_significance(seeds_ok, per_seed=per_seed).significant
    assert not joint_significance(seeds_ok, per_seed=[*per_seed[:3], {"wilcoxon_pvalue": 0.06}]).significant
    # the pooled test wins over the per-seed ones when both exist
    assert joint_significance(seeds_ok, pooled=pooled_ok, per_seed=[0.5, 0.5]).significant
    # one seed: no seed-level test, so never significant by both
    single = joint_significance(seed_level_test([0.05]), per_seed=[0.0001])
    assert not single.significant and "fewer than 2 seeds" in single.reason and single.seed_pvalue is None
    assert not joint_significance(seeds_ok).significant  # no per-user test at all
    # directions must agree
    down = joint_significance(seeds_ok, pooled={"relative_lift": -0.02, "wilcoxon_pvalue": 0.001})
    assert not down.significant and "opposite" in down.reason
    # a PairedComparison works as the per-user test; which p-value is read is a setting
    rng = np.random.default_rng(0)
    a = rng.random(200)
    cmp = paired_stats(a, a * 1.03 + 0.001)
    assert joint_significance(seeds_ok, pooled=cmp).significant
    assert joint_significance(seeds_ok, pooled=cmp, which="t_pvalue").per_user_pvalues == (cmp.t_pvalue,)
    assert joint_significance(seeds_ok, pooled=cmp).to_dict()["significant"] is True


def test_pool_seeds_averages_users_over_seeds_in_user_order() -> None:
    rng = np.random.default_rng(3)
    n = 30
    seg = np.arange(n) % 4 == 0
    seeds = [rng.random(n) for _ in range(3)]

    def frame(v: np.ndarray, order: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({C.USER: order.astype(np.int32), "NDCG@10": v[order], "segment:short": seg[order]})

    frames = [frame(v, rng.permutation(n)) for v in seeds]  # users listed in another order per seed
    pooled = pool_seeds(frames)
    assert pooled.get_column(C.USER).to_list() == list(range(n))
    assert pooled.get_column("NDCG@10").to_numpy() == pytest.approx(np.mean(seeds, axis=0))
    assert pooled.get_column("segment:short").to_list() == seg.tolist()
    arms = [frame(v + 0.02, np.arange(n)) for v in seeds]
    got = seed_pooled(frames, arms, ["NDCG@10"])["NDCG@10"]
    want = np.mean(seeds, axis=0)
    assert got.n == n and got.mean_diff == pytest.approx(0.02)
    assert got.relative_lift == pytest.approx((want + 0.02).mean() / want.mean() - 1)
    with pytest.raises(Exception, match="control runs"):
        seed_pooled(frames, arms[:2])
    with pytest.raises(Exception, match="at least one"):
        pool_seeds([])
