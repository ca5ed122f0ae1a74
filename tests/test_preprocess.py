"""Preprocessing steps on hand-made data with known answers."""

from __future__ import annotations

import logging

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data import Dataset, Interactions
from recaug.errors import ConfigError, DataError
from recaug.preprocess import (
    Deduplicate,
    EventFilter,
    KCore,
    MinLength,
    Preprocessor,
    RemapIds,
    Sessionize,
    TimeWindow,
)


def make(users, items, ts, **extra) -> Dataset:
    """A dataset from original ids (strings/ints) given column-wise."""
    frame = pl.DataFrame({C.USER: users, C.ITEM: items, C.TIME: ts, **extra})
    return Dataset.from_frame(frame, name="hand")


def rows(ds: Dataset, *cols: str) -> list[tuple]:
    """Rows with original ids, in stored order."""
    return ds.with_original_ids().select(cols or [C.USER, C.ITEM, C.TIME]).rows()


def random_dataset(seed: int, n: int = 400, n_users: int = 40, n_items: int = 30) -> Dataset:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = np.minimum(rng.zipf(1.6, n), n_items)  # long tail
    events = rng.choice(["view", "cart", "buy"], n, p=[0.7, 0.2, 0.1])
    return make(users, items, rng.integers(0, 10_000, n), event=events)


# -- dedup ------------------------------------------------------------------------------
def test_dedup_exact_keeps_first_or_last():
    ds = make(["u"] * 4 + ["v"], ["a", "a", "b", "a", "a"], [1, 1, 2, 3, 1], rating=[1.0, 2.0, 3.0, 4.0, 5.0])
    first = Deduplicate(mode="exact").apply(ds)
    assert rows(first, C.USER, C.ITEM, C.TIME, C.RATING) == [
        ("u", "a", 1, 1.0), ("u", "b", 2, 3.0), ("u", "a", 3, 4.0), ("v", "a", 1, 5.0)
    ]
    last = Deduplicate(mode="exact", keep="last").apply(ds)
    assert rows(last, C.RATING)[0] == (2.0,)


def test_dedup_exact_considers_event_and_subset():
    ds = make(["u", "u"], ["a", "a"], [1, 1], event=["view", "buy"])
    assert len(Deduplicate(mode="exact").apply(ds).interactions) == 2
    assert len(Deduplicate(mode="exact", subset=["user_id", "item_id"]).apply(ds).interactions) == 1
    with pytest.raises(DataError, match="nope"):
        Deduplicate(subset=["nope"]).apply(ds)


def test_dedup_consecutive_runs():
    seq = ["A", "A", "B", "A", "A", "A", "C"]
    ds = make(["u"] * 7 + ["v", "v"], seq + ["C", "C"], list(range(7)) + [0, 1])
    out = Deduplicate(mode="consecutive").apply(ds)
    assert rows(out) == [("u", "A", 0), ("u", "B", 2), ("u", "A", 3), ("u", "C", 6), ("v", "C", 0)]
    last = Deduplicate(mode="consecutive", keep="last").apply(ds)
    assert rows(last) == [("u", "A", 1), ("u", "B", 2), ("u", "A", 5), ("u", "C", 6), ("v", "C", 1)]


def test_dedup_consecutive_never_merges_across_users():
    ds = make(["u", "v"], ["A", "A"], [0, 0])
    assert len(Deduplicate(mode="consecutive").apply(ds).interactions) == 2


def test_dedup_both_reports_each_reason():
    ds = make(["u"] * 5, ["A", "A", "A", "B", "B"], [0, 0, 1, 2, 3])
    res = Preprocessor([Deduplicate(mode="both")]).run(ds)
    assert res.reports[0].dropped == {"exact_duplicate": 1, "consecutive_repeat": 2}
    assert rows(res.dataset) == [("u", "A", 0), ("u", "B", 2)]


def test_dedup_bad_settings():
    with pytest.raises(ConfigError, match="mode"):
        Deduplicate(mode="fuzzy")
    with pytest.raises(ConfigError, match="keep"):
        Deduplicate(keep="middle")


# -- k-core -----------------------------------------------------------------------------
def brute_force_kcore(users: list[int], items: list[int], uk: int, ik: int) -> set[int]:
    """Reference: remove one failing user or item at a time until none fails."""
    alive = set(range(len(users)))
    while True:
        uc: dict[int, int] = {}
        ic: dict[int, int] = {}
        for r in alive:
            uc[users[r]] = uc.get(users[r], 0) + 1
            ic[items[r]] = ic.get(items[r], 0) + 1
        bad_user = next((u for u, c in uc.items() if c < uk), None)
        if bad_user is not None:
            alive = {r for r in alive if users[r] != bad_user}
            continue
        bad_item = next((i for i, c in ic.items() if c < ik), None)
        if bad_item is None:
            return alive
        alive = {r for r in alive if items[r] != bad_item}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("uk", "ik"), [(2, 2), (3, 5), (5, 5), (1, 4), (6, 1)])
def test_kcore_matches_brute_force(seed, uk, ik):
    ds = random_dataset(seed)
    f = ds.interactions.frame.with_row_index("row")
    ds = Dataset(Interactions(f, sort=False), ds.vocab)
    out = KCore(user_k=uk, item_k=ik).apply(ds)
    got = set(out.interactions.frame.get_column("row").to_list())
    expected = brute_force_kcore(f.get_column(C.USER).to_list(), f.get_column(C.ITEM).to_list(), uk, ik)
    assert got == expected
    o = out.interactions.frame
    if len(o):
        assert o.group_by(C.USER).len().get_column("len").min() >= uk
        assert o.group_by(C.ITEM).len().get_column("len").min() >= ik


def test_kcore_cascades_over_several_rounds_and_max_iter_stops_early():
    # item a is rare -> u0 gets short -> item b gets rare -> u1 short -> c rare -> u2 short
    users = ["u0", "u0", "u1", "u1", "u2", "u2", "u3", "u3", "u4", "u4"]
    items = ["a", "b", "b", "c", "c", "d", "d", "e", "d", "e"]
    ds = make(users, items, list(range(10)))
    res = Preprocessor([KCore(user_k=2, item_k=2)]).run(ds)
    assert rows(res.dataset, C.USER, C.ITEM) == [("u3", "d"), ("u3", "e"), ("u4", "d"), ("u4", "e")]
    rep = res.reports[0]
    assert rep.info == {"iterations": 7, "converged": True}
    assert rep.dropped == {"user_below_k": 3, "item_below_k": 3}
    one = Preprocessor([KCore(user_k=2, item_k=2, max_iter=1)]).run(ds)
    assert len(one.dataset.interactions) == 9 and not one.reports[0].info["converged"]


def test_kcore_bad_settings():
    with pytest.raises(ConfigError, match="user_k"):
        KCore(user_k=-1)
    with pytest.raises(ConfigError, match="max_iter"):
        KCore(max_iter=0)


def test_min_length():
    ds = make(["a", "a", "a", "b", "b", "c"], ["x", "y", "z", "x", "y", "x"], [0, 1, 2, 0, 1, 0])
    res = Preprocessor([MinLength(2)]).run(ds)
    assert rows(res.dataset, C.USER) == [("a",)] * 3 + [("b",)] * 2
    assert res.reports[0].dropped == {"user_too_short": 1}


# -- events -----------------------------------------------------------------------------
def test_event_filter_keep_and_weights():
    ds = make(["u"] * 4, ["a", "b", "c", "d"], [0, 1, 2, 3], event=["view", "cart", "buy", "fav"])
    res = Preprocessor([EventFilter(keep=["view", "cart", "buy"], weights={"buy": 5, "cart": 3, "view": 1})]).run(ds)
    out = res.dataset.interactions.frame
    assert out.get_column(C.EVENT).to_list() == ["view", "cart", "buy"]
    assert out.get_column(C.WEIGHT).to_list() == [1.0, 3.0, 5.0]
    assert out.schema[C.WEIGHT] == pl.Float32
    assert res.reports[0].dropped == {"event_not_kept": 1}


def test_event_filter_unmapped_event_is_a_data_error():
    ds = make(["u", "u"], ["a", "b"], [0, 1], event=["view", "wishlist"])
    with pytest.raises(DataError, match="wishlist") as err:
        EventFilter(weights={"view": 1.0}).apply(ds)
    assert err.value.column == C.EVENT
    out = EventFilter(weights={"view": 1.0}, default_weight=0.5).apply(ds)
    assert out.interactions.frame.get_column(C.WEIGHT).to_list() == [1.0, 0.5]


def test_event_filter_needs_event_column_and_settings():
    with pytest.raises(DataError) as err:
        EventFilter(keep=["buy"]).apply(make(["u"], ["a"], [0]))
    assert err.value.column == C.EVENT
    with pytest.raises(ConfigError):
        EventFilter()
    with pytest.raises(ConfigError):
        EventFilter(keep="buy")


# -- sessions ---------------------------------------------------------------------------
def test_sessionize_gaps():
    # gap of exactly 1800 s stays in the session, 1801 s opens a new one; a new user always does
    ds = make(["u"] * 5 + ["v"] * 2, list("abcdeab"), [0, 100, 1900, 3701, 3702, 3703, 9000])
    out = Sessionize(gap_seconds=1800).apply(ds)
    assert out.interactions.frame.get_column(C.SESSION).to_list() == [0, 0, 0, 1, 1, 2, 3]
    assert out.vocab == ds.vocab


def test_sessionize_as_users_keeps_parent():
    ds = make(["u", "u", "u", "v"], list("abca"), [0, 10, 5000, 0])
    out = Sessionize(gap_seconds=60, as_users=True).apply(ds)
    f = out.interactions.frame
    assert f.get_column(C.USER).to_list() == [0, 0, 1, 2]
    assert out.vocab.users.to_list() == ["u#0", "u#1", "v#0"]
    assert out.users.get_column("parent_user").to_list() == ["u", "u", "v"]
    assert out.sequences().to_lists() == [[2, 3], [4], [2]]


# -- time window ------------------------------------------------------------------------
def test_time_window():
    ds = make(["u"] * 5, list("abcde"), [10, 20, 30, 40, 50])
    res = Preprocessor([TimeWindow(start=20, end=40)]).run(ds)
    assert rows(res.dataset, C.TIME) == [(20,), (30,)]
    assert res.reports[0].dropped == {"before_start": 1, "after_end": 2}
    iso = TimeWindow(start="1970-01-01T00:00:30").apply(ds)
    assert rows(iso, C.TIME) == [(30,), (40,), (50,)]
    with pytest.raises(ConfigError):
        TimeWindow(start=50, end=10)
    with pytest.raises(ConfigError):
        TimeWindow(start="yesterday")


# -- remap ------------------------------------------------------------------------------
def test_remap_compacts_and_keeps_original_ids():
    items = pl.DataFrame({C.ITEM: ["a", "b", "c", "d"], C.CATEGORY: ["x", "y", "x", "z"]})
    ds = Dataset.from_frame(
        pl.DataFrame({C.USER: ["u1", "u2", "u2", "u3"], C.ITEM: ["a", "b", "c", "d"], C.TIME: [0, 1, 2, 3]}),
        items=items,
    )
    filtered = TimeWindow(start=1, end=3).apply(ds)  # only u2 with b, c remain
    before = filtered.with_original_ids()
    out = RemapIds().apply(filtered)
    assert out.vocab.users.to_list() == ["u2"]
    assert out.vocab.items.to_list() == ["b", "c"]
    f = out.interactions.frame
    assert f.get_column(C.USER).to_list() == [0, 0]
    assert f.get_column(C.ITEM).to_list() == [2, 3]  # PAD/MASK stay reserved
    assert out.with_original_ids().equals(before)
    assert out.items.get_column(C.CATEGORY).to_list() == ["y", "x"]
    assert out.items.get_column(C.ITEM).to_list() == [2, 3]
    assert out.users.get_column(C.USER).to_list() == [0]


def test_remap_after_kcore_is_dense_and_recoverable():
    ds = random_dataset(3)
    cored = KCore(3, 3).apply(ds)
    out = RemapIds().apply(cored)
    f = out.interactions.frame
    assert sorted(f.get_column(C.USER).unique().to_list()) == list(range(out.vocab.n_users))
    assert sorted(f.get_column(C.ITEM).unique().to_list()) == list(range(2, out.vocab.item_space))
    assert out.with_original_ids().equals(cored.with_original_ids())


# -- contract ---------------------------------------------------------------------------
ALL_STEPS = [
    Deduplicate(mode="both"),
    KCore(2, 2),
    MinLength(3),
    EventFilter(keep=["view", "buy"], weights={"view": 1, "buy": 5}),
    Sessionize(300),
    Sessionize(300, as_users=True),
    TimeWindow(1000, 9000),
    RemapIds(),
]


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.describe())
def test_steps_never_modify_input(step):
    ds = random_dataset(1)
    frame, vocab, items, users = (ds.interactions.frame.clone(), ds.vocab, ds.items.clone(), ds.users.clone())
    out = step.apply(ds)
    assert out is not ds
    assert ds.interactions.frame.equals(frame)
    assert ds.vocab == vocab and ds.items.equals(items) and ds.users.equals(users)
    assert isinstance(step.describe(), str) and step.describe().startswith(step.name)


def test_preprocessor_reports_and_logs(caplog):
    ds = random_dataset(2, n=600)
    pre = Preprocessor([Deduplicate(mode="consecutive"), EventFilter(keep=["view", "cart"]), KCore(3, 3), RemapIds()])
    with caplog.at_level(logging.INFO, logger="recaug.preprocess"):
        res = pre.run(ds)
    assert [r.step for r in res.reports] == ["dedup", "event_filter", "kcore", "remap"]
    assert res.reports[0].rows_in == 600
    for prev, cur in zip(res.reports, res.reports[1:], strict=False):
        assert cur.rows_in == prev.rows_out
    for r in res.reports:
        assert r.rows_in - r.rows_out == sum(r.dropped.values())
        assert r.seconds >= 0
    assert res.reports[-1].rows_out == len(res.dataset.interactions)
    logged = [rec for rec in caplog.records if rec.name == "recaug.preprocess"]
    assert len(logged) == 4 and "kcore" in logged[2].getMessage()


def test_from_config_roundtrip_and_errors():
    cfg = [{"step": "dedup", "mode": "consecutive"}, {"step": "kcore", "user_k": 3}, {"step": "remap"}]
    pre = Preprocessor.from_config(cfg)
    assert [type(s) for s in pre.steps] == [Deduplicate, KCore, RemapIds]
    assert pre.steps[1] == KCore(user_k=3, item_k=5)
    assert Preprocessor.from_config(pre.to_config()).to_config() == pre.to_config()
    with pytest.raises(ConfigError, match="frobnicate"):
        Preprocessor.from_config([{"step": "frobnicate"}])
    with pytest.raises(ConfigError, match="userk"):
        Preprocessor.from_config([{"step": "kcore", "userk": 5}])
    with pytest.raises(ConfigError, match="step"):
        Preprocessor.from_config([{"user_k": 5}])


def test_default_pipeline():
    pre = Preprocessor.default()
    assert [s.name for s in pre.steps] == ["dedup", "kcore", "remap"]
    assert pre.steps[0] == Deduplicate(mode="consecutive", keep="strongest") and pre.steps[1] == KCore(5, 5)
    res = pre.run(random_dataset(4, n=2000))
    f = res.dataset.interactions.frame
    if len(f):
        assert f.group_by(C.USER).len().get_column("len").min() >= 5
    assert "kcore" in pre.describe()


def test_consecutive_dedup_keeps_the_strongest_event_of_a_run() -> None:
    import polars as pl

    from recaug.data import Dataset
    from recaug.preprocess import Deduplicate

    frame = pl.DataFrame(
        {
            "user_id": ["u"] * 6,
            "item_id": ["a", "a", "a", "b", "a", "a"],
            "timestamp": [1, 2, 3, 4, 5, 6],
            "event": ["view", "cart", "buy", "view", "view", "view"],
        }
    )
    ds = Dataset.from_frame(frame)
    out = Deduplicate(mode="consecutive", keep="strongest").apply(ds).with_original_ids()
    assert out.get_column("item_id").to_list() == ["a", "b", "a"]
    assert out.get_column("event").to_list() == ["buy", "view", "view"]
    assert out.get_column("timestamp").to_list() == [3, 4, 5]
