"""Seed-pooled paired comparison of expand_accuracy.py: per-user means over seeds, then one test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.stats as sps

from conftest import load_benchmark

expand = load_benchmark("expand_accuracy")
merge_results = load_benchmark("merge_results")
summarize = load_benchmark("summarize")


def _per_user(values: np.ndarray, short: np.ndarray) -> pl.DataFrame:
    # users listed in another order than the seed before, as a real frame may be
    return pl.DataFrame({"user_id": np.arange(len(values))[::-1], "HR@10": (values > 0).astype(float)[::-1],
                         "NDCG@10": values[::-1], "segment:history<=5": short[::-1],
                         "segment:cold_users": short[::-1]})  # fmt: skip


def test_pooled_tests_the_seed_averaged_users_against_a_direct_wilcoxon():
    rng = np.random.default_rng(0)
    n = 40
    short = np.arange(n) % 3 == 0
    control = [rng.random(n) for _ in range(3)]
    arm = [c + rng.normal(0.05, 0.1, n) for c in control]
    evals = {("sasrec-ce", s): _per_user(control[s], short) for s in range(3)}
    evals |= {("sasrec-ce+cl4srec-concat", s): _per_user(arm[s], short) for s in range(3)}
    evals.pop(("sasrec-ce+cl4srec-concat", 2))  # a seed without its arm is left out of the pool
    ctx = {"name": "beauty", "evals": evals}
    [entry] = expand.pooled(ctx, ["sasrec-ce", "sasrec-ce+cl4srec-concat"], [0, 1, 2])
    assert (entry["variant"], entry["control"], entry["seeds"]) == ("sasrec-ce+cl4srec-concat", "sasrec-ce", [0, 1])
    c_mean, a_mean = (control[0] + control[1]) / 2, (arm[0] + arm[1]) / 2
    got = entry["paired_vs_control"]["all"]["NDCG@10"]
    assert got["mean_control"] == pytest.approx(c_mean.mean())
    assert got["relative_lift"] == pytest.approx(a_mean.mean() / c_mean.mean() - 1)
    assert got["wilcoxon_pvalue"] == pytest.approx(sps.wilcoxon(a_mean - c_mean).pvalue)
    short_got = entry["paired_vs_control"]["history<=5"]["NDCG@10"]
    assert short_got["n"] == short.sum()
    assert short_got["wilcoxon_pvalue"] == pytest.approx(sps.wilcoxon((a_mean - c_mean)[short]).pvalue)
    assert expand.pooled({"name": "beauty", "evals": {k: v for k, v in evals.items() if k[1] == 0}},
                         ["sasrec-ce+cl4srec-concat"], [0, 1, 2]) == []  # one seed: nothing to pool


def _pooled_doc(lift: float, seeds: list[int]) -> dict:
    pv = {"all": {"NDCG@10": {"relative_lift": lift, "wilcoxon_pvalue": 0.004}}}
    return {"dataset": "sports", "variant": "sasrec-ce+x", "control": "sasrec-ce", "seeds": seeds,
            "paired_vs_control": pv}


def test_merge_keeps_pooled_entries_and_refuses_a_clash():
    main = {"benchmark": "expand_accuracy", "quick": False, "protocol": {}, "results": [],
            "pooled": [_pooled_doc(0.03, [0, 1])]}
    extra = {**main, "pooled": [_pooled_doc(0.03, [0, 1]), _pooled_doc(0.02, [0, 1, 2])]}
    out = merge_results.merge(main, extra, main_path=Path("a"), extra_path=Path("b"))
    assert [e["seeds"] for e in out["pooled"]] == [[0, 1], [0, 1, 2]]
    clash = {**main, "pooled": [_pooled_doc(0.05, [0, 1])]}
    with pytest.raises(merge_results.MergeError, match="pooled comparison"):
        merge_results.merge(main, clash, main_path=Path("a"), extra_path=Path("b"))


def test_overview_shows_the_pooled_test_of_the_same_seeds_only():
    def row(seed: int) -> dict:
        pv = {"NDCG@10": {"mean_control": 0.03, "mean_treatment": 0.031, "relative_lift": 1 / 30,
                          "wilcoxon_pvalue": 0.2}}  # fmt: skip
        return {"dataset": "sports", "variant": "sasrec-ce+x", "control": "sasrec-ce", "seed": seed,
                "extra": {"paired_vs_control": {"all": pv}}}

    doc = {"benchmark": "expand_accuracy", "quick": False, "_file": "x.json", "protocol": {},
           "results": [row(0), row(1)], "pooled": [_pooled_doc(0.031, [0, 1]), _pooled_doc(0.5, [0, 1, 2])]}
    [line] = [x for x in summarize.expand_overview([doc]) if x.startswith("| sports |")]
    cells = [c.strip() for c in line.strip("|").split("|")]
    header = [x for x in summarize.expand_overview([doc]) if x.startswith("| dataset")][0]
    assert len(cells) == header.count("|") - 1
    assert cells[6] == "+3.1% (p 0.004)"
    doc["pooled"] = [_pooled_doc(0.5, [0, 1, 2])]  # pooled over other seeds than the row's: not shown
    [line] = [x for x in summarize.expand_overview([doc]) if x.startswith("| sports |")]
    assert line.strip("|").split("|")[6].strip() == "–"


def _seed_row(seed: int, lift: float, p: float) -> dict:
    pv = {"NDCG@10": {"mean_control": 0.03, "mean_treatment": 0.03 * (1 + lift), "relative_lift": lift,
                      "wilcoxon_pvalue": p}}  # fmt: skip
    return {"dataset": "sports", "variant": "sasrec-ce+x", "control": "sasrec-ce", "seed": seed,
            "metrics": {"HR@10": 0.1, "NDCG@10": 0.03 * (1 + lift)}, "extra": {"paired_vs_control": {"all": pv}}}


def _overview_cells(doc: dict) -> dict[str, str]:
    lines = summarize.expand_overview([doc])
    header = next(x for x in lines if x.startswith("| dataset"))
    [line] = [x for x in lines if x.startswith("| sports |")]
    names = [c.strip() for c in header.strip("|").split("|")]
    return dict(zip(names, [c.strip() for c in line.strip("|").split("|")], strict=True))


def test_overview_marks_a_row_significant_only_when_both_tests_hold():
    lifts = [0.05, 0.026, 0.019]  # seed-level t-test: p = 0.078 (see test_stats)
    rows = [_seed_row(s, x, 0.001) for s, x in enumerate(lifts)]
    doc = {"benchmark": "expand_accuracy", "quick": False, "_file": "x.json", "protocol": {}, "results": rows,
           "pooled": [_pooled_doc(0.031, [0, 1, 2])]}  # pooled per-user p 0.004
    cells = _overview_cells(doc)
    assert cells["seeds pooled"] == "+3.1% (p 0.004)"
    assert cells["seed level"] == f"+3.2% (p {sps.ttest_1samp(lifts, 0.0).pvalue:.2g})" == "+3.2% (p 0.078)"
    assert cells["significant"] == "no"  # every per-user test holds, the seed-level one does not
    tight = [0.031, 0.029, 0.030]
    doc["results"] = [_seed_row(s, x, 0.001) for s, x in enumerate(tight)]
    cells = _overview_cells(doc)
    assert cells["significant"] == "yes ✓"
    assert cells["seed level"] == f"+3.0% (p {sps.ttest_1samp(tight, 0.0).pvalue:.2g})" == "+3.0% (p 0.00037)"
    doc["pooled"] = [{**_pooled_doc(0.031, [0, 1, 2]),
                      "paired_vs_control": {"all": {"NDCG@10": {"relative_lift": 0.03, "wilcoxon_pvalue": 0.2}}}}]
    assert _overview_cells(doc)["significant"] == "no"  # the pooled per-user test does not hold
    doc["results"], doc["pooled"] = doc["results"][:1], []
    cells = _overview_cells(doc)
    assert cells["seed level"] == "–" and cells["significant"] == "–"  # one seed: no seed-level test


def test_paired_table_prints_the_seed_level_p_beside_the_per_seed_ones():
    lifts = [0.031, 0.029, 0.030]
    controls = [{"dataset": "sports", "variant": "sasrec-ce", "control": None, "seed": s,
                 "metrics": {"HR@10": 0.1, "NDCG@10": 0.03}} for s in range(3)]  # fmt: skip
    rows = [_seed_row(s, x, p) for s, (x, p) in enumerate(zip(lifts, (0.001, 0.01, 0.02), strict=True))]
    doc = {"benchmark": "expand_accuracy", "quick": False, "_file": "x.json", "protocol": {},
           "results": controls + rows}
    [line] = [x for x in summarize.paired([doc], "expand_accuracy", "t") if x.startswith("| sports | sasrec-ce+x")]
    want = sps.ttest_1samp(lifts, 0.0).pvalue
    assert f"seeds p {want:.2g} ✓)" in line and "+3.1% p 0.001" in line
    rows[1]["extra"]["paired_vs_control"]["all"]["NDCG@10"]["wilcoxon_pvalue"] = 0.3  # one seed's test fails
    [line] = [x for x in summarize.paired([doc], "expand_accuracy", "t") if x.startswith("| sports | sasrec-ce+x")]
    assert f"seeds p {want:.2g})" in line and "✓" not in line
