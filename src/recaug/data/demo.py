"""Built-in e-commerce shop simulator: realistic-looking logs for demos, tests and benchmarks.

What it models (all vectorised NumPy; the only Python loop walks sequence *positions*, each
step handling every still-active user at once):

- items in categories, with brands, prices and titles; Zipf-like item popularity;
- users with one to three preferred categories and occasional cross-category moves;
- a sparse "what follows what" structure: every item has a few likely successors (same
  category alternatives and accessories from a complementary category), followed most
  often right after a purchase;
- a view -> cart -> buy funnel on the same item;
- sessions: seconds between events inside a session, hours to days between sessions;
- short search queries built from category, brand and adjective words on some views;
- heavy-tailed (lognormal) activity, so a realistic share of users has only 1-3 events.

Expected size: about ``n_users * mean_length`` interactions (``max_length`` trims the tail a
little). For 10M interactions use e.g. ``simulate_shop(n_users=500_000, n_items=50_000)``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.data.vocabulary import Vocabulary
from recaug.errors import ConfigError

__all__ = ["EVENTS", "simulate_shop"]

#: Event types, most common first.
EVENTS = ("view", "cart", "buy")
_VIEW, _CART, _BUY = 0, 1, 2

# (category name, query noun, adjectives, median price)
_CATEGORIES: tuple[tuple[str, str, tuple[str, ...], float], ...] = (
    ("phones", "phone", ("unlocked", "5g", "dual sim"), 350.0),
    ("phone accessories", "phone case", ("clear", "magnetic", "slim"), 15.0),
    ("laptops", "laptop", ("gaming", "thin", "14 inch"), 900.0),
    ("computer accessories", "mouse", ("wireless", "ergonomic", "usb c"), 25.0),
    ("headphones", "headphones", ("wireless", "noise cancelling", "over ear"), 80.0),
    ("cameras", "camera", ("mirrorless", "4k", "compact"), 600.0),
    ("skincare", "moisturizer", ("hydrating", "organic", "spf"), 22.0),
    ("makeup", "lipstick", ("matte", "long lasting", "nude"), 14.0),
    ("running shoes", "running shoes", ("lightweight", "trail", "cushioned"), 95.0),
    ("sportswear", "sports shirt", ("breathable", "quick dry", "compression"), 30.0),
    ("kitchen", "blender", ("stainless", "compact", "high speed"), 60.0),
    ("coffee", "coffee beans", ("arabica", "dark roast", "decaf"), 12.0),
    ("toys", "building set", ("educational", "wooden", "kids"), 35.0),
    ("books", "novel", ("paperback", "bestseller", "hardcover"), 15.0),
    ("pet supplies", "dog food", ("grain free", "puppy", "natural"), 40.0),
    ("garden", "garden hose", ("expandable", "heavy duty", "50 ft"), 30.0),
    ("watches", "watch", ("smart", "analog", "waterproof"), 150.0),
    ("bags", "backpack", ("travel", "leather", "waterproof"), 55.0),
    ("home decor", "lamp", ("led", "vintage", "dimmable"), 45.0),
    ("tools", "drill", ("cordless", "18v", "compact"), 90.0),
)
_GENERIC_ADJECTIVES = ("cheap", "best", "new", "premium", "sale")
_SYLLABLES = (
    "ar", "bel", "cor", "dan", "el", "fin", "gor", "hal", "is", "jun", "kor", "lum", "mar", "nor",
    "ol", "pra", "quin", "ros", "sol", "tek", "ul", "ver", "wex", "xan", "yor", "zen", "vo", "tri",
)  # fmt: skip
_MODEL_LETTERS = np.array(list("AEKMPRSTVXZ"))


def _check(name: str, value: float, low: float, high: float = np.inf) -> None:
    if not (low <= value <= high):
        raise ConfigError(f"simulate_shop: {name}={value} must be in [{low}, {high}]")


def _category_specs(n_categories: int) -> list[tuple[str, str, tuple[str, ...], float]]:
    specs = list(_CATEGORIES[:n_categories])
    for k in range(len(specs), n_categories):  # more categories than named ones: numbered variants
        name, noun, adjectives, price = _CATEGORIES[k % len(_CATEGORIES)]
        specs.append((f"{name} {k // len(_CATEGORIES) + 1}", noun, adjectives, price))
    return specs


def _brand_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct pronounceable brand names from random syllable pairs/triples."""
    s = np.array(_SYLLABLES)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:  # loop over brands (tens to hundreds), not interactions
        k = rng.integers(2, 4)
        name = "".join(rng.choice(s, size=k)).capitalize()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return np.array(names)


def _sample_in_category(
    rng: np.random.Generator, cats: np.ndarray, cdf_key: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """One popularity-weighted item per entry of ``cats`` (inverse CDF over per-category segments)."""
    pos = np.searchsorted(cdf_key, cats + rng.random(len(cats)), side="right")
    return order[np.minimum(pos, len(order) - 1)]


def simulate_shop(
    n_users: int = 3000,
    n_items: int = 1500,
    n_categories: int = 12,
    seed: int = 0,
    start: int = 1_700_000_000,
    *,
    mean_length: float = 20.0,
    max_length: int = 200,
    popularity_exponent: float = 0.85,
    n_successors: int = 3,
    follow_prob: float = 0.3,
    follow_after_buy_prob: float = 0.7,
    cross_category_prob: float = 0.06,
    cart_prob: float = 0.15,
    buy_prob: float = 0.5,
    new_session_prob: float = 0.12,
    query_prob: float = 0.4,
    name: str = "shop",
) -> Dataset:
    """Simulate an e-commerce shop log; same ``seed`` gives the same dataset.

    Returns a :class:`Dataset` whose interactions have ``event`` (view/cart/buy) and
    ``query`` (search text or null) columns and whose item table has ``category``,
    ``brand``, ``price`` and ``title``; the user table has ``favourite_category``.
    Original ids look like ``U0000042`` / ``P000017``; items nobody touched are left out.
    """
    _check("n_users", n_users, 1)
    _check("n_items", n_items, 2)
    _check("n_categories", n_categories, 1, n_items)
    _check("mean_length", mean_length, 1.0)
    _check("max_length", max_length, 1)
    _check("n_successors", n_successors, 1, n_items)
    for pname, p in (
        ("follow_prob", follow_prob), ("follow_after_buy_prob", follow_after_buy_prob),
        ("cross_category_prob", cross_category_prob), ("cart_prob", cart_prob), ("buy_prob", buy_prob),
        ("new_session_prob", new_session_prob), ("query_prob", query_prob),
    ):  # fmt: skip
        _check(pname, p, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    specs = _category_specs(n_categories)

    # -- catalogue ------------------------------------------------------------------------
    cat_share = rng.dirichlet(np.full(n_categories, 2.0))
    item_cat = np.r_[np.arange(n_categories), rng.choice(n_categories, n_items - n_categories, p=cat_share)]
    item_cat = rng.permutation(item_cat).astype(np.int64)  # every category has at least one item
    rank = rng.permutation(n_items) + 1
    popularity = rank.astype(np.float64) ** -popularity_exponent
    # per-category inverse-CDF table: items sorted by category, key = category + cumulative share
    order = np.lexsort((rank, item_cat))
    sorted_cat = item_cat[order]
    w = popularity[order]
    cat_total = np.bincount(sorted_cat, weights=w, minlength=n_categories)
    cat_size = np.bincount(sorted_cat, minlength=n_categories)
    cum = np.cumsum(w) - np.repeat(np.cumsum(cat_total) - cat_total, cat_size)
    cdf_key = sorted_cat + cum / cat_total[sorted_cat]
    segment_end = np.r_[sorted_cat[1:] != sorted_cat[:-1], True]
    cdf_key[segment_end] = sorted_cat[segment_end] + 1.0  # exact ends despite rounding
    cat_weight = cat_total / cat_total.sum()

    n_brands = max(8, 4 * n_categories)
    brands = _brand_names(rng, n_brands)
    brands_per_cat = min(6, n_brands)
    cat_brands = np.argsort(rng.random((n_categories, n_brands)), axis=1)[:, :brands_per_cat]
    brand_slot = np.minimum(rng.geometric(0.4, n_items) - 1, brands_per_cat - 1)  # skewed brand shares
    item_brand = cat_brands[item_cat, brand_slot]
    brand_premium = rng.lognormal(0.0, 0.3, n_brands)
    base_price = np.array([s[3] for s in specs])
    price = (
        np.round(base_price[item_cat] * brand_premium[item_brand] * rng.lognormal(0.0, 0.35, n_items)) - 0.01
    )
    price = np.maximum(price, 0.99)

    # successors: first one an alternative in the same category, the rest accessories from the
    # complementary category (the catalogue lists categories in pairs: phones, phone accessories,
    # ...); popular items are likelier successors
    partner = np.arange(n_categories) ^ 1
    complement = np.where(partner < n_categories, partner, np.maximum(np.arange(n_categories) - 1, 0))
    succ_cat = np.repeat(complement[item_cat][:, None], n_successors, axis=1)
    succ_cat[:, 0] = item_cat
    successors = _sample_in_category(rng, succ_cat.ravel(), cdf_key, order).reshape(n_items, n_successors)
    succ_weights = 0.5 ** np.arange(n_successors)
    succ_cdf = np.cumsum(succ_weights / succ_weights.sum())

    # -- users ----------------------------------------------------------------------------
    sigma = 1.3
    mu = np.log(max(mean_length - 0.5, 0.5)) - sigma**2 / 2
    lengths = np.minimum(1 + np.floor(rng.lognormal(mu, sigma, n_users)), max_length).astype(np.int64)
    cat_cdf = np.cumsum(cat_weight)
    cat_cdf[-1] = 1.0
    # up to three preferred categories (popular ones likelier; a repeat just means a stronger taste)
    prefs = np.searchsorted(cat_cdf, rng.random((n_users, 3)), side="right").clip(max=n_categories - 1)
    n_prefs = rng.choice([1, 2, 3], n_users, p=[0.4, 0.4, 0.2])
    user_start = start + rng.integers(0, 60 * 86_400, n_users)

    # walk positions; users sorted by length (longest first) so active users are a prefix
    by_len = np.argsort(-lengths, kind="stable")
    len_sorted = lengths[by_len]
    active = np.searchsorted(
        -len_sorted, -np.arange(1, len_sorted[0] + 1), side="right"
    )  # users with len > t
    offsets = np.r_[0, np.cumsum(lengths)]
    base = offsets[by_len]
    total = int(offsets[-1])
    out_item = np.empty(total, dtype=np.int32)
    out_time = np.empty(total, dtype=np.int64)
    out_event = np.empty(total, dtype=np.int8)
    out_query = np.full(total, -1, dtype=np.int32)
    prefs_s, n_prefs_s = prefs[by_len], n_prefs[by_len]
    cur_item = np.zeros(n_users, dtype=np.int64)
    cur_event = np.zeros(n_users, dtype=np.int8)
    cur_time = user_start[by_len].astype(np.int64)
    n_templates = 4
    gap_mu = np.array([np.log(45.0), np.log(20 * 3600.0)])  # inside a session: about a minute;
    gap_sigma = np.array([0.9, 1.3])  # between sessions: hours to days
    for t in range(int(len_sorted[0])):
        n = int(active[t])
        r = rng.random((6, n))
        prev_item, prev_event = cur_item[:n], cur_event[:n]
        if t == 0:
            new_session = np.ones(n, dtype=bool)
            cont = np.zeros(n, dtype=bool)
            follow = np.zeros(n, dtype=bool)
        else:
            new_session = r[0] < new_session_prob
            # funnel: view -> cart -> buy on the same item
            cont = np.where(prev_event == _VIEW, r[1] < cart_prob, (prev_event == _CART) & (r[1] < buy_prob))
            follow = ~cont & (r[2] < np.where(prev_event == _BUY, follow_after_buy_prob, follow_prob))
        draw = ~cont & ~follow
        cross = draw & (r[3] < np.where(new_session, 0.15, cross_category_prob))
        # category of a fresh item: random when crossing, a preferred one at a session start,
        # otherwise the category being browsed
        pref = prefs_s[np.arange(n), np.minimum((r[4] * n_prefs_s[:n]).astype(np.int64), 2)]
        cat = np.where(new_session, pref, item_cat[prev_item])
        cat[cross] = np.searchsorted(cat_cdf, r[4][cross], side="right").clip(max=n_categories - 1)
        item = prev_item.copy()
        rows = np.flatnonzero(draw)
        item[rows] = _sample_in_category(rng, cat[rows], cdf_key, order)
        again = rows[item[rows] == prev_item[rows]] if t > 0 else rows[:0]
        item[again] = _sample_in_category(rng, cat[again], cdf_key, order)  # browsing moves on
        if t > 0:
            rows = np.flatnonzero(follow)
            k = np.searchsorted(succ_cdf, r[5][rows], side="right").clip(max=n_successors - 1)
            item[rows] = successors[prev_item[rows], k]
            session = new_session.astype(np.int64)
            gap = np.exp(gap_mu[session] + gap_sigma[session] * rng.standard_normal(n))
            cur_time[:n] += 1 + gap.astype(np.int64)
        event = np.where(cont, prev_event + 1, _VIEW).astype(np.int8)
        searched = draw & (r[5] < np.where(new_session | cross, query_prob, 0.03))
        template = (r[5] * 1e6).astype(np.int64) % n_templates  # independent of the r[5] < p test
        idx = base[:n] + t
        out_item[idx] = item
        out_time[idx] = cur_time[:n]
        out_event[idx] = event
        out_query[idx] = np.where(searched, item * n_templates + template, -1)
        cur_item[:n], cur_event[:n] = item, event

    # -- tables ---------------------------------------------------------------------------
    used = np.bincount(out_item, minlength=n_items) > 0
    code_of = np.cumsum(used) - 1 + C.N_RESERVED
    kept = np.flatnonzero(used)
    width_u, width_i = len(str(n_users - 1)), len(str(n_items - 1))
    cat_names = pl.Series([s[0] for s in specs], dtype=pl.Utf8)
    nouns = pl.Series([s[1] for s in specs], dtype=pl.Utf8)
    adjectives = np.array([s[2][k % len(s[2])] for s in specs for k in range(3)]).reshape(n_categories, 3)
    adj_pick = adjectives[item_cat, rng.integers(0, 3, n_items)]
    generic = np.array(_GENERIC_ADJECTIVES)[rng.integers(0, len(_GENERIC_ADJECTIVES), n_items)]
    letters = _MODEL_LETTERS[rng.integers(0, len(_MODEL_LETTERS), n_items)]
    model = np.char.add(letters, rng.integers(1, 100, n_items).astype(str))
    catalogue = pl.DataFrame(
        {
            "cat": cat_names.gather(item_cat),
            "noun": nouns.gather(item_cat),
            "brand": pl.Series(brands[item_brand]),
            "adj": pl.Series(adj_pick),
            "generic": pl.Series(generic),
            "model": pl.Series(model),
        }
    )
    titles = catalogue.select(pl.concat_str(["brand", "adj", "noun", "model"], separator=" ")).to_series()
    query_table = catalogue.select(  # entry item * 4 + template
        pl.concat_list(
            pl.col("noun"),
            pl.concat_str([pl.col("brand").str.to_lowercase(), "noun"], separator=" "),
            pl.concat_str(["adj", "noun"], separator=" "),
            pl.concat_str(["generic", "noun"], separator=" "),
        ).explode()
    ).to_series()

    items = pl.DataFrame(
        {
            C.ITEM: code_of[kept].astype(np.int32),
            C.CATEGORY: cat_names.gather(item_cat[kept]),
            C.BRAND: pl.Series(brands[item_brand[kept]]),
            C.PRICE: price[kept],
            C.TITLE: titles.gather(kept),
        }
    )
    users = pl.DataFrame(
        {C.USER: np.arange(n_users, dtype=np.int32), "favourite_category": cat_names.gather(prefs[:, 0])}
    )
    vocab = Vocabulary(
        "U" + pl.Series(np.arange(n_users)).cast(pl.Utf8).str.zfill(width_u),
        "P" + pl.Series(kept).cast(pl.Utf8).str.zfill(width_i),
    )
    q = pl.Series(out_query)
    frame = pl.DataFrame(
        {
            C.USER: np.repeat(np.arange(n_users, dtype=np.int32), lengths),
            C.ITEM: code_of[out_item].astype(np.int32),
            C.TIME: out_time,
            C.EVENT: pl.Series(EVENTS, dtype=pl.Enum(EVENTS)).gather(out_event).cast(pl.Utf8),
            C.QUERY: query_table.gather(pl.select(pl.when(q >= 0).then(q)).to_series()),
        }
    ).with_columns(pl.lit(C.REAL).alias(C.SOURCE))
    return Dataset(Interactions(frame, sort=False), vocab, items, users, name=name)
