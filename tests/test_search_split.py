"""Search splits: time order per user, no leakage, unseen-queries split with zero query overlap."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, LeakageError
from recaug.search import SearchLeaveLastOut, SearchLog, UnseenQueries, search_splitter


def random_log(seed: int = 0, n: int = 600, n_queries: int = 40) -> SearchLog:
    rng = np.random.default_rng(seed)
    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(n_queries)]
    frame = pl.DataFrame({
        C.USER: rng.integers(0, 60, n).astype(str),
        C.ITEM: rng.integers(0, 90, n).astype(str),
        C.TIME: rng.permutation(n) * 10,
        C.QUERY: [words[i].upper() if i % 3 == 0 else words[i] for i in rng.integers(0, n_queries, n)],
    })
    return SearchLog(Dataset.from_frame(frame))


def keyset(part: SearchLog) -> set[str]:
    return set(part.query_keys().to_list())


def rows(part: SearchLog) -> list[tuple]:
    return sorted(part.frame.select(C.USER, C.ITEM, C.TIME, C.QUERY).rows())


def test_leave_last_out_takes_each_users_last_search():
    log = random_log()
    split = SearchLeaveLastOut().split(log)
    assert sorted(rows(split.train) + rows(split.valid) + rows(split.test)) == rows(log)
    last = log.frame.group_by(C.USER).agg(pl.col(C.TIME).max())
    test = split.test.frame.select(C.USER, C.TIME)
    assert sorted(test.rows()) == sorted(last.filter(
        pl.col(C.USER).is_in(test.get_column(C.USER).implode())).rows())
    # every valid event comes right before its user's test event, and after all training events
    joined = split.valid.frame.join(test, on=C.USER, suffix="_t")
    assert (joined.get_column(C.TIME) < joined.get_column(f"{C.TIME}_t")).all()
    latest_train = split.train.frame.group_by(C.USER).agg(pl.col(C.TIME).max().alias("tt"))
    joined = split.valid.frame.join(latest_train, on=C.USER)
    assert (joined.get_column(C.TIME) > joined.get_column("tt")).all()
    split.check()
    assert split.protocol.split == "search_leave_last_out"


def test_unseen_queries_have_zero_overlap_and_are_a_subset():
    log = random_log()
    base = SearchLeaveLastOut().split(log)
    split = UnseenQueries(test_fraction=0.3, valid_fraction=0.1, seed=1).split(log)
    split.check()
    test_q, valid_q, train_q = keyset(split.test), keyset(split.valid), keyset(split.train)
    assert test_q and train_q
    assert not test_q & train_q and not test_q & valid_q and not valid_q & train_q
    assert test_q <= split.test_queries
    assert set(rows(split.test)) <= set(rows(base.test))  # the same last event per user, when kept
    assert set(rows(split.train)) <= set(rows(base.train))
    assert split.protocol.params["n_test_queries"] == 12 and split.protocol.params["n_valid_queries"] == 4
    dropped = split.protocol.params["dropped_events"]
    assert dropped["test"] == len(base.test) - len(split.test)
    # case and spacing do not make a query new: "WAB" and "wab" are one query
    assert not {k.lower() for k in test_q} & {k.lower() for k in train_q}


def test_unseen_split_is_deterministic_per_seed():
    log = random_log(2)
    a, b = UnseenQueries(seed=5).split(log), UnseenQueries(seed=5).split(log)
    assert rows(a.test) == rows(b.test) and rows(a.train) == rows(b.train)
    assert UnseenQueries(seed=6).query_groups(log) != UnseenQueries(seed=5).query_groups(log)


def test_check_finds_leaks():
    log = random_log()
    split = UnseenQueries(seed=0).split(log)
    leaky = type(split)(split.train.with_frame(pl.concat([split.train.frame, split.test.frame.head(1)])),
                        split.valid, split.test, split.protocol, split.test_queries)
    with pytest.raises(LeakageError, match="test event"):
        leaky.check()
    base = SearchLeaveLastOut().split(log)
    moved = type(base)(base.train.with_frame(pl.concat([base.train.frame, base.valid.frame.head(2)])),
                       base.valid, base.test, base.protocol)
    with pytest.raises(LeakageError, match="valid event"):
        moved.check()


def test_history_and_bad_settings():
    split = SearchLeaveLastOut().split(random_log())
    assert len(split.history("test")) == len(split.train) + len(split.valid)
    assert len(split.history("valid")) == len(split.train)
    with pytest.raises(ConfigError):
        split.history("train")
    with pytest.raises(ConfigError):
        UnseenQueries(test_fraction=0.8, valid_fraction=0.3)
    with pytest.raises(ConfigError):
        search_splitter("random")
    assert isinstance(search_splitter("unseen_queries", seed=3), UnseenQueries)
