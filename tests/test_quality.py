"""Quality metrics give known answers on hand-made distributions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data import Interactions
from recaug.errors import DataError, NotFittedError, OutputExistsError
from recaug.quality import (
    QualityReport,
    length_fidelity,
    nearest_real_jaccard,
    novelty,
    popularity_fidelity,
    transition_fidelity,
)
from recaug.quality.discriminator import Discriminator, roc_auc


def gen(users: list[int] | np.ndarray, items: list[int] | np.ndarray) -> Interactions:
    return Interactions.from_arrays(users, items, source=np.full(len(users), "gen"))


def random_users(n: int, seed: int, lo: int = 2, hi: int = 200, offset: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    lens = rng.integers(3, 15, n)
    return Interactions.from_arrays(np.repeat(np.arange(n) + offset, lens), rng.integers(lo, hi, lens.sum()))


ITEMS = pl.DataFrame({C.ITEM: np.arange(2, 600), C.CATEGORY: [f"c{i % 5}" for i in range(598)]})


def test_identical_data_scores_one() -> None:
    real = random_users(400, seed=0)
    report = QualityReport.compute(real, real.with_source("gen"), items=ITEMS, seed=0)
    for name in ("length", "popularity", "category", "transitions"):
        assert report.scores[name] == pytest.approx(1.0)
    assert abs(report.stats["discriminator"]["auc"] - 0.5) <= 0.1
    assert report.scores["discriminator"] >= 0.8
    # every synthetic user is a copy: fidelity is perfect, privacy is zero
    assert report.privacy == pytest.approx(0.0)
    assert report.stats["novelty"]["exact_copy_share"] == 1.0


def test_disjoint_items_score_zero() -> None:
    real = random_users(200, seed=1, lo=2, hi=100)
    syn = random_users(200, seed=1, lo=300, hi=400).with_source("gen")
    cats = pl.DataFrame({C.ITEM: np.arange(2, 400), C.CATEGORY: np.where(np.arange(2, 400) < 200, "a", "b")})
    report = QualityReport.compute(real, syn, items=cats, discriminator=False)
    assert report.scores["popularity"] == 0.0
    assert report.scores["transitions"] == 0.0
    assert report.scores["category"] == 0.0
    assert report.scores["length"] == pytest.approx(1.0)  # same lengths (same seed)
    assert report.privacy == 1.0 and report.stats["novelty"]["mean_nn_jaccard"] == 0.0
    assert "discriminator" not in report.scores


def test_known_values() -> None:
    real = Interactions.from_arrays([0, 0, 1, 1], [2, 2, 3, 3])
    syn = gen([0, 0, 1, 1], [2, 3, 3, 3])
    assert popularity_fidelity(real, syn)[0] == pytest.approx(0.75)  # TV = |.5-.25| = .25
    score, stats = length_fidelity(Interactions.from_arrays([0, 1], [2, 2]), gen([0, 0, 1, 1], [2, 3, 2, 3]))
    assert score == 0.0 and stats["ks_statistic"] == 1.0  # lengths {1, 1} vs {2, 2}
    # transitions: 2->3, 3->4 vs 2->3, 3->5: TV = 0.5
    score, stats = transition_fidelity(
        Interactions.from_arrays([0, 0, 0], [2, 3, 4]), gen([0, 0, 0], [2, 3, 5])
    )
    assert score == pytest.approx(0.5) and stats["total_variation"] == pytest.approx(0.5)


def test_transitions_follow_time_order_within_user() -> None:
    real = Interactions.from_arrays([0, 0, 1, 1], [2, 3, 4, 5], [0, 1, 0, 1])
    # the same sequences given in reverse row order with the same timestamps
    syn = Interactions(
        pl.DataFrame({C.USER: [1, 1, 0, 0], C.ITEM: [5, 4, 3, 2], C.TIME: [1, 0, 1, 0], C.SOURCE: ["g"] * 4}),
        sort=False,
    )
    assert transition_fidelity(real, syn)[0] == 1.0  # no pair spans two users


def test_copy_detection_finds_planted_copies_exactly() -> None:
    real = random_users(60, seed=2, lo=2, hi=100)
    sets = real.frame.group_by(C.USER).agg(pl.col(C.ITEM).unique()).sort(C.USER)
    copied = [5, 17, 33]  # exact copies (as new synthetic users 1000..)
    users, items = [], []
    for k, u in enumerate(copied):
        its = sets.row(u)[1]
        users += [1000 + k] * len(its)
        items += list(its)
    # a near copy: real user 40 with one item swapped for an unseen one
    near = sorted(sets.row(40)[1])
    near_items = near[:-1] + [999]
    users += [1100] * len(near_items)
    items += near_items
    # novel users on unseen items
    novel = random_users(30, seed=3, lo=500, hi=600, offset=2000)
    syn = gen(users, items).concat(novel.with_source("gen"))
    nn = nearest_real_jaccard(real, syn).sort(C.USER)
    exact = nn.filter(pl.col("exact_copy")).get_column(C.USER).to_list()
    assert exact == [1000, 1001, 1002]
    n = len(near)
    row = nn.filter(pl.col(C.USER) == 1100).row(0, named=True)
    assert row["nn_jaccard"] == pytest.approx((n - 1) / (n + 1)) and not row["exact_copy"]
    score, stats = novelty(real, syn, near_threshold=(n - 1) / (n + 1) - 1e-9)
    assert stats["exact_copy_share"] == pytest.approx(3 / 34)
    assert stats["near_copy_share"] == pytest.approx(4 / 34)
    assert score == pytest.approx(1 - 4 / 34)
    # subsampling keeps the requested number of users, deterministically
    a = nearest_real_jaccard(real, syn, max_users=10, seed=1)
    assert a.height == 10 and a.equals(nearest_real_jaccard(real, syn, max_users=10, seed=1))


def test_discriminator_separates_obviously_different_data() -> None:
    real = random_users(300, seed=4, lo=2, hi=100)
    rng = np.random.default_rng(5)
    syn = gen(np.repeat(np.arange(300), 25), rng.integers(150, 160, 300 * 25))  # long, narrow, unseen
    disc = Discriminator(seed=0).fit(real, syn)
    assert disc.auc_ > 0.95 and disc.accuracy_ > 0.9 and disc.score_ < 0.1
    proba = disc.fake_proba(syn)
    assert proba.height == 300 and proba.get_column("p_fake").mean() > 0.9
    with pytest.raises(NotFittedError):
        Discriminator().fake_proba(syn)
    with pytest.raises(DataError):
        Discriminator().fit(Interactions.from_arrays([0], [2]), syn)


def test_roc_auc() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


def test_save_and_views(tmp_path: Path) -> None:
    real = random_users(120, seed=6)
    syn = random_users(120, seed=7).with_source("gen")
    report = QualityReport.compute(real, syn, items=ITEMS, seed=1)
    for name, value in report.scores.items():
        assert 0.0 <= value <= 1.0, name
    again = QualityReport.compute(real, syn, items=ITEMS, seed=1)
    assert again.to_dict() == report.to_dict()  # deterministic under the seed
    out = report.save(tmp_path / "q")
    names = {p.name for p in out.iterdir()}
    assert names == {
        ".recaug",  # the marker of a folder recaug wrote
        "quality.json",
        "quality.md",
        "length_hist.png",
        "popularity_rank.png",
        "category_mix.png",
    }
    data = json.loads((out / "quality.json").read_text())
    assert data["scores"] == pytest.approx(report.scores)
    assert "| popularity |" in (out / "quality.md").read_text()
    with pytest.raises(OutputExistsError):
        report.save(tmp_path / "q")
    report.save(tmp_path / "q", force=True)
    with pytest.raises(DataError):
        QualityReport.compute(real, syn.filter(pl.lit(False)))
