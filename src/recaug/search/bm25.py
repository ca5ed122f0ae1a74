"""BM25 over item text, indexed with the ``bm25s`` library (the ``search`` extra).

``fit`` tokenises every item's text (``train.items[text_column]``, one document per real item
code; an item without text is an empty document) with :func:`recaug.search.tokenize.tokenize`,
and lets ``bm25s`` compute the per-(term, item) weights. With bm25s's default ``method="lucene"``
(Kamphuis et al., ECIR 2020) the score of item ``d`` for query ``q`` is::

    sum over query words t (a repeated word counts again) of
        idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

with ``N`` the number of items (documents), ``df(t)`` the items containing ``t``, ``|d|`` the
item's word count and ``avgdl`` the mean over all items (empty ones included). Query words that
no item has score nothing; a query without known words scores 0 for every item. ``method`` also
takes bm25s's ``robertson``, ``atire``, ``bm25l`` and ``bm25+`` variants.

Scoring a batch of queries is one sparse product ``(queries x terms) @ (terms x items)``, so no
Python loop runs per query. The model does not learn from the search log itself: ``train`` only
provides the item table, so BM25 scores are the same under every split.

State on disk: ``config.json``, ``terms.json`` (the vocabulary) and the weight matrix as
``weights_data.npy`` / ``weights_indices.npy`` / ``weights_indptr.npy`` (CSR, terms x items),
plus ``nonoccurrence.npy`` for ``bm25l`` / ``bm25+``. Loading needs NumPy and SciPy, not bm25s.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from recaug import columns as C
from recaug.errors import ConfigError, DataError
from recaug.search.base import SearchModel, register_search_model
from recaug.search.log import SearchLog
from recaug.search.tokenize import TermVocabulary, tokenize

log = logging.getLogger("recaug.search")

#: bm25s scoring variants
BM25_METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")


def import_bm25s() -> Any:
    """The ``bm25s`` module, or a ``ConfigError`` saying how to install it."""
    try:
        import bm25s
    except ImportError:
        raise ConfigError("BM25 needs the bm25s package: pip install 'recaug[search]' (or pip install bm25s)") from None
    return bm25s


@register_search_model
class BM25(SearchModel):
    """Okapi BM25 over one text column of the item table (``bm25s`` computes the weights)."""

    name = "bm25"

    def __init__(
        self,
        *,
        k1: float = 1.5,
        b: float = 0.75,
        delta: float = 0.5,
        method: str = "lucene",
        text_column: str = "text",
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        super().__init__(seed=seed, device=device)
        if method not in BM25_METHODS:
            raise ConfigError(f"method must be one of {BM25_METHODS}, got {method!r}")
        if k1 < 0 or not 0.0 <= b <= 1.0:
            raise ConfigError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1 = float(k1)
        self.b = float(b)
        self.delta = float(delta)
        self.method = method
        self.text_column = text_column
        self.terms_: TermVocabulary | None = None
        self.weights_: sp.csr_matrix | None = None
        self.nonoccurrence_: np.ndarray | None = None
        self.seconds_: dict[str, float] = {}

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {**super().config(), "k1": self.k1, "b": self.b, "delta": self.delta, "method": self.method,
                "text_column": self.text_column}

    def fit(self, train: SearchLog, valid: SearchLog | None = None, *, item_space: int | None = None) -> BM25:
        """Index the text of every item code of ``train``'s item table (the log rows are not used)."""
        bm25s = import_bm25s()
        t0 = time.perf_counter()
        space = self._item_space(train, item_space)
        text = train.item_text(self.text_column)
        docs = text.slice(C.N_RESERVED, max(0, min(space, len(text)) - C.N_RESERVED))
        tokens = tokenize(docs)
        terms = TermVocabulary.build(tokens)
        if not len(terms):
            raise DataError("no item has a word in its text", column=self.text_column,
                            expected="item text with letters (see recaug.search.item_text)")
        corpus = terms.encode_lists(tokens)
        vocab = dict(zip(terms.terms.to_list(), range(len(terms)), strict=True))
        index = bm25s.BM25(k1=self.k1, b=self.b, delta=self.delta, method=self.method, csc_backend="scipy")
        index.index((corpus, vocab), create_empty_token=False, show_progress=False)
        s = index.scores
        # bm25s keeps a CSC matrix (documents x terms): the same arrays are a CSR matrix (terms x documents)
        self.weights_ = sp.csr_matrix(
            (np.asarray(s["data"], np.float32), np.asarray(s["indices"]), np.asarray(s["indptr"])),
            shape=(len(terms), int(s["num_docs"])),
        )
        non = getattr(index, "nonoccurrence_array", None)
        self.nonoccurrence_ = None if non is None else np.asarray(non, dtype=np.float32)
        self.terms_ = terms
        self.item_space_ = space
        self.seconds_ = {"index": time.perf_counter() - t0}
        log.info("bm25: indexed %d items, %d terms, %d postings in %.2f s", self.weights_.shape[1], len(terms),
                 self.weights_.nnz, self.seconds_["index"])
        return self

    def _score(self, queries: pl.Series, users: np.ndarray | None) -> np.ndarray:
        assert self.terms_ is not None and self.weights_ is not None and self.item_space_ is not None
        counts = self.terms_.count_matrix(tokenize(queries))
        out = np.zeros((len(queries), self.item_space_), dtype=np.float32)
        n_docs = self.weights_.shape[1]
        block = (counts @ self.weights_).toarray()
        if self.nonoccurrence_ is not None:
            block += (counts @ self.nonoccurrence_)[:, None]
        out[:, C.N_RESERVED : C.N_RESERVED + n_docs] = block
        return out

    def _save_state(self, folder: Path) -> None:
        assert self.terms_ is not None and self.weights_ is not None
        (folder / "terms.json").write_text(json.dumps(self.terms_.terms.to_list()), encoding="utf-8")
        np.save(folder / "weights_data.npy", self.weights_.data, allow_pickle=False)
        np.save(folder / "weights_indices.npy", self.weights_.indices, allow_pickle=False)
        np.save(folder / "weights_indptr.npy", self.weights_.indptr, allow_pickle=False)
        if self.nonoccurrence_ is not None:
            np.save(folder / "nonoccurrence.npy", self.nonoccurrence_, allow_pickle=False)
        (folder / "bm25.json").write_text(json.dumps({"n_terms": len(self.terms_), "n_docs": self.weights_.shape[1]}),
                                          encoding="utf-8")

    def _load_state(self, folder: Path) -> None:
        def array(name: str) -> np.ndarray:
            file = folder / name
            if not file.is_file():
                raise DataError("missing BM25 state file", file=file, expected="a folder written by BM25.save")
            return np.load(file, allow_pickle=False)

        shape = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
        self.terms_ = TermVocabulary(json.loads((folder / "terms.json").read_text(encoding="utf-8")))
        self.weights_ = sp.csr_matrix(
            (array("weights_data.npy"), array("weights_indices.npy"), array("weights_indptr.npy")),
            shape=(int(shape["n_terms"]), int(shape["n_docs"])),
        )
        non = folder / "nonoccurrence.npy"
        self.nonoccurrence_ = np.load(non, allow_pickle=False) if non.is_file() else None
