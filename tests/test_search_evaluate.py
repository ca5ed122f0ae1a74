"""Search evaluation: pessimistic full ranking, hand-computed metrics and segments, personalised models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError
from recaug.evaluate import EvalResult
from recaug.search import SearchEvaluator, SearchLeaveLastOut, SearchLog, SearchModel, rank_targets

# user, item, time, query; items a..e are codes 2..6
EVENTS = [
    ("u0", "a", 1, "shoes"), ("u0", "b", 2, "shoes"), ("u0", "c", 3, "hat"),
    ("u1", "a", 1, "shoes"), ("u1", "d", 2, "red hat"), ("u1", "b", 3, "Shoes"),
    ("u2", "e", 0, "shoes"), ("u2", "b", 1, "hat"), ("u2", "b", 2, "cap"), ("u2", "d", 3, "cap"),
]
TABLE = {
    "hat": [0, 0, 1.0, 2.0, 1.0, 3.0, 0.5],
    "Shoes": [0, 0, 5.0, 4.0, 4.0, 4.0, 1.0],
    "cap": [0, 0, 0.0, 0.0, 0.0, 9.0, 0.0],
}


class Fixed(SearchModel):
    """Scores from a table keyed by the raw query (a stand-in for a fitted model)."""

    name = "fixed"

    def __init__(self, table: dict[str, list[float]] | None = None, *, seed: int = 0, device: str = "auto") -> None:
        super().__init__(seed=seed, device=device)
        self.table = table or TABLE
        self.calls: list[int] = []

    def fit(self, train: SearchLog, valid: SearchLog | None = None, *, item_space: int | None = None) -> Fixed:
        self.item_space_ = self._item_space(train, item_space)
        return self

    def _score(self, queries: pl.Series, users: np.ndarray | None) -> np.ndarray:
        self.calls.append(len(queries))
        return np.array([self.table[q] for q in queries.to_list()], dtype=np.float32)

    def _save_state(self, folder: Path) -> None:
        pass

    def _load_state(self, folder: Path) -> None:
        pass


class ByUser(Fixed):
    """A personalised stand-in: user 2 gets its target on top, everyone else a flat row."""

    name = "by-user"
    personalised = True

    def _score(self, queries: pl.Series, users: np.ndarray | None) -> np.ndarray:
        assert users is not None
        out = np.zeros((len(queries), self.item_space_), dtype=np.float32)
        out[users == 2, 5] = 1.0
        return out


def split():
    users, items, times, queries = zip(*EVENTS, strict=True)
    frame = pl.DataFrame({C.USER: users, C.ITEM: items, C.TIME: times, C.QUERY: queries})
    return SearchLeaveLastOut().split(SearchLog(Dataset.from_frame(frame)))


def test_rank_targets_pessimistic_ties_and_edge_cases():
    inf, nan = np.inf, np.nan
    scores = np.array([
        [-inf, -inf, 1.0, 2.0, 1.0, 0.0],   # target 2 ties with 4: rank 2 (3 above, 4 tied)
        [-inf, -inf, 1.0, nan, 0.5, 0.5],   # target 4: NaN and 2 above, 5 tied -> rank 3
        [-inf, -inf, nan, 1.0, 1.0, 1.0],   # NaN target -> worst
        [-inf, -inf, -inf, 1.0, 1.0, 1.0],  # -inf target -> worst
        [-inf, -inf, 1.0, 1.0, 1.0, 1.0],   # MASK as target -> worst
        [-inf, -inf, inf, inf, 0.0, 0.0],   # +inf target ranks after the other +inf
        [-inf, -inf, 0.0, 0.0, 0.0, 0.0],   # code outside the matrix -> worst
    ])
    ranks, tied = rank_targets(scores, np.array([2, 4, 2, 2, 1, 2, 9]))
    assert ranks.tolist() == [2, 3, 6, 6, 6, 1, 6]
    assert tied.tolist() == [1, 1, -1, -1, -1, 1, -1]
    with pytest.raises(ConfigError):
        rank_targets(scores, np.array([2]))


def test_hand_computed_metrics_and_segments():
    s = split()
    model = Fixed().fit(s.train)
    ev = SearchEvaluator(ks=(1, 5), rare_max_count=1, short_history_max=2, tail_share=0.6)
    result = ev.evaluate(model, s)
    assert isinstance(result, EvalResult)
    t = result.per_user.sort(C.USER)
    assert t.get_column(C.QUERY).to_list() == ["hat", "Shoes", "cap"]
    assert t.get_column("target").to_list() == [4, 3, 5]
    assert t.get_column("rank").to_list() == [3, 3, 0]
    assert t.get_column("n_tied").to_list() == [1, 2, 0]
    assert t.get_column("n_history").to_list() == [2, 2, 3]
    assert t.get_column("query_train_count").to_list() == [1, 3, 0]  # "Shoes" counts as "shoes"
    assert t.get_column("item_train_count").to_list() == [0, 1, 0]
    assert t.get_column("HR@1").to_list() == [0.0, 0.0, 1.0]
    ndcg = 1 / math.log2(5)
    np.testing.assert_allclose(t.get_column("NDCG@5").to_numpy(), [ndcg, ndcg, 1.0])
    np.testing.assert_allclose(t.get_column("MRR@5").to_numpy(), [0.25, 0.25, 1.0])
    assert t.get_column("segment:rare_query").to_list() == [True, False, True]
    assert t.get_column("segment:unseen_query").to_list() == [False, False, True]
    # train counts a=2, b=1, e=1: with tail_share 0.6 the head is the top ceil(0.4 * 5) = 2 items,
    # a and then b (ties with e by code)
    assert t.get_column("segment:tail_item").to_list() == [True, False, True]
    assert t.get_column("segment:short_history").to_list() == [True, True, False]
    summary = result.summary()
    assert summary["HR@5"] == 1.0
    assert summary["NDCG@5"] == pytest.approx((2 * ndcg + 1) / 3)
    seg = result.by_segment()
    assert seg["unseen_query"]["n_users"] == 1 and seg["unseen_query"]["metrics"]["HR@1"] == 1.0
    assert result.protocol["ties"] == "pessimistic" and result.protocol["split"] == "search_leave_last_out"


def test_mask_history_masks_earlier_items_but_not_the_target():
    s = split()
    result = SearchEvaluator(ks=(5,), mask_history=True).evaluate(Fixed().fit(s.train), s)
    t = result.per_user.sort(C.USER)
    # u0's history is a, b (codes 2, 3): only e (3.0) stays above c
    assert t.get_column("rank").to_list()[0] == 1
    # u1's history a, d (2, 5) masked: c (4.0) still ties with the target b
    assert t.get_column("rank").to_list()[1] == 1
    assert result.protocol["history_masking"].startswith("-inf")


def test_each_distinct_query_is_scored_once_and_chunking_does_not_matter():
    s = split()
    model = Fixed().fit(s.train)
    big = SearchEvaluator(ks=(5,)).evaluate(model, s)
    assert sum(model.calls) == 3
    small = SearchEvaluator(ks=(5,), chunk_size=1).evaluate(Fixed().fit(s.train), s)
    cols = ["user_id", "query", "rank", "n_tied", "NDCG@5"]
    assert big.per_user.select(cols).equals(small.per_user.select(cols))


def test_personalised_models_get_users():
    s = split()
    model = ByUser().fit(s.train)
    t = SearchEvaluator(ks=(1,)).evaluate(model, s).per_user.sort(C.USER)
    assert t.get_column("HR@1").to_list() == [0.0, 0.0, 1.0]
    with pytest.raises(ConfigError, match="personalised"):
        model.score(["hat"])


def test_valid_target_and_bad_settings():
    s = split()
    result = SearchEvaluator(ks=(5,)).evaluate(Fixed({"shoes": [0] * 7, "red hat": [0] * 7, "cap": [0] * 7}).fit(
        s.train), s, target="valid")
    assert result.n_users == 3 and result.protocol["target"] == "valid"
    assert result.per_user.get_column("rank").to_list() == [4, 4, 4]  # all tied: pessimistic rank = 5 - 1
    with pytest.raises(ConfigError):
        SearchEvaluator(metrics=("AUC",))
    with pytest.raises(ConfigError):
        SearchEvaluator(tail_share=2.0)
    with pytest.raises(ConfigError):
        SearchEvaluator().evaluate(Fixed().fit(s.train), s, target="train")


class WithHistory(ByUser):
    """Records the history log the evaluator hands over before scoring."""

    seen: list[int] = []

    def use_history(self, history: SearchLog) -> WithHistory:
        self.seen.append(len(history.frame))
        return self


def test_personalised_models_read_the_history_the_target_allows():
    s = split()
    model = WithHistory().fit(s.train)
    model.seen = []
    SearchEvaluator(ks=(1,)).evaluate(model, s, "valid")
    SearchEvaluator(ks=(1,)).evaluate(model, s, "test")
    assert model.seen == [len(s.history("valid").frame), len(s.history("test").frame)]
    assert model.seen[1] == len(s.train.frame) + len(s.valid.frame)  # test: train + valid events
