"""benchmarks/summarize.py: the at-a-glance tables compute what they claim on hand-made results."""

from __future__ import annotations

import pytest

from conftest import load_benchmark

summarize = load_benchmark("summarize")


def _pv(n: int, control: float, treated: float, p: float = 0.01) -> dict:
    return {"NDCG@10": {"n": n, "mean_control": control, "mean_treatment": treated,
                        "relative_lift": treated / control - 1, "wilcoxon_pvalue": p}}  # fmt: skip


def _doc(short_lift_treated: float, long_treated: float, p: float = 0.01) -> dict:
    """100 users: 60 short (control 0.01), 40 long (control 0.02)."""
    short_c, long_c = 0.01, 0.02
    all_c = (60 * short_c + 40 * long_c) / 100
    all_t = (60 * short_lift_treated + 40 * long_treated) / 100
    pv = {"all": _pv(100, all_c, all_t, p), "train<=5": _pv(60, short_c, short_lift_treated, p)}
    return {"benchmark": "generate_utility", "quick": False, "_file": "x.json",
            "protocol": {"test_history": "real", "synthetic_weight": None, "held_out_hits": "drop",
                         "complete_temperature": 0.0},
            "results": [{"dataset": "d", "variant": "bpr+vae-t0", "seed": 0, "control": "bpr",
                         "extra": {"paired_vs_control": pv}}]}  # fmt: skip


def test_rest_lift_recovers_the_other_users_from_segment_means():
    doc = _doc(short_lift_treated=0.015, long_treated=0.018)
    pv = doc["results"][0]["extra"]["paired_vs_control"]
    assert summarize._rest_lift(pv, "train<=5") == pytest.approx(0.018 / 0.02 - 1)  # -10%


def test_missed_lift_is_the_completed_users_without_a_test_hit():
    """60 short users at 0.01 -> 0.015, of whom 10 test hits at 0.04 -> 0.07: the other 50 go
    from (0.6 - 0.4) / 50 = 0.004 to (0.9 - 0.7) / 50 = 0.004, unchanged."""
    doc = _doc(short_lift_treated=0.015, long_treated=0.02)
    row = doc["results"][0]
    row["extra"]["paired_by_test_hit"] = {"users_with_test_hit": _pv(10, 0.04, 0.07)}
    assert summarize._missed_lift(row, "train<=5") == pytest.approx(0.0)
    row["extra"]["paired_by_test_hit"] = {"users_with_test_hit": _pv(10, 0.04, 0.08)}  # (0.9 - 0.8) / 50
    assert summarize._missed_lift(row, "train<=5") == pytest.approx(0.002 / 0.004 - 1)  # -50%
    del row["extra"]["paired_by_test_hit"]  # runs before the split was recorded
    assert summarize._missed_lift(row, "train<=5") is None


@pytest.mark.parametrize(
    ("short_t", "long_t", "p", "met"),
    [(0.014, 0.02, 0.01, "yes"),  # +40% short, others unchanged
     (0.014, 0.019, 0.01, "no"),  # others hurt
     (0.012, 0.02, 0.01, "no"),  # +20% short: below the goal
     (0.014, 0.02, 0.2, "no")],  # not significant
)  # fmt: skip
def test_generate_overview_marks_the_goal(short_t: float, long_t: float, p: float, met: str):
    rows = [line for line in summarize.generate_overview([_doc(short_t, long_t, p)]) if line.startswith("| d |")]
    assert len(rows) == 1
    assert rows[0].rstrip(" |").endswith(met)


def test_generate_overview_skips_other_protocols():
    doc = _doc(0.014, 0.02)
    doc["protocol"]["held_out_hits"] = "keep"
    assert summarize.generate_overview([doc]) == []


def test_generate_overview_lists_gated_arms_but_not_their_test_input_variants():
    doc = _doc(0.014, 0.02)
    plain = doc["results"][0]
    doc["results"] = [{**plain, "variant": v} for v in ("bpr+vae-t0", "bpr+vae-t0-p0.03", "bpr+vae-t0-p0.03-in")]
    rows = [line for line in summarize.generate_overview([doc]) if line.startswith("| d |")]
    assert [r.split(" | ")[2] for r in rows] == ["vae", "vae, gate 0.03"]


@pytest.mark.parametrize("with_arm", [True, False])
def test_paired_table_rows_match_the_header(with_arm: bool):
    """A file holding only controls (no arm, so no segment columns) still gives a table whose
    header, separator and rows all have the same number of columns."""
    doc = _doc(0.014, 0.02)
    control = {"dataset": "d", "variant": "bpr", "seed": 0, "metrics": {"HR@10": 0.1, "NDCG@10": 0.05}}
    arm = doc["results"][0] | {"metrics": {"HR@10": 0.12, "NDCG@10": 0.06}}
    doc["results"] = [control, arm] if with_arm else [control]
    table = [line for line in summarize.paired([doc], "generate_utility", "t") if line.startswith("|")]
    assert len(table) == (4 if with_arm else 3)
    assert len({line.count("|") for line in table}) == 1
