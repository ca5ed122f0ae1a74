"""Leave-last-out and temporal splits: sizes, short users, determinism, leakage guard."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data import Interactions
from recaug.errors import ConfigError, DataError, LeakageError
from recaug.split import LeaveLastOut, Protocol, Split, TemporalSplit


def random_log(seed: int = 0, n: int = 500) -> Interactions:
    rng = np.random.default_rng(seed)
    return Interactions.from_arrays(
        rng.integers(0, 50, n), rng.integers(2, 80, n), rng.permutation(n) * 10  # distinct times
    )


def pairs(i: Interactions) -> set[tuple[int, int]]:
    return set(i.frame.select(C.USER, C.ITEM).rows())


def rowset(i: Interactions) -> list[tuple]:
    return sorted(i.frame.select(C.USER, C.ITEM, C.TIME).rows())


def assert_partition(split: Split, data: Interactions) -> None:
    assert sorted(rowset(split.train) + rowset(split.valid) + rowset(split.test)) == rowset(data)


# -- leave-last-out -----------------------------------------------------------------------
def test_leave_last_out_short_users(tiny_interactions):
    s = LeaveLastOut().split(tiny_interactions)  # users with 4, 2 and 1 interactions
    assert s.test.frame.select(C.USER, C.ITEM).rows() == [(0, 5), (1, 3)]
    assert s.valid.frame.select(C.USER, C.ITEM).rows() == [(0, 4)]
    assert s.train.frame.select(C.USER, C.ITEM).rows() == [(0, 2), (0, 3), (1, 2), (2, 9)]
    assert_partition(s, tiny_interactions)
    assert s.protocol.split == "leave_last_out"


def test_leave_last_out_sizes_and_order():
    data = random_log()
    s = LeaveLastOut().split(data)
    assert_partition(s, data)
    counts = data.frame.group_by(C.USER).len()
    n3 = counts.filter(pl.col("len") >= 3).height
    n2 = counts.filter(pl.col("len") >= 2).height
    assert len(s.test) == n2 and len(s.valid) == n3
    # the test item is each user's latest interaction, the valid item the one before
    last = data.frame.sort(C.TIME).group_by(C.USER).agg(pl.col(C.TIME).last()).sort(C.USER)
    assert s.test.frame.sort(C.USER).get_column(C.TIME).to_list() == (
        last.join(s.test.frame.select(C.USER), on=C.USER, how="semi").get_column(C.TIME).to_list()
    )
    tmax = s.train.frame.group_by(C.USER).agg(pl.col(C.TIME).max().alias("t"))
    later = s.valid.frame.join(tmax, on=C.USER).filter(pl.col(C.TIME) <= pl.col("t"))
    assert later.is_empty()


def test_leave_last_out_deterministic_and_order_free():
    data = random_log(1)
    a = LeaveLastOut().split(data)
    b = LeaveLastOut().split(data)
    shuffled = Interactions(data.frame.sample(fraction=1.0, shuffle=True, seed=3), sort=False)
    c = LeaveLastOut().split(shuffled)
    for x, y in ((a, b), (a, c)):
        assert x.train.equals(y.train) and x.valid.equals(y.valid) and x.test.equals(y.test)


def test_leave_last_out_more_held_out_and_bad_settings():
    data = Interactions.from_arrays([0] * 5 + [1] * 3, [2, 3, 4, 5, 6, 2, 3, 4])
    s = LeaveLastOut(n_valid=2, n_test=2, min_train=1).split(data)
    assert s.test.frame.select(C.USER, C.ITEM).rows() == [(0, 5), (0, 6), (1, 3), (1, 4)]
    assert s.valid.frame.select(C.USER, C.ITEM).rows() == [(0, 3), (0, 4)]
    assert s.train.frame.select(C.USER, C.ITEM).rows() == [(0, 2), (1, 2)]
    with pytest.raises(ConfigError):
        LeaveLastOut(n_test=-1)


# -- leakage guard ----------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [LeaveLastOut(), TemporalSplit(0.6, 0.8)], ids=["loo", "temporal"])
def test_no_held_out_pair_in_train_and_planted_leak_fires(protocol):
    data = random_log(2)
    s = protocol.split(data)
    assert len(s.test) and len(s.valid)
    s.assert_no_leakage(s.train)
    # held-out pairs that are not repeats of a training pair never appear in train
    fresh = s.held_out().join(s.train.pairs(), on=[C.USER, C.ITEM], how="anti")
    assert not set(fresh.rows()) & pairs(s.train)
    leak = fresh.head(1).with_columns(pl.lit(123, dtype=pl.Int64).alias(C.TIME))
    planted = s.train.concat(Interactions(leak))
    with pytest.raises(LeakageError, match="1 held-out"):
        s.assert_no_leakage(planted, what="augmented train")
    # plain frames with other integer dtypes are checked too
    with pytest.raises(LeakageError):
        s.assert_no_leakage(leak.with_columns(pl.col(C.USER).cast(pl.Int64)))
    with pytest.raises(DataError):
        s.assert_no_leakage(pl.DataFrame({C.USER: [1]}))


def test_repeat_of_a_training_pair_is_not_a_leak():
    data = Interactions.from_arrays([0, 0, 0], [2, 3, 2])  # test item 2 was also bought in train
    s = LeaveLastOut().split(data)
    s.assert_no_leakage(Interactions.from_arrays([0], [2]))
    with pytest.raises(LeakageError):
        s.assert_no_leakage(Interactions.from_arrays([0], [3]))


# -- temporal -----------------------------------------------------------------------------
def small_log() -> Interactions:
    # times 0..9 ; user 0 active all along, user 1 only late, user 2 only early
    return Interactions.from_arrays(
        [0, 0, 0, 2, 2, 0, 0, 1, 0, 1], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], list(range(10))
    )


def test_temporal_explicit_cuts():
    s = TemporalSplit(valid_at=7, test_at=9).split(small_log())
    assert sorted(s.train.frame.get_column(C.TIME).to_list()) == list(range(7))
    assert s.valid.frame.get_column(C.TIME).to_list() == [8]  # t=7 is user 1, who has no train history
    assert s.test.frame.get_column(C.TIME).to_list() == []  # t=9 is user 1 too
    loose = TemporalSplit(valid_at=7, test_at=9, require_train_history=False).split(small_log())
    assert sorted(loose.valid.frame.get_column(C.TIME).to_list()) == [7, 8]
    assert loose.test.frame.get_column(C.TIME).to_list() == [9]
    assert_partition(loose, small_log())
    assert s.protocol.split == "temporal"
    assert s.protocol.params["valid_cut"] == 7 and s.protocol.params["test_cut"] == 9
    assert "temporal" in s.protocol.describe()


def test_temporal_quantiles_sizes():
    data = random_log(4, n=1000)  # times 0, 10, ..., 9990
    s = TemporalSplit(valid_at=0.8, test_at=0.9, require_train_history=False).split(data)
    assert (len(s.train), len(s.valid), len(s.test)) == (800, 100, 100)
    assert s.train.frame.get_column(C.TIME).max() < s.valid.frame.get_column(C.TIME).min()
    assert s.valid.frame.get_column(C.TIME).max() < s.test.frame.get_column(C.TIME).min()
    strict = TemporalSplit().split(data)
    train_users = set(strict.train.frame.get_column(C.USER).to_list())
    assert set(strict.test.frame.get_column(C.USER).to_list()) <= train_users
    assert set(strict.valid.frame.get_column(C.USER).to_list()) <= train_users
    assert len(strict.test) <= 100


def test_temporal_without_validation_and_max_per_user():
    data = small_log()
    s = TemporalSplit(valid_at=None, test_at=5, require_train_history=False).split(data)
    assert len(s.valid) == 0 and len(s.train) == 5 and len(s.test) == 5
    one = TemporalSplit(valid_at=None, test_at=5, require_train_history=False, max_per_user=1).split(data)
    assert one.test.frame.select(C.USER, C.TIME).rows() == [(0, 5), (1, 7)]


def test_temporal_datetime_cuts_and_determinism():
    day = 86_400
    data = Interactions.from_arrays([0, 0, 0, 1, 1], [2, 3, 4, 2, 5], [0, day, 2 * day, 0, 3 * day])
    a = TemporalSplit(valid_at="1970-01-02", test_at=datetime(1970, 1, 3, tzinfo=UTC)).split(data)
    b = TemporalSplit(valid_at="1970-01-02", test_at=datetime(1970, 1, 3, tzinfo=UTC)).split(data)
    assert a.valid.frame.select(C.USER, C.ITEM).rows() == [(0, 3)]
    assert sorted(a.test.frame.select(C.USER, C.ITEM).rows()) == [(0, 4), (1, 5)]
    assert a.train.equals(b.train) and a.valid.equals(b.valid) and a.test.equals(b.test)


def test_temporal_bad_settings():
    with pytest.raises(ConfigError):
        TemporalSplit(valid_at=0.95, test_at=0.9)
    with pytest.raises(ConfigError):
        TemporalSplit(valid_at=0.5, test_at=100)
    with pytest.raises(ConfigError):
        TemporalSplit(test_at="not a date")
    with pytest.raises(ConfigError):
        TemporalSplit(max_per_user=0)


def test_protocol_roundtrip(tmp_path):
    p = TemporalSplit().protocol
    assert isinstance(p, Protocol) and p.to_dict()["split"] == "temporal"
    p.save(tmp_path / "protocol.json")
    assert (tmp_path / "protocol.json").read_text().count("temporal") == 1
