"""Segments on hand-made data: bucket counts, new users, cross-category, user-defined."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from recaug import columns as C
from recaug.data import Dataset, Interactions, Sequences
from recaug.errors import ConfigError
from recaug.evaluate import CrossCategory, Evaluator, ExprSegment, HistoryLength, NewUsers, UserColumn
from recaug.split import Protocol, Split

ITEM_SPACE = 30
HISTORIES = [
    [2],  # A -> target 6 (B): cross
    [2, 3, 6],  # A, B -> target 7 (B): same
    [2, 2, 2, 2],  # A -> target 8 (no category): neither
    [6, 6, 6, 6, 6],  # B -> target 2 (A): cross
    [2, 3, 4, 5, 6, 7],  # A, B -> target 9 (C): cross
    [8] * 10,  # no categories -> target 3 (A): cross
    [2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6],  # A, B -> target 4 (A): same
    [],  # empty history -> target 5 (A): cross
]
TARGETS = [6, 7, 8, 2, 9, 3, 4, 5]
CATEGORIES = pl.Series([None, None, "A", "A", "A", "A", "B", "B", None, "C"] + [None] * (ITEM_SPACE - 10))


class HitFirstTwo:
    """Ranks the target first for users 0 and 1; a constant 0 (worst rank) for everyone else."""

    def score(self, h: Sequences) -> torch.Tensor:
        s = torch.zeros((len(h), ITEM_SPACE))
        for r, u in enumerate(h.users.tolist()):  # test fixture, not library code
            if u < 2:
                s[r, TARGETS[u]] = 1.0
        return s


def make_split() -> Split:
    users = np.repeat(np.arange(len(HISTORIES)), [len(h) for h in HISTORIES])
    train = Interactions.from_arrays(users, [i for h in HISTORIES for i in h])
    test = Interactions.from_arrays(np.arange(len(TARGETS)), TARGETS, np.full(len(TARGETS), 1000))
    return Split(train, Interactions.from_arrays([], []), test, Protocol("manual"))


def run(segments=None, **kw):
    return Evaluator(ks=(5,)).evaluate(HitFirstTwo(), make_split(), segments=segments, **kw)


def test_default_history_buckets_and_new_users() -> None:
    res = run()
    seg = res.by_segment()
    assert list(seg) == [
        "all", "history<=3", "history4-5", "history6-10", "history>10", "new_users", "repeat_target", "new_target"
    ]
    counts = {k: v["n_users"] for k, v in seg.items()}
    # lengths 1, 3, 4, 5, 6, 10, 11, 0
    assert counts == {
        "all": 8,
        "history<=3": 3,
        "history4-5": 2,
        "history6-10": 2,
        "history>10": 1,
        "new_users": 5,
        "repeat_target": 1,  # user 6: target 4 is in the history
        "new_target": 7,
    }
    assert res.per_user.get_column("segment:repeat_target").to_list() == [0, 0, 0, 0, 0, 0, 1, 0]
    # users 0 and 1 hit: all 2/8, history<=3 (users 0, 1, 7) 2/3, new users 2/5, the rest 0
    assert seg["all"]["metrics"]["HR@5"] == pytest.approx(0.25)
    assert seg["history<=3"]["metrics"]["HR@5"] == pytest.approx(2 / 3)
    assert seg["new_users"]["metrics"]["HR@5"] == pytest.approx(0.4)
    assert seg["history>10"]["metrics"]["NDCG@5"] == 0.0
    assert res.per_user.get_column("segment:history<=3").to_list() == [1, 1, 0, 0, 0, 0, 0, 1]
    assert res.protocol["segments"][0] == {"rule": "history_length", "edges": [3, 5, 10]}
    flat = res.segments_flat()
    assert flat["new_users"]["n_users"] == 5 and flat["new_users"]["HR@5"] == pytest.approx(0.4)


def test_configurable_edges_and_threshold() -> None:
    res = run([HistoryLength((2, 6)), HistoryLength((3, 4)), NewUsers(1, name="cold")])
    counts = {k: v["n_users"] for k, v in res.by_segment().items()}
    assert counts == {
        "all": 8,
        "history<=2": 2,
        "history3-6": 4,
        "history>6": 2,
        "history<=3": 3,
        "history=4": 1,
        "history>4": 4,
        "cold": 2,
    }
    with pytest.raises(ConfigError):
        HistoryLength((5, 5))


def test_cross_category() -> None:
    res = run(item_categories=CATEGORIES)
    pu = res.per_user
    assert pu.get_column("segment:cross_category").to_list() == [1, 0, 0, 1, 1, 1, 0, 1]
    assert pu.get_column("segment:same_category").to_list() == [0, 1, 0, 0, 0, 0, 1, 0]
    seg = res.by_segment()
    assert seg["cross_category"]["n_users"] == 5 and seg["same_category"]["n_users"] == 2
    assert seg["same_category"]["metrics"]["HR@5"] == pytest.approx(0.5)  # user 1 hits, user 6 does not
    assert "cross_category" not in run().segment_names  # only with categories


def test_cross_category_from_dataset() -> None:
    frame = pl.DataFrame({C.USER: ["u", "u", "v", "v"], C.ITEM: ["a", "b", "a", "c"], C.TIME: [0, 1, 0, 1]})
    items = pl.DataFrame({C.ITEM: ["a", "b", "c"], C.CATEGORY: ["x", "y", "x"]})
    ds = Dataset.from_frame(frame, items=items)
    hist = Sequences.from_lists([[2], [2]], users=[0, 1])  # both saw "a" (code 2, category x)
    res = Evaluator(ks=(5,)).evaluate_histories(
        HitFirstTwo(), hist, np.array([0, 1, 2]), np.array([3, 4]), [CrossCategory(ds)]
    )
    assert res.per_user.get_column("segment:cross_category").to_list() == [True, False]  # b is y, c is x


def test_cross_category_multi_target() -> None:
    hist = Sequences.from_lists([[2], [2], [6]], users=[0, 1, 2])
    # user 0: targets 3 (A) and 6 (B) -> one new category -> cross; user 1: 3, 4 (A) -> same; user 2: 8 only
    res = Evaluator(ks=(5,)).evaluate_histories(
        HitFirstTwo(), hist, np.array([0, 2, 4, 5]), np.array([3, 6, 3, 4, 8]), [CrossCategory(CATEGORIES)]
    )
    assert res.per_user.get_column("segment:cross_category").to_list() == [True, False, False]
    assert res.per_user.get_column("segment:same_category").to_list() == [False, True, False]


def test_user_defined_segments() -> None:
    users = pl.DataFrame(
        {
            C.USER: [0, 1, 5, 6, 7],
            "vip": [True, True, True, False, None],
            "country": ["DE", "FR", "DE", None, "FR"],
        }
    )
    res = run(
        [
            UserColumn(users, "vip"),
            UserColumn(users, "country", name="c"),
            ExprSegment("hit", pl.col("rank") == 0),
        ]
    )
    seg = res.by_segment()
    assert list(seg) == ["all", "vip", "c=DE", "c=FR", "hit"]
    assert seg["vip"]["n_users"] == 3 and seg["vip"]["metrics"]["HR@5"] == pytest.approx(2 / 3)
    assert seg["c=DE"]["n_users"] == 2 and seg["c=FR"]["n_users"] == 2
    assert seg["hit"]["n_users"] == 2 and seg["hit"]["metrics"]["MRR@5"] == 1.0
    assert run([]).segment_names == ["all"]


def test_empty_segment_and_name_clashes() -> None:
    seg = run([ExprSegment("nobody", pl.col("n_history") > 100)]).by_segment()
    assert seg["nobody"]["n_users"] == 0 and np.isnan(seg["nobody"]["metrics"]["HR@5"])
    with pytest.raises(ConfigError):
        run([NewUsers(), NewUsers()])
    with pytest.raises(ConfigError):
        run([ExprSegment("all", pl.lit(True))])
    with pytest.raises(ConfigError):
        run([UserColumn(pl.DataFrame({C.USER: [0]}), "missing")])


def test_default_segments_skip_cross_category_without_categories() -> None:
    import polars as pl

    from recaug.data import Dataset
    from recaug.evaluate.segments import CrossCategory, default_segments

    frame = pl.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"]})
    plain = Dataset.from_frame(frame)
    assert not any(isinstance(r, CrossCategory) for r in default_segments(plain))
    with_cat = Dataset.from_frame(frame, items=pl.DataFrame({"item_id": ["x", "y"], "category": ["c1", "c2"]}))
    assert any(isinstance(r, CrossCategory) for r in default_segments(with_cat))
