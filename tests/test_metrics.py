"""Known-answer tests for the ranking metrics, computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recaug.errors import ConfigError
from recaug.evaluate.metrics import ideal_dcg, metric_values, metrics_table, multi_target_metrics


def test_single_target_known_answers() -> None:
    ranks = np.array([0, 1, 2, 4, 5, 9, 10, 19, 20, 1000])
    # rank 0 -> NDCG 1, MRR 1; rank 1 -> 1/log2(3) = 0.6309, 1/2; rank 2 -> 1/log2(4) = 0.5, 1/3;
    # rank 4 -> 1/log2(6) = 0.3869, 1/5; rank 5 is outside the top 5
    assert metric_values(ranks, "HR", 5).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert metric_values(ranks, "HR", 10).tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert metric_values(ranks, "HR", 20).tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    np.testing.assert_allclose(
        metric_values(ranks, "NDCG", 5), [1.0, 0.6309297535714575, 0.5, 0.38685280723454163, 0, 0, 0, 0, 0, 0]
    )
    np.testing.assert_allclose(metric_values(ranks, "MRR", 5), [1.0, 0.5, 1 / 3, 0.2, 0, 0, 0, 0, 0, 0])
    # rank 9 at K=10: NDCG 1/log2(11) = 0.28906, MRR 0.1; rank 19 at K=20: 1/log2(21), 1/20
    assert metric_values(ranks, "NDCG", 10)[5] == pytest.approx(0.2890648263178879)
    assert metric_values(ranks, "MRR", 10)[5] == pytest.approx(0.1)
    assert metric_values(ranks, "NDCG", 20)[7] == pytest.approx(1 / math.log2(21))
    assert metric_values(ranks, "MRR", 20)[7] == pytest.approx(0.05)
    np.testing.assert_array_equal(metric_values(ranks, "Recall", 10), metric_values(ranks, "HR", 10))


def test_metrics_table_keys() -> None:
    table = metrics_table(np.array([0, 3]), ks=(1, 5), metrics=("HR", "NDCG"))
    assert list(table) == ["HR@1", "HR@5", "NDCG@1", "NDCG@5"]
    assert table["HR@1"].tolist() == [1.0, 0.0]
    assert table["NDCG@5"][1] == pytest.approx(1 / math.log2(5))


def test_ideal_dcg() -> None:
    # IDCG@K for n relevant = sum_{i < min(K, n)} 1/log2(i+2): 0, 1, 1 + 0.6309, 1 + 0.6309 + 0.5
    np.testing.assert_allclose(
        ideal_dcg(np.array([0, 1, 2, 3, 7]), 3),
        [0, 1, 1.6309297535714575, 2.1309297535714578, 2.1309297535714578],
    )


def test_multi_target_known_answers() -> None:
    # user 0: targets at ranks 0 and 3; user 1: ranks 7, 12, 30; user 2: one target at rank 2
    ranks = np.array([0, 3, 7, 12, 30, 2])
    offsets = np.array([0, 2, 5, 6])
    out = multi_target_metrics(ranks, offsets, ks=(1, 2, 5, 10), metrics=("HR", "Recall", "NDCG", "MRR"))
    # user 0, K=5: 2 hits / min(5, 2) = 1; DCG = 1 + 1/log2(5) = 1.43068, IDCG = 1 + 1/log2(3) = 1.63093
    assert out["Recall@5"][0] == pytest.approx(1.0)
    assert out["NDCG@5"][0] == pytest.approx((1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))
    assert out["NDCG@5"][0] == pytest.approx(0.877216, abs=1e-6)
    # user 0, K=2: 1 hit / 2 = 0.5; NDCG = 1 / 1.63093 = 0.61315
    assert out["Recall@2"][0] == pytest.approx(0.5)
    assert out["NDCG@2"][0] == pytest.approx(0.613147, abs=1e-6)
    # user 0, K=1: 1 hit / min(1, 2) = 1; NDCG 1/1
    assert out["Recall@1"][0] == 1.0 and out["NDCG@1"][0] == 1.0 and out["HR@1"][0] == 1.0
    assert out["MRR@5"][0] == 1.0
    # user 1, K=10: one hit (rank 7): Recall 1/3, DCG = 1/log2(9) = 0.315465, IDCG = 2.130930
    assert out["HR@10"][1] == 1.0
    assert out["Recall@10"][1] == pytest.approx(1 / 3)
    assert out["NDCG@10"][1] == pytest.approx(0.148041, abs=1e-6)
    assert out["MRR@10"][1] == pytest.approx(1 / 8)
    assert out["HR@5"][1] == 0 and out["Recall@5"][1] == 0 and out["NDCG@5"][1] == 0 and out["MRR@5"][1] == 0
    # user 2 (single target, rank 2) reduces to the standard formulas
    assert out["NDCG@5"][2] == pytest.approx(0.5)
    assert out["MRR@5"][2] == pytest.approx(1 / 3)
    assert out["Recall@5"][2] == 1.0 and out["HR@2"][2] == 0.0


def test_multi_target_reduces_to_single(rng: np.random.Generator) -> None:
    ranks = rng.integers(0, 40, size=200)
    single = metrics_table(ranks, ks=(1, 5, 10, 20))
    multi = multi_target_metrics(ranks, np.arange(201), ks=(1, 5, 10, 20))
    assert single.keys() == multi.keys()
    for key in single:
        np.testing.assert_allclose(multi[key], single[key], err_msg=key)


def test_rows_without_targets_are_zero() -> None:
    out = multi_target_metrics(np.array([0]), np.array([0, 0, 1]), ks=(5,))
    assert [out[k][0] for k in out] == [0.0] * len(out)
    assert [out[k][1] for k in out] == [1.0] * len(out)


def test_bad_metric_or_cutoff() -> None:
    with pytest.raises(ConfigError):
        metric_values(np.array([0]), "AUC", 10)
    with pytest.raises(ConfigError):
        metric_values(np.array([0]), "HR", 0)
    with pytest.raises(ConfigError):
        multi_target_metrics(np.array([0]), np.array([0, 1]), ks=(5,), metrics=("MAP",))
