"""BM25: scores equal a brute-force BM25 formula, save/load, determinism, contract checks."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.search import BM25, SearchLog, build_search_model, get_search_model_class, tokenize

pytest.importorskip("bm25s")

DOCS = [
    "red running shoes",
    "blue running shoes for trail running",
    "red hat",
    None,  # an item without text: an empty document
    "Shoes, shoes & more SHOES",
]


def tiny_log(docs: list[str | None] = DOCS) -> SearchLog:
    n = len(docs)
    frame = pl.DataFrame({C.USER: ["u"] * n, C.ITEM: [str(i) for i in range(n)], C.QUERY: ["q"] * n})
    items = pl.DataFrame({C.ITEM: [str(i) for i in range(n)], "text": docs, "title": ["x"] * n})
    return SearchLog(Dataset.from_frame(frame, items=items))


def brute_force(query: str, docs: list[str | None], k1: float, b: float, idf_kind: str = "lucene") -> np.ndarray:
    """BM25 written out term by term (the Lucene variant bm25s uses by default)."""
    words = tokenize(docs).to_list()
    n = len(words)
    avgdl = sum(len(w) for w in words) / n
    out = np.zeros(n)
    for term in tokenize([query]).to_list()[0]:  # a repeated query word counts again
        df = sum(term in w for w in words)
        if df == 0:
            continue
        if idf_kind == "lucene":
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        else:  # atire
            idf = math.log(n / df)
        for d, w in enumerate(words):
            tf = w.count(term)
            if tf == 0:
                continue
            norm = k1 * (1 - b + b * len(w) / avgdl)
            out[d] += idf * (tf / (tf + norm) if idf_kind == "lucene" else tf * (k1 + 1) / (tf + norm))
    return out


QUERIES = ["running shoes", "red", "shoes shoes", "purple", "", "Red hat!"]


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (1.2, 0.3), (0.9, 1.0)])
def test_scores_equal_brute_force(k1, b):
    model = BM25(k1=k1, b=b).fit(tiny_log())
    scores = model.score(QUERIES)
    assert scores.shape == (len(QUERIES), len(DOCS) + 2) and scores.dtype == np.float32
    assert np.isneginf(scores[:, :2]).all()
    expected = np.stack([brute_force(q, DOCS, k1, b) for q in QUERIES])
    np.testing.assert_allclose(scores[:, 2:], expected, rtol=1e-5, atol=1e-6)


def test_atire_variant_matches_its_formula():
    model = BM25(method="atire").fit(tiny_log())
    expected = np.stack([brute_force(q, DOCS, 1.5, 0.75, "atire") for q in QUERIES])
    np.testing.assert_allclose(model.score(QUERIES)[:, 2:], expected, rtol=1e-5, atol=1e-6)


def test_matches_bm25s_own_scorer():
    import bm25s

    model = BM25().fit(tiny_log())
    ref = bm25s.BM25()
    ref.index(tokenize(DOCS).to_list(), show_progress=False)
    for q in ("running shoes", "red hat"):
        np.testing.assert_allclose(model.score([q])[0, 2:], ref.get_scores(tokenize([q]).to_list()[0]), rtol=1e-6)


def test_recommend_orders_by_score_then_code():
    model = BM25().fit(tiny_log(["shoes", "hat", "shoes", "shoes red"]))
    top = model.recommend(["shoes", "hat"], k=3)
    assert top[0].tolist() == [2, 4, 5]  # the two equal 'shoes' items in code order, then the longer text
    assert top[1, 0] == 3
    assert model.recommend(["shoes"], k=100).shape == (1, 4)
    many = BM25().fit(tiny_log(["red shoes"] * 300 + ["blue shoes"] * 300))
    np.testing.assert_array_equal(many.recommend(["shoes", "red"], k=400),
                                  np.arange(2, 402)[None, :].repeat(2, axis=0))


def test_save_load_round_trip(tmp_path):
    model = BM25(k1=1.1, b=0.6).fit(tiny_log())
    folder = model.save(tmp_path / "bm25")
    again = BM25.load(folder)
    assert again.config() == model.config() and again.item_space_ == model.item_space_
    np.testing.assert_array_equal(again.score(QUERIES), model.score(QUERIES))
    loaded = get_search_model_class("bm25").load(folder)
    np.testing.assert_array_equal(loaded.score(QUERIES), model.score(QUERIES))
    plus = BM25(method="bm25+").fit(tiny_log())
    np.testing.assert_array_equal(BM25.load(plus.save(tmp_path / "plus")).score(QUERIES), plus.score(QUERIES))


def test_deterministic_and_batch_independent():
    a = BM25().fit(tiny_log()).score(QUERIES)
    b = BM25().fit(tiny_log()).score(QUERIES)
    np.testing.assert_array_equal(a, b)
    single = np.concatenate([BM25().fit(tiny_log()).score([q]) for q in QUERIES])
    np.testing.assert_array_equal(single, a)


def test_text_column_setting_and_errors():
    title_only = BM25(text_column="title").fit(tiny_log())
    assert (title_only.score(["red"])[0, 2:] == 0).all()
    with pytest.raises(DataError) as info:
        BM25(text_column="description").fit(tiny_log())
    assert info.value.column == "description"
    with pytest.raises(DataError, match="no item has a word"):
        BM25().fit(tiny_log([None, "123"]))
    with pytest.raises(NotFittedError):
        BM25().score(["x"])
    with pytest.raises(ConfigError):
        BM25(method="tfidf")
    with pytest.raises(ConfigError, match="params: unknown key 'k2'"):
        build_search_model("bm25", {"k2": 1.0})
    assert build_search_model("bm25", {"k1": "1.2"}).k1 == 1.2


def test_item_space_larger_than_the_log():
    model = BM25().fit(tiny_log(), item_space=len(DOCS) + 5)
    scores = model.score(["shoes"])
    assert scores.shape == (1, len(DOCS) + 5) and (scores[0, len(DOCS) + 2 :] == 0).all()


def test_import_does_not_need_bm25s():
    code = "import sys, recaug, recaug.search, recaug.cli; print('bm25s' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
