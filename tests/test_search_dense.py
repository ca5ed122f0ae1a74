"""DenseSearch ("dense"): learns query -> item, cold items by text, determinism, save/load, leakage, CLI."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch

from cli_helpers import invoke
from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, NotFittedError
from recaug.search import (
    SearchEvaluator,
    SearchLeaveLastOut,
    SearchLog,
    build_search_model,
    get_search_model_class,
)
from recaug.search.dense import DenseSearch

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]
#: fast settings for the tiny logs (one thread, no progress bar)
FAST = {"epochs": 15, "batch_size": 32, "lr": 1e-2, "threads": 1, "progress": False, "device": "cpu"}


def word_log(*, marks: bool = False, n_users: int = 30, seed: int = 0) -> SearchLog:
    """Query word k always ends on item ``item_<word k>``; every item's text is the same "plain product".

    User ``u00``'s last search ("zebra") ends on ``item_zebra``, which has no other event (a cold
    item after the split) and the text "zebra stripes". With ``marks`` every validation query
    gets the word "validword" and every test query "testword" (words no item text has).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for t in range(5):
            k = int(rng.integers(len(WORDS)))
            query = WORDS[k] + (" validword" if marks and t == 4 else "")
            rows.append((f"u{u:02d}", f"item_{WORDS[k]}", t, query))
        word = "zebra" if u == 0 else WORDS[u % len(WORDS)]
        rows.append((f"u{u:02d}", f"item_{word}", 5, word + (" testword" if marks else "")))
    frame = pl.DataFrame(rows, schema=[C.USER, C.ITEM, C.TIME, C.QUERY], orient="row")
    items = pl.DataFrame({C.ITEM: [f"item_{w}" for w in [*WORDS, "zebra"]],
                          "text": ["plain product"] * len(WORDS) + ["zebra stripes"]})
    return SearchLog(Dataset.from_frame(frame, items=items))


def code(log: SearchLog, item: str) -> int:
    return int(log.vocab.encode_items(pl.Series([item]))[0])


@pytest.fixture(scope="module")
def split():
    return SearchLeaveLastOut().split(word_log())


@pytest.fixture(scope="module")
def fitted(split):
    return DenseSearch(**FAST).fit(split.train, split.valid)


def test_learns_query_word_to_item_well_above_chance(split, fitted):
    result = SearchEvaluator(ks=(1, 10)).evaluate(fitted, split)
    summary = result.summary()
    # 13 items: chance HR@1 is about 0.08; only the id embeddings can tell the items apart (same text)
    assert summary["HR@1"] >= 0.9, summary
    top = fitted.recommend(WORDS, k=1)[:, 0]
    assert top.tolist() == [code(split.train, f"item_{w}") for w in WORDS]


@pytest.mark.parametrize("pooling", ["attention"])
def test_attention_pooling_learns_too(split, pooling):
    model = DenseSearch(pooling=pooling, **FAST).fit(split.train, split.valid)
    assert SearchEvaluator(ks=(1,)).evaluate(model, split).summary()["HR@1"] >= 0.9
    # extra unknown words do not change an attention-pooled query (they are dropped)
    np.testing.assert_array_equal(model.score(["alpha"]), model.score(["alpha qwerty"]))


def test_scores_contract(fitted):
    scores = fitted.score(["alpha", "", "no known words", "ALPHA!"])
    assert scores.shape == (4, fitted.item_space_) and scores.dtype == np.float32
    assert np.isneginf(scores[:, :2]).all() and np.isfinite(scores[:, 2:]).all()
    np.testing.assert_array_equal(scores[1], scores[2])  # word-less queries: one finite row
    np.testing.assert_array_equal(scores[0], scores[3])  # same words after tokenising
    with pytest.raises(NotFittedError):
        DenseSearch().score(["alpha"])


def test_cold_item_is_scored_from_its_text(split, fitted):
    cold = code(split.train, "item_zebra")
    assert cold not in set(split.train.targets.tolist())  # only u00's test event has it
    assert not bool(fitted.warm_[cold]) and bool(fitted.warm_[code(split.train, "item_alpha")])
    scores = fitted.score(["zebra", "zebra stripes", "alpha"])
    assert np.isfinite(scores[:, cold]).all()
    # its words find it: first for its own words
    assert (fitted.recommend(["zebra", "zebra stripes"], k=1)[:, 0] == cold).all()
    # its untrained id vector plays no part: only the text does
    kept = fitted.module_.items.weight[cold].detach().clone()
    with torch.no_grad():
        fitted.module_.items.weight[cold] += 100.0
    try:
        np.testing.assert_array_equal(fitted.score(["zebra", "alpha"]), scores[[0, 2]])
    finally:
        with torch.no_grad():
            fitted.module_.items.weight[cold] = kept  # exactly as it was (the fixture is shared)


def test_cold_item_text_changes_its_scores(split):
    log = word_log()
    other = log.dataset.items.with_columns(
        pl.when(pl.col("text") == "zebra stripes").then(pl.lit("golf")).otherwise(pl.col("text")).alias("text"))
    relabelled = SearchLog(Dataset(log.interactions, log.vocab, other, log.dataset.users, name=log.name))
    split2 = SearchLeaveLastOut().split(relabelled)
    a = DenseSearch(**FAST).fit(split.train, split.valid)
    b = DenseSearch(**FAST).fit(split2.train, split2.valid)
    cold = code(log, "item_zebra")
    assert not np.array_equal(a.score(["zebra"])[:, cold], b.score(["zebra"])[:, cold])


def test_same_seed_same_bytes_other_seed_differs(split, fitted):
    queries = ["alpha", "bravo charlie", "zebra", ""]
    again = DenseSearch(**FAST).fit(split.train, split.valid)
    assert fitted.score(queries).tobytes() == again.score(queries).tobytes()
    assert [h["loss"] for h in fitted.history_] == [h["loss"] for h in again.history_]
    other = DenseSearch(**{**FAST, "seed": 1}).fit(split.train, split.valid)
    assert fitted.score(queries).tobytes() != other.score(queries).tobytes()


def test_save_load_round_trip(tmp_path, fitted):
    folder = fitted.save(tmp_path / "dense")
    assert {p.name for p in folder.iterdir()} >= {"config.json", "terms.json", "state.pt"}
    torch.load(folder / "state.pt", weights_only=True)  # plain tensors only
    loaded = DenseSearch.load(folder)
    assert loaded.config() == fitted.config() and loaded.terms_ == fitted.terms_
    queries = ["alpha", "zebra stripes", "nothing", "golf hotel"]
    assert loaded.score(queries).tobytes() == fitted.score(queries).tobytes()
    assert json.loads((folder / "config.json").read_text())["model"] == "dense"


def test_fit_sees_train_only_and_early_stopping_reads_valid(monkeypatch):
    """Leakage spy: the loss gets training events only, validation scores only split.valid's queries."""
    import recaug.search.dense as dense_mod

    split = SearchLeaveLastOut().split(word_log(marks=True))
    seen: dict[str, list] = {"targets": [], "scored": [], "n_rows": []}
    loss = dense_mod.next_item_loss
    loop = dense_mod.fit_loop

    def spy_loss(hidden, targets, items, kind, weights=None):
        seen["targets"].append(targets.clone())
        return loss(hidden, targets, items, kind, weights=weights)

    def spy_loop(model, module, batch_loss, n_rows, config, **kw):
        seen["n_rows"].append(n_rows)
        return loop(model, module, batch_loss, n_rows, config, **kw)

    monkeypatch.setattr(dense_mod, "next_item_loss", spy_loss)
    monkeypatch.setattr(dense_mod, "fit_loop", spy_loop)
    model = DenseSearch(**{**FAST, "epochs": 3, "patience": None})
    score = model.score

    def spy_score(queries, users=None):
        seen["scored"].extend(list(queries))
        return score(queries, users)

    model.score = spy_score
    model.fit(split.train, split.valid)
    assert seen["n_rows"] == [len(split.train)]
    per_epoch = torch.cat(seen["targets"]).numpy().reshape(3, -1)
    for epoch in per_epoch:  # each epoch: exactly the training targets, once each
        np.testing.assert_array_equal(np.sort(epoch), np.sort(split.train.targets))
    # validation scored split.valid's queries (one pass per epoch) and never a test query
    assert sorted(seen["scored"]) == sorted(split.valid.queries.to_list() * 3)
    assert all("validword" in q and "testword" not in q for q in seen["scored"])
    # the vocabulary comes from training queries and item texts only
    terms = set(model.terms_.terms.to_list())
    assert "validword" not in terms and "testword" not in terms and "zebra" in terms


def test_early_stopping_value_is_the_search_evaluator_on_valid(split):
    model = DenseSearch(**{**FAST, "epochs": 4, "patience": None, "lr": 3e-3}).fit(split.train, split.valid)
    best = next(h["metric"] for h in model.history_ if h["epoch"] == model.best_epoch_)
    valid = SearchEvaluator(ks=(10,), metrics=("NDCG",)).evaluate(model, split, "valid").summary()["NDCG@10"]
    assert best == pytest.approx(valid, abs=1e-12)
    assert all(h["metric"] is not None for h in model.history_)
    unvalidated = DenseSearch(**{**FAST, "epochs": 2}).fit(split.train)
    assert [h["metric"] for h in unvalidated.history_] == [None, None]


def test_settings_from_signature_and_registry():
    fields = DenseSearch.settings_fields()
    assert fields["dim"] == (int, 64) and fields["pooling"] == (str, "mean") and fields["epochs"][1] == 30
    assert "seed" not in fields and "device" not in fields
    model = build_search_model("dense", {"epochs": "3", "dim": 8, "pooling": "attention"}, seed=4, device="cpu")
    assert isinstance(model, DenseSearch) and model.train_config.epochs == 3 and model.seed == 4
    assert get_search_model_class("dense") is DenseSearch
    for bad in ({"epcohs": 3}, {"epochs": "five"}, {"pooling": "max"}, {"dim": 0}):
        with pytest.raises(ConfigError):
            build_search_model("dense", bad)
    with pytest.raises(ConfigError):
        DenseSearch(device="tpu")


def test_weight_column_is_each_events_share_of_the_loss(split):
    light = split.train.frame.with_columns(pl.lit(1.0).alias(C.WEIGHT))
    a = DenseSearch(**{**FAST, "epochs": 2}).fit(split.train.with_frame(light))
    b = DenseSearch(**{**FAST, "epochs": 2}).fit(split.train)
    np.testing.assert_allclose(a.score(["alpha"]), b.score(["alpha"]), rtol=1e-5, atol=1e-6)
    heavy = split.train.frame.with_columns(
        pl.when(pl.col(C.QUERY) == "alpha").then(0.0).otherwise(1.0).alias(C.WEIGHT))
    c = DenseSearch(**{**FAST, "epochs": 2}).fit(split.train.with_frame(heavy))
    assert not np.allclose(c.score(["alpha"]), b.score(["alpha"]))


@pytest.mark.parametrize("model", ["dense", "personal"])
def test_cli_evaluate_with_neural_models(tmp_path, model):
    log_dir = word_log().save(tmp_path / "log")
    out = tmp_path / "eval"
    res = invoke("search", "evaluate", log_dir, "-o", out, "--model", model, "-p", "epochs=2", "-p", "threads=1",
                 "-p", "batch_size=32", "--device", "cpu", "--ks", "10", "--save-model", tmp_path / "model", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "summary.json").read_text())
    assert doc["protocol"]["model"] == model and doc["protocol"]["model_settings"]["epochs"] == 2
    assert 0.0 <= doc["summary"]["HR@10"] <= 1.0
    assert (tmp_path / "model" / "state.pt").is_file()


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_pooling_ignores_padding(pooling):
    from recaug.search.towers import TwoTowerNet

    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = TwoTowerNet(5, 4, 8, pooling, 0.0).eval()
    if net.attention is not None:
        with torch.no_grad():
            net.attention.normal_()
    emb = net.terms.weight.detach()
    tokens = torch.tensor([[3, 0, 0, 0], [1, 2, 0, 0], [0, 0, 0, 0]])
    with torch.no_grad():
        pooled = net.pool(tokens)
    torch.testing.assert_close(pooled[0], emb[3])  # one word: its embedding, whatever the padding
    if pooling == "mean":
        torch.testing.assert_close(pooled[1], (emb[1] + emb[2]) / 2)
    else:
        w = torch.softmax(torch.stack([emb[1] @ net.attention, emb[2] @ net.attention]), 0)
        torch.testing.assert_close(pooled[1], w[0] * emb[1] + w[1] * emb[2])
    assert (pooled[2] == 0).all()  # no words: zero vector
