"""Search augmentation: determinism, per-row streams, provenance, train-only fitting, leakage, op invariants."""

from __future__ import annotations

import io
import json

import numpy as np
import polars as pl
import pytest

from cli_helpers import invoke
from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.data.vocabulary import Vocabulary
from recaug.errors import ConfigError, LeakageError, NotFittedError
from recaug.search import (
    CategoryGeneralise,
    CategorySpecialise,
    PseudoQueries,
    SearchLog,
    TermDropout,
    TermReorder,
    TermSubstitute,
    UnseenQueries,
    assert_no_search_leakage,
    augment_search_histories,
    augment_search_training,
    category_path_query,
    fuse_search,
    pseudo_user,
    search_augmenter_from_config,
)
from recaug.search.augment import ORIGIN_QUERY, VIEW, drop_search_leakage
from recaug.search.split import SearchLeaveLastOut
from recaug.search.tokenize import tokenize

PATHS = [
    ["Makeup", "Nails", "Nail Polish"],
    ["Makeup", "Nails", "Nail Art"],
    ["Makeup", "Nails"],
    ["Makeup", "Face", "Foundation"],
    ["Makeup", "Face", "Concealer"],
    ["Skin Care", "Face", "Creams"],
    ["Skin Care", "Face", "Lotions"],
    ["Skin Care", "Body"],
    ["Skin Care", "Body", "Scrubs", "Sugar"],
    ["Fragrance"],
]
WORDS = ["red", "matte", "gloss", "aloe", "rose", "gel", "kit", "mini", "glow", "shea", "oil", "pink", "velvet"]

QUERY_OPS = [
    {"op": "term_dropout", "p": 0.4},
    {"op": "term_reorder"},
    {"op": "term_reorder", "mode": "swap"},
    {"op": "term_substitute", "k": 3, "min_count": 1},
    {"op": "term_substitute", "method": "pmi", "min_count": 1, "source": "queries+text"},
    {"op": "category_generalise"},
    {"op": "category_specialise"},
    {"op": "one_of", "ops": [{"op": "term_dropout"}, {"op": "category_generalise"}, {"op": "term_reorder"}]},
    {"op": "compose", "ops": [{"op": "category_specialise"}, {"op": "term_dropout", "p": 0.3}]},
]
ALL_OPS = [*QUERY_OPS, {"op": "pseudo_queries", "min_train_queries": 3},
           {"op": "union", "ops": [{"op": "term_reorder"}, {"op": "pseudo_queries", "min_train_queries": 2}]}]
RANDOM_OPS = [c for c in ALL_OPS if c["op"] not in ("category_generalise",)]


def make_log(n_users: int = 40, n_items: int = 30, seed: int = 0, free_text: float = 0.2) -> SearchLog:
    """Users buying popularity-skewed items; the query is the item's category path, some rows free text."""
    rng = np.random.default_rng(seed)
    item_ids = [f"i{k:03d}" for k in range(n_items)]
    paths = [PATHS[k % len(PATHS)] for k in range(n_items)]
    titles = [" ".join(rng.choice(WORDS, 3, replace=False)) for _ in range(n_items)]
    popularity = 1.0 / np.arange(1, n_items + 1) ** 1.1
    popularity /= popularity.sum()
    users, items, queries = [], [], []
    for u in range(n_users):
        for k in rng.choice(n_items, int(rng.integers(3, 8)), p=popularity):
            users.append(f"u{u:03d}")
            items.append(int(k))
            if rng.random() < free_text:
                queries.append(f"{rng.choice(WORDS)} {paths[k][-1]}")
            else:
                queries.append(category_path_query(pl.Series([paths[k]], dtype=pl.List(pl.Utf8)))[0])
    vocab = Vocabulary(sorted(set(users)), item_ids)
    table = pl.DataFrame({C.ITEM: np.arange(n_items, dtype=np.int32) + 2,
                          "categories": pl.Series(paths, dtype=pl.List(pl.Utf8)), "title": titles})
    table = table.with_columns(pl.concat_str([pl.col("categories").list.join(" "), pl.col("title")],
                                             separator=" ").alias("text"))
    frame = pl.DataFrame({C.USER: [vocab.users.to_list().index(u) for u in users],
                          C.ITEM: np.asarray(items, dtype=np.int32) + 2,
                          C.TIME: np.arange(len(users), dtype=np.int64), C.QUERY: queries})
    return SearchLog(Dataset(Interactions(frame), vocab, table, name="hand"))


@pytest.fixture(scope="module")
def log() -> SearchLog:
    return make_log()


def fitted(config: dict, train: SearchLog):
    return search_augmenter_from_config(json.loads(json.dumps(config))).fit(train)


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, statistics=False)
    return buf.getvalue()


def words(query: str) -> list[str]:
    return tokenize([query]).to_list()[0]


# -- determinism and per-row streams ------------------------------------------------------------
@pytest.mark.parametrize("config", ALL_OPS, ids=lambda c: json.dumps(c)[:60])
def test_same_seed_same_bytes_different_seed_different_rows(log, config):
    aug = fitted(config, log)
    a = aug.augment(log, seed=3, n_views=2).frame
    b = fitted(config, log).augment(log, seed=3, n_views=2).frame
    assert len(a) > 0
    assert parquet_bytes(a) == parquet_bytes(b)
    if config in RANDOM_OPS:
        c = aug.augment(log, seed=4, n_views=2).frame
        assert not a.equals(c)


@pytest.mark.parametrize("config", QUERY_OPS, ids=lambda c: json.dumps(c)[:60])
def test_halves_and_shuffled_order_equal_whole(log, config):
    aug = fitted(config, log)
    whole = aug.augment(log, seed=7, n_views=3).frame
    cut = len(log) // 3
    first = aug.augment(log.with_frame(log.frame.head(cut)), seed=7, n_views=3).frame
    second = aug.augment(log.with_frame(log.frame.slice(cut)), seed=7, n_views=3).frame
    assert pl.concat([first, second]).equals(whole)
    order = np.random.default_rng(1).permutation(len(log))
    shuffled = aug.augment(log.with_frame(log.frame[order]), seed=7, n_views=3).frame
    key = [C.USER, C.TIME, VIEW]
    assert shuffled.sort(key).equals(whole.sort(key))


def test_pseudo_queries_per_item_streams(log):
    aug = fitted({"op": "pseudo_queries", "min_train_queries": 4}, log)
    whole = aug.augment(log, seed=2, n_views=2).frame
    items = log.items
    assert aug.augment(log.with_frame(log.frame.head(5)), seed=2, n_views=2).frame.equals(whole)  # rows don't matter
    parts = []
    for rows in (items.head(11), items.slice(11)):
        sub = SearchLog(Dataset(log.interactions, log.vocab, rows, name="hand"))
        parts.append(aug.augment(sub, seed=2, n_views=2).frame)
    assert pl.concat(parts).sort(C.ITEM, C.TIME).equals(whole.sort(C.ITEM, C.TIME))


# -- originals and provenance --------------------------------------------------------------------
@pytest.mark.parametrize("config", ALL_OPS, ids=lambda c: json.dumps(c)[:60])
def test_originals_unchanged_and_provenance(log, config):
    before = log.frame.clone()
    out = fitted(config, log).augment(log, seed=0, n_views=2)
    assert log.frame.equals(before)
    frame = out.frame
    assert {C.SOURCE, VIEW, ORIGIN_QUERY} <= set(frame.columns)
    assert (frame.get_column(C.SOURCE) != C.REAL).all()
    assert frame.get_column(VIEW).is_between(0, 1).all()
    names = {n for s in frame.get_column(C.SOURCE).unique().to_list() for n in s.split("+")}
    leaves = {"term_dropout", "term_reorder", "term_substitute", "category_generalise", "category_specialise",
              "pseudo_queries"}
    assert names <= leaves
    query_rows = frame.filter(pl.col(C.SOURCE) != "pseudo_queries")
    # every query-side row keeps user, item and time of a real row, its origin_query is that row's query
    # and its query differs from it
    joined = query_rows.join(log.frame.select(C.USER, C.ITEM, C.TIME, pl.col(C.QUERY).alias("_real")),
                             on=[C.USER, C.ITEM, C.TIME], how="left")
    assert joined.get_column("_real").null_count() == 0
    assert (joined.get_column("_real") == joined.get_column(ORIGIN_QUERY)).all()
    assert (joined.get_column(C.QUERY) != joined.get_column(ORIGIN_QUERY)).all()
    pseudo = frame.filter(pl.col(C.SOURCE) == "pseudo_queries")
    assert (pseudo.get_column(C.USER) == pseudo_user(log)).all()
    assert pseudo.get_column(ORIGIN_QUERY).null_count() == len(pseudo)


def test_not_fitted_and_bad_config(log):
    with pytest.raises(NotFittedError):
        TermSubstitute().augment(log, seed=0)
    with pytest.raises(ConfigError, match="unknown search augmentation op"):
        search_augmenter_from_config({"op": "crop"})
    with pytest.raises(ConfigError, match="did you mean 'min_terms'"):
        search_augmenter_from_config({"op": "term_dropout", "min_term": 2})
    with pytest.raises(ConfigError, match="term_dropout.p"):
        search_augmenter_from_config({"op": "term_dropout", "p": "lots"})
    with pytest.raises(ConfigError, match="query-side"):
        search_augmenter_from_config({"op": "one_of", "ops": [{"op": "pseudo_queries"}]})
    with pytest.raises(ConfigError, match="n_views"):
        TermDropout().augment(log, seed=0, n_views=0)


@pytest.mark.parametrize("config", ALL_OPS, ids=lambda c: json.dumps(c)[:60])
def test_config_round_trip(config):
    built = search_augmenter_from_config(config)
    again = search_augmenter_from_config(built.config())
    assert again.config() == built.config()
    assert built.describe()


# -- fitting on training rows only ---------------------------------------------------------------
def test_fit_sees_only_train(log, monkeypatch):
    split = SearchLeaveLastOut().split(log)
    seen: list[pl.DataFrame] = []
    for cls in (TermSubstitute, CategorySpecialise, PseudoQueries):
        original = cls.fit

        def spy(self, train, _original=original):
            seen.append(train.frame)
            return _original(self, train)

        monkeypatch.setattr(cls, "fit", spy)
    policy = {"op": "union", "ops": [
        {"op": "one_of", "ops": [{"op": "term_substitute", "min_count": 1}, {"op": "category_specialise"}]},
        {"op": "pseudo_queries"}]}
    augment_search_training(split, policy, seed=0)
    assert len(seen) == 3
    held_out = pl.concat([split.valid.frame, split.test.frame]).select(C.USER, C.ITEM, C.TIME)
    for frame in seen:
        assert frame.equals(split.train.frame)
        assert len(frame.join(held_out, on=[C.USER, C.ITEM, C.TIME], how="semi")) == 0


def test_output_depends_on_train_only(log):
    """Same training rows, different held-out rows: identical augmented rows; fitting on everything differs."""
    split = SearchLeaveLastOut().split(log)
    other = split.test.frame.with_columns(pl.lit("zebra unicorn").alias(C.QUERY))
    split_b = SearchLeaveLastOut().split(log.with_frame(pl.concat([split.train.frame, split.valid.frame, other])))
    assert split_b.train.frame.equals(split.train.frame)
    policy = {"op": "one_of", "ops": [{"op": "term_substitute", "min_count": 1}, {"op": "category_specialise"},
                                      {"op": "term_substitute", "source": "queries+text", "min_count": 1}]}
    _, rows_a, _ = augment_search_training(split, policy, seed=0, held_out="error")
    _, rows_b, _ = augment_search_training(split_b, policy, seed=0, held_out="error")
    assert rows_a.frame.equals(rows_b.frame)
    leaky = fitted(policy, log.with_frame(pl.concat([split.train.frame, split.valid.frame, other])))
    assert not leaky.augment(split.train, seed=0).frame.equals(rows_a.frame)


# -- leakage ---------------------------------------------------------------------------------------
def test_assert_no_search_leakage_catches_a_leaked_triple(log):
    split = SearchLeaveLastOut().split(log)
    test_row = split.test.frame.head(1)
    leaked = test_row.with_columns(pl.col(C.QUERY).str.to_uppercase(), pl.lit("term_dropout").alias(C.SOURCE))
    with pytest.raises(LeakageError, match="held-out \\(user, query, item\\)"):
        assert_no_search_leakage(split, leaked)
    assert_no_search_leakage(split, leaked.with_columns(pl.lit(C.REAL).alias(C.SOURCE)))  # real rows: not checked
    clean = leaked.with_columns(pl.lit("something else").alias(C.QUERY))
    assert_no_search_leakage(split, clean)
    kept, counts = drop_search_leakage(split, split.train.with_frame(pl.concat([leaked, clean], how="diagonal_relaxed")))
    assert counts == {"held_out_triple": 1, "held_out_query": 0} and len(kept) == 1


def test_assert_no_search_leakage_catches_an_unseen_split_test_query(log):
    split = UnseenQueries(test_fraction=0.3, valid_fraction=0.1, seed=0).split(log)
    assert split.test_queries
    query = sorted(split.test_queries)[0]
    row = split.train.frame.head(1).with_columns(pl.lit(query.upper()).alias(C.QUERY),
                                                 pl.lit("category_generalise").alias(C.SOURCE))
    with pytest.raises(LeakageError, match="held-out query"):
        assert_no_search_leakage(split, row)
    with pytest.raises(LeakageError):
        fuse_search(split.train, split.train.with_frame(row), split=split, held_out="error")
    fused, report = fuse_search(split.train, split.train.with_frame(row), split=split)
    assert report["dropped"]["held_out_query"] == 1 and len(fused) == len(split.train)


@pytest.mark.parametrize("split_kind", ["leave_last_out", "unseen_queries"])
def test_augment_training_never_leaks(log, split_kind):
    splitter = SearchLeaveLastOut() if split_kind == "leave_last_out" else UnseenQueries(seed=1)
    split = splitter.split(log)
    policy = {"op": "union", "ops": [{"op": "one_of", "ops": QUERY_OPS}, {"op": "pseudo_queries",
                                                                           "min_train_queries": 3}]}
    fused, rows, report = augment_search_training(split, policy, seed=0, n_views=3)
    assert_no_search_leakage(split, fused)
    assert report["augmented_out"] == len(fused) - len(split.train) > 0
    assert report["augmented_in"] == len(rows)


# -- fusion and behaviour side ---------------------------------------------------------------------
def test_fuse_search_ratio_weight_order(log):
    rows = fitted({"op": "term_reorder"}, log).augment(log, seed=0, n_views=2)
    fused, report = fuse_search(log, rows, ratio=0.5, weight=0.25, seed=1)
    frame = fused.frame
    real = frame.filter(pl.col(C.SOURCE) == C.REAL)
    assert real.select(log.frame.columns).equals(log.frame)  # real rows unchanged, in order
    assert (real.get_column(C.WEIGHT) == 1.0).all()
    aug = frame.filter(pl.col(C.SOURCE) != C.REAL)
    assert len(aug) == int(0.5 * len(log)) == report["augmented_out"]
    assert (aug.get_column(C.WEIGHT) == 0.25).all()
    assert frame.select(C.USER, C.TIME).equals(frame.select(C.USER, C.TIME).sort(C.USER, C.TIME))
    # views come before the real row they were made from (a history of "earlier real events" excludes the target)
    pos = frame.with_row_index("_pos")
    pairs = pos.filter(pl.col(C.SOURCE) != C.REAL).join(pos.filter(pl.col(C.SOURCE) == C.REAL),
                                                       on=[C.USER, C.TIME], suffix="_real")
    assert len(pairs) == len(aug) and (pairs.get_column("_pos") < pairs.get_column("_pos_real")).all()
    # the ratio choice does not depend on row order
    again, _ = fuse_search(log, rows.with_frame(rows.frame.reverse()), ratio=0.5, weight=0.25, seed=1)
    assert sorted(again.frame.rows()) == sorted(frame.rows())
    with pytest.raises(Exception, match="source 'real'"):
        fuse_search(log, log)


def test_augment_search_histories_reads_real_users_only(log):
    pseudo = fitted({"op": "pseudo_queries", "min_train_queries": 3}, log).augment(log, seed=0)
    fused, _ = fuse_search(log, pseudo)
    expanded = augment_search_histories(fused, {"op": "crop", "eta": 0.5}, seed=0, n_views=2)
    users = expanded.sequences.users
    assert users.max() < log.vocab.n_users
    originals = expanded.originals()
    assert len(originals) == log.n_users
    assert int(originals.sequences.lengths.sum()) == len(log)
    assert set(expanded.augmented().sequences.source.tolist()) == {"crop"}


# -- operation invariants on hand examples -------------------------------------------------------
def one_row_log(log: SearchLog, query: str, item: int = 2, user: int = 0) -> SearchLog:
    frame = pl.DataFrame({C.USER: [user], C.ITEM: [item], C.TIME: [0], C.QUERY: [query]})
    return log.with_frame(Interactions(frame).frame)


def many_rows(log: SearchLog, query: str, n: int = 300, item: int = 2) -> SearchLog:
    frame = pl.DataFrame({C.USER: np.zeros(n, dtype=np.int32), C.ITEM: np.full(n, item, dtype=np.int32),
                          C.TIME: np.arange(n), C.QUERY: [query] * n})
    return log.with_frame(Interactions(frame).frame)


@pytest.mark.parametrize("min_terms", [1, 2, 3])
def test_dropout_keeps_min_terms_and_order(log, min_terms):
    rows = many_rows(log, "a b c d e")
    out = TermDropout(p=0.9, min_terms=min_terms).augment(rows, seed=0).queries.to_list()
    assert out and all(len(words(q)) >= min_terms for q in out)
    for q in out:
        w = words(q)
        assert [x for x in "abcde" if x in w] == w  # a subsequence, in the original order
    full = TermDropout(p=1.0, min_terms=min_terms).augment(rows, seed=0).queries.to_list()
    assert {len(words(q)) for q in full} == {min_terms}
    assert len(TermDropout(p=1.0, min_terms=2).augment(one_row_log(log, "a b"), seed=0)) == 0


@pytest.mark.parametrize("mode", ["shuffle", "swap"])
def test_reorder_keeps_the_multiset(log, mode):
    rows = many_rows(log, "a b c b d")
    out = TermReorder(mode=mode).augment(rows, seed=0).queries.to_list()
    assert len(out) > 200
    for q in out:
        assert sorted(words(q)) == ["a", "b", "b", "c", "d"]
        if mode == "swap":
            assert sum(x != y for x, y in zip(words(q), "abcbd".replace("", " ").split(), strict=True)) == 2
    assert len(TermReorder(mode=mode).augment(one_row_log(log, "alone"), seed=0)) == 0


def test_substitute_uses_only_training_neighbours(log):
    split = SearchLeaveLastOut().split(log)
    op = TermSubstitute(p=0.5, k=3, min_count=1).fit(split.train)
    train_words = set(tokenize(split.train.queries).explode().drop_nulls().to_list())
    assert set(op.terms_.to_list()) == train_words
    out = op.augment(split.test.with_frame(pl.concat([split.test.frame] * 5)), seed=0, n_views=2)
    assert len(out) > 0
    for q, origin in out.frame.select(C.QUERY, ORIGIN_QUERY).iter_rows():
        before = set(words(origin))
        allowed = before | {n for w in before for n in op.neighbour_terms(w)}
        new = set(words(q)) - before
        assert new and new <= allowed and new <= train_words
    unknown = op.augment(one_row_log(log, "zebra unicorn"), seed=0)
    assert len(unknown) == 0  # words without training neighbours are never replaced


def test_substitute_context_prefers_words_that_share_contexts(log):
    queries = ["face cream dry", "face lotion dry", "face cream oily", "face lotion oily", "body scrub", "body cream",
               *["hair shampoo", "hair conditioner"] * 3]
    frame = pl.DataFrame({C.USER: [0] * len(queries), C.ITEM: [2] * len(queries), C.TIME: range(len(queries)),
                          C.QUERY: queries})
    op = TermSubstitute(k=1, min_count=1).fit(log.with_frame(Interactions(frame).frame))
    # cream and lotion share face/dry/oily and never meet in one query; so do dry and oily
    assert op.neighbour_terms("cream") == ["lotion"] and op.neighbour_terms("dry") == ["oily"]
    out = set(op.augment(many_rows(log, "dry cream", n=100), seed=0).queries.to_list())
    assert out == {"oily cream", "dry lotion", "oily lotion"}


def test_generalise_drops_exactly_the_last_level(log):
    op = CategoryGeneralise().fit(log)
    items = log.items.select(C.ITEM, "categories")
    for code, path in items.head(10).iter_rows():
        query = category_path_query(pl.Series([path], dtype=pl.List(pl.Utf8)))[0]
        out = op.augment(one_row_log(log, query, item=code), seed=0).queries.to_list()
        expected = category_path_query(pl.Series([path[:-1]], dtype=pl.List(pl.Utf8)))[0] if len(path) > 1 else None
        assert out == ([expected] if expected else [])
    # a free-text query loses the words only the last level has
    nail_polish = int(items.filter(pl.col("categories").list.get(-1) == "Nail Polish").get_column(C.ITEM)[0])
    assert op.augment(one_row_log(log, "red nail polish", item=nail_polish), seed=0).queries.to_list() == ["red"]
    two = CategoryGeneralise(levels=2).fit(log)
    assert two.augment(one_row_log(log, "makeup nails nail polish", item=nail_polish),
                       seed=0).queries.to_list() == ["makeup"]


def test_specialise_appends_a_training_child(log):
    split = SearchLeaveLastOut().split(log)
    op = CategorySpecialise().fit(split.train)
    items = log.items.select(C.ITEM, "categories")
    nails = int(items.filter(pl.col("categories") == pl.lit(["Makeup", "Nails"])).get_column(C.ITEM)[0])
    polish = int(items.filter(pl.col("categories").list.get(-1) == "Nail Polish").get_column(C.ITEM)[0])
    out = op.augment(many_rows(log, "makeup nails", n=200, item=nails), seed=0).queries.to_list()
    bought = set(split.train.frame.get_column(C.ITEM).to_list())
    children = {p[2] for c, p in items.iter_rows() if len(p) == 3 and p[:2] == ["Makeup", "Nails"] and c in bought}
    expected = {category_path_query(pl.Series([["Makeup", "Nails", ch]], dtype=pl.List(pl.Utf8)))[0]
                for ch in children}
    assert set(out) == expected and len(expected) == 2
    # a generalised query of the item's own path specialises to the item's own next level
    own = op.augment(many_rows(log, "makeup nails", n=50, item=polish), seed=0).queries.to_list()
    assert set(own) == {"makeup nails nail polish"}
    # leaves without children in training give nothing
    assert len(op.augment(one_row_log(log, "makeup nails nail polish", item=polish), seed=0)) == 0


def test_pseudo_queries_only_under_threshold_and_from_own_text_or_neighbours(log):
    split = SearchLeaveLastOut().split(log)
    op = PseudoQueries(max_per_item=3, min_train_queries=3, n_terms=4, top_terms=5).fit(split.train)
    out = op.augment(split.train, seed=0, n_views=2).frame
    counts = split.train.frame.group_by(C.ITEM).len()
    per_item = dict(zip(counts.get_column(C.ITEM).to_list(), counts.get_column("len").to_list(), strict=True))
    items = out.get_column(C.ITEM).unique().to_list()
    under = [c for c in log.items.get_column(C.ITEM).to_list() if per_item.get(c, 0) < 3]
    assert set(items) == set(under) and len(items) > 0
    assert out.group_by(C.ITEM).len().get_column("len").max() <= 6
    assert out.select(C.ITEM, C.QUERY).is_unique().all()
    table = log.items.select(C.ITEM, "categories", "text")
    train_q = split.train.frame.join(table.select(C.ITEM, "categories"), on=C.ITEM)
    for code, query in out.select(C.ITEM, C.QUERY).iter_rows():
        path = table.filter(pl.col(C.ITEM) == code).get_column("categories")[0].to_list()
        own = set(words(table.filter(pl.col(C.ITEM) == code).get_column("text")[0]))
        neighbour_queries = train_q.filter(pl.col("categories") == pl.lit(path)).get_column(C.QUERY)
        neighbours = set(tokenize(neighbour_queries).explode().drop_nulls().to_list())
        w = words(query)
        assert 1 <= len(w) <= 4 and len(set(w)) == len(w)
        assert set(w) <= own | neighbours
    assert len(op.candidate_items(split.train)) == len(under)


# -- command line ---------------------------------------------------------------------------------------
def test_cli_search_augment(tmp_path, log):
    src = tmp_path / "log"
    log.save(src)
    out = tmp_path / "aug"
    res = invoke("search", "augment", src, "-o", out, "--op", "term_dropout:p=0.5", "--op", "category_generalise",
                 "--op", "pseudo_queries:min_train_queries=3", "--n-views", "2", "--split", "unseen_queries",
                 "--ratio", "2", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["policy"]["op"] == "union" and doc["policy"]["ops"][0]["op"] == "one_of"
    rows = pl.read_parquet(out / "augmented.parquet")
    assert len(rows) == doc["augmented_in"]
    train = SearchLog.load(out / "train")
    assert len(train) == doc["real_rows"] + doc["augmented_out"]
    res = invoke("search", "augment", src, "-o", tmp_path / "bad", "--op", "term_dropout:q=1")
    assert res.exit_code == 2 and "unknown key" in res.output
