"""The built-in shop simulator: deterministic, well-formed and realistic in shape."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data import Dataset
from recaug.data.demo import EVENTS, simulate_shop
from recaug.errors import ConfigError


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return simulate_shop(n_users=2000, n_items=800, seed=3)


def _transitions(frame: pl.DataFrame, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive (a, b) item pairs within users where a != b, and the user of each pair."""
    users = frame.get_column(C.USER).to_numpy()
    same = users[1:] == users[:-1]
    a, b, u = items[:-1][same], items[1:][same], users[:-1][same]
    moved = a != b
    return a[moved], b[moved], u[moved]


def _heldout_top3_hit_rate(frame: pl.DataFrame, items: np.ndarray) -> float:
    """Share of next-item moves of half the users predicted by the other half's top-3 successors."""
    a, b, u = _transitions(frame, items)
    train = u % 2 == 0
    top = (
        pl.DataFrame({"a": a[train], "b": b[train]})
        .group_by("a", "b")
        .len()
        .sort(["len", "a", "b"], descending=True)
        .group_by("a", maintain_order=True)
        .head(3)
        .select("a", "b")
    )
    test = pl.DataFrame({"a": a[~train], "b": b[~train]})
    return len(test.join(top, on=["a", "b"], how="semi")) / len(test)


def test_same_seed_same_data_and_different_seed_differs() -> None:
    one = simulate_shop(n_users=300, n_items=200, seed=7)
    two = simulate_shop(n_users=300, n_items=200, seed=7)
    other = simulate_shop(n_users=300, n_items=200, seed=8)
    assert one.interactions.equals(two.interactions)
    assert one.items.equals(two.items) and one.users.equals(two.users) and one.vocab == two.vocab
    assert not one.interactions.equals(other.interactions)


def test_schema_and_tables(shop: Dataset) -> None:
    frame = shop.interactions.frame
    assert frame.schema[C.USER] == pl.Int32 and frame.schema[C.ITEM] == pl.Int32
    assert frame.schema[C.TIME] == pl.Int64
    for col in (C.EVENT, C.QUERY, C.SOURCE):
        assert frame.schema[col] == pl.Utf8
    assert set(frame.get_column(C.SOURCE).unique()) == {C.REAL}
    assert {C.ITEM, C.CATEGORY, C.BRAND, C.PRICE, C.TITLE} <= set(shop.items.columns)
    assert shop.items.null_count().sum_horizontal().item() == 0
    assert (shop.items.get_column(C.PRICE) > 0).all()
    assert shop.items.get_column(C.CATEGORY).n_unique() == 12
    # every vocabulary entry is used, in the dense code space
    assert frame.get_column(C.USER).n_unique() == shop.vocab.n_users == 2000
    assert frame.get_column(C.ITEM).n_unique() == shop.vocab.n_items == len(shop.items)
    assert shop.vocab.users[0].startswith("U") and shop.vocab.items[0].startswith("P")


def test_reserved_ids_never_used(shop: Dataset) -> None:
    items = shop.interactions.items
    assert items.min() >= C.N_RESERVED
    assert items.max() < shop.vocab.item_space
    assert not np.isin([C.PAD_ID, C.MASK_ID], shop.items.get_column(C.ITEM).to_numpy()).any()


def test_timestamps_increase_within_users_and_sessions_have_gaps(shop: Dataset) -> None:
    frame = shop.interactions.frame
    users, ts = frame.get_column(C.USER).to_numpy(), frame.get_column(C.TIME).to_numpy()
    assert np.all(np.diff(users) >= 0)
    gaps = np.diff(ts)[users[1:] == users[:-1]]
    assert gaps.min() >= 1
    assert np.median(gaps) < 600  # most moves happen within a session
    assert (gaps > 3600).mean() > 0.05  # but users come back hours or days later


def test_heavy_tailed_activity(shop: Dataset) -> None:
    lengths = shop.interactions.frame.group_by(C.USER).len().get_column("len").to_numpy()
    assert 0.1 < (lengths <= 3).mean() < 0.4
    assert lengths.max() > 10 * np.median(lengths)
    assert 12 < lengths.mean() < 30


def test_long_tail_popularity(shop: Dataset) -> None:
    counts = np.sort(np.bincount(shop.interactions.items))[::-1]
    counts = counts[counts > 0]
    assert counts[: len(counts) // 10].sum() / counts.sum() > 0.4


def test_sequential_signal_far_above_chance(shop: Dataset) -> None:
    frame = shop.interactions.frame
    items = frame.get_column(C.ITEM).to_numpy()
    real = _heldout_top3_hit_rate(frame, items)
    # same users, same items, order destroyed within each user
    rng = np.random.default_rng(0)
    users = frame.get_column(C.USER).to_numpy()
    shuffled = items[np.lexsort((rng.random(len(items)), users))]
    assert real > 0.2
    assert real > 2 * _heldout_top3_hit_rate(frame, shuffled)


def test_users_mostly_stay_in_few_categories(shop: Dataset) -> None:
    frame = shop.interactions.frame.join(shop.items.select(C.ITEM, C.CATEGORY), on=C.ITEM)
    per_user = frame.group_by(C.USER).agg(pl.len(), pl.col(C.CATEGORY).n_unique().alias("cats"))
    long = per_user.filter(pl.col("len") >= 30)
    assert long.get_column("cats").median() < 8  # of 12 categories


def test_event_funnel_and_queries(shop: Dataset) -> None:
    frame = shop.interactions.frame
    mix = dict(frame.group_by(C.EVENT).len().iter_rows())
    assert set(mix) == set(EVENTS)
    assert mix["view"] > mix["cart"] > mix["buy"] > 0
    assert 0.6 < mix["view"] / len(frame) < 0.95
    queries = frame.get_column(C.QUERY)
    assert 0.01 < queries.is_not_null().mean() < 0.5
    words = queries.drop_nulls().str.split(" ").list.len()
    assert words.min() >= 1 and words.max() <= 5
    # queries name what was found: each query shares a word with its item's title or category
    hits = (
        frame.filter(pl.col(C.QUERY).is_not_null())
        .join(shop.items.select(C.ITEM, C.TITLE), on=C.ITEM)
        .select(
            pl.col(C.QUERY).str.split(" ").list.first().alias("w"),
            pl.col(C.TITLE).str.to_lowercase().alias("t"),
        )
    )
    assert hits.select(pl.col("t").str.contains(pl.col("w"), literal=True).mean()).item() > 0.5


def test_bad_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        simulate_shop(n_users=0)
    with pytest.raises(ConfigError):
        simulate_shop(cart_prob=1.5)


def test_scales_linearly_and_fast() -> None:
    import time

    t0 = time.perf_counter()
    big = simulate_shop(n_users=20_000, n_items=5_000, seed=1)
    assert time.perf_counter() - t0 < 5.0
    assert 250_000 < len(big.interactions) < 550_000
