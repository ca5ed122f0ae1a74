"""Item-side search augmentation: pseudo-queries for items that training searches rarely reach.

:class:`PseudoQueries` (``pseudo_queries``) follows the doc2query idea without a generator
model: for every catalogue item with fewer than ``min_train_queries`` training search events it
writes up to ``max_per_item`` plausible queries (per view) from two pools of words learned by
``fit`` from the training log only:

* the item's **own text** (``text_column`` of the item table, e.g. brand + category names +
  title): its ``top_terms`` words by TF-IDF over the catalogue (tf = count in the item's text,
  idf = ``log((1 + n) / (1 + df)) + 1`` over the ``n`` items with text; ties: alphabetical);
* its **category neighbours' queries**: the ``top_terms`` words of the training queries that
  ended on items of the same category path (:func:`recaug.search.augment_query.item_category_paths`),
  weighted by how many training searches used them (none when the item table has no category
  path: then every word comes from the item's own text).

A pseudo-query has ``n_terms`` words: ``round(neighbour_share * n_terms)`` drawn from the
neighbour pool, the rest from the own-text pool (a short pool lets the other fill in), each
pool sampled without replacement in proportion to its weights (Efraimidis-Spirakis keys);
neighbour words come first, then own words, repeated words kept once (first occurrence).
Queries repeated for the same item are emitted once, so an item gets at most
``max_per_item * n_views`` distinct pseudo-queries; items without any candidate word get none.

Rows: ``user_id`` = :func:`recaug.search.augment.pseudo_user` (one code for all pseudo rows,
no real user has it; see that module on how a personalised model treats them), ``item_id``,
``timestamp`` = the pseudo-query's index ``view * max_per_item + j``, ``source =
"pseudo_queries"``, ``view``, ``origin_query`` null. The stream of pseudo-query ``j`` of item
``i`` in view ``v`` is keyed by ``(seed, i, j, v)``, so the rows of an item never depend on the
other items of the table: ``augment`` over a log whose item table is split in two gives the
rows of the whole table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl
import scipy.sparse as sp

from recaug import columns as C
from recaug.data.csr import offsets_from_lengths, row_of, slice_index
from recaug.errors import ConfigError, DataError
from recaug.random import key_state, mix64, to_unit
from recaug.search.augment import (
    ORIGIN_QUERY,
    PURPOSE_AUX,
    PURPOSE_POS,
    VIEW,
    SearchAugmenter,
    _check_views,
    _ids_in,
    _log_rows,
    dedupe_csr,
    element_draw,
    empty_augmented,
    encode_texts,
    join_terms,
    pseudo_user,
    register_search_augmenter,
    view_keys,
)
from recaug.search.augment_query import _per_code, item_category_paths, top_k_sparse
from recaug.search.log import SearchLog

_ITEM_SALT = np.uint64(0x5EED5EED5EED5EED)


def _csr_parts(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data.astype(np.float64)


def _sample_pool(
    offsets: np.ndarray, terms: np.ndarray, weights: np.ndarray, state: np.ndarray, take: np.ndarray, purpose: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, ``take[r]`` terms drawn without replacement in proportion to ``weights`` (best first)."""
    u = to_unit(element_draw(state, offsets, purpose))
    with np.errstate(divide="ignore"):
        key = np.log(np.maximum(u, 1e-300)) / np.maximum(weights, 1e-300)  # larger is better
    row = row_of(offsets)
    order = np.lexsort((-key, row))
    rank = np.empty(len(row), dtype=np.int64)
    rank[order] = np.arange(len(row)) - offsets[:-1][row[order]]
    sel = order[rank[order] < take[row[order]]]
    return offsets_from_lengths(np.bincount(row[sel], minlength=len(offsets) - 1)), terms[sel]


@register_search_augmenter
@dataclass(eq=False, repr=False)
class PseudoQueries(SearchAugmenter):
    """Doc2query-style queries for items with fewer than ``min_train_queries`` training searches."""

    max_per_item: int = 3
    min_train_queries: int = 1
    n_terms: int = 4
    neighbour_share: float = 0.5
    top_terms: int = 10
    text_column: str = "text"
    path_column: str | None = None
    name: ClassVar[str] = "pseudo_queries"

    def __post_init__(self) -> None:
        for label in ("max_per_item", "n_terms", "top_terms"):
            if int(getattr(self, label)) < 1:
                raise ConfigError(f"{label} must be >= 1, got {getattr(self, label)}")
        if int(self.min_train_queries) < 1:
            raise ConfigError(f"min_train_queries must be >= 1, got {self.min_train_queries}")
        if not 0.0 <= float(self.neighbour_share) <= 1.0:
            raise ConfigError(f"neighbour_share must be in [0, 1], got {self.neighbour_share}")
        self.terms_: pl.Series | None = None
        self.train_counts_: np.ndarray | None = None
        self.own_: sp.csr_matrix | None = None
        self.neighbour_: sp.csr_matrix | None = None
        self.category_: np.ndarray | None = None

    @property
    def is_fitted(self) -> bool:
        return self.own_ is not None

    def describe(self) -> str:
        return (f"PseudoQueries: up to {self.max_per_item} queries of {self.n_terms} words per item with fewer than "
                f"{self.min_train_queries} training searches, {self.neighbour_share:.0%} of the words from its "
                f"category neighbours' training queries, the rest from its own top-{self.top_terms} TF-IDF words")

    def fit(self, train: SearchLog) -> PseudoQueries:
        """Training searches per item, own-text TF-IDF words and category neighbours' query words, from ``train``."""
        space = train.item_space
        self.train_counts_ = np.bincount(train.targets.astype(np.int64), minlength=space)[:space]
        text = train.item_text(self.text_column)
        try:
            paths = item_category_paths(train.items, self.path_column)
        except DataError:
            if self.path_column is not None:
                raise
            paths = pl.Series("path", [[]] * train.items.height, dtype=pl.List(pl.Utf8))  # own text only
        categories = _per_code(train.items, paths.list.join("\x1f"), space).fill_null("")
        cat_keys = categories.unique().sort()
        cat_of_item = cat_keys.search_sorted(categories).to_numpy().astype(np.int64)
        empty = categories.to_numpy() == ""
        cat_of_item[empty] = -1
        # category neighbours: words of the training queries that ended on items of each category
        per_query = (pl.DataFrame({"cat": cat_of_item[train.targets.astype(np.int64)], C.QUERY: train.queries})
                     .filter(pl.col("cat") >= 0).group_by("cat", C.QUERY).len().sort("cat", C.QUERY))
        all_texts = pl.concat([text.fill_null(""), per_query.get_column(C.QUERY)])
        offsets, ids, vocab = encode_texts(all_texts)
        n_terms = len(vocab)
        n_items = len(text)
        rows = row_of(offsets)
        own_rows = rows < n_items
        counts = sp.csr_matrix((np.ones(int(own_rows.sum())), (rows[own_rows], ids[own_rows])),
                               shape=(n_items, n_terms))
        counts.sum_duplicates()
        df = np.bincount(counts.indices, minlength=n_terms)
        n_docs = int((np.diff(counts.indptr) > 0).sum())
        idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        tfidf = counts @ sp.diags(idf)
        q_rows = rows[~own_rows] - n_items
        q_weight = per_query.get_column("len").to_numpy().astype(np.float64)[q_rows]
        q_cat = per_query.get_column("cat").to_numpy()[q_rows]
        nbr = sp.csr_matrix((q_weight, (q_cat, ids[~own_rows])), shape=(max(len(cat_keys), 1), n_terms))
        nbr.sum_duplicates()
        self.terms_ = vocab
        self.own_ = top_k_sparse(tfidf, int(self.top_terms))
        self.neighbour_ = top_k_sparse(nbr, int(self.top_terms))
        self.category_ = cat_of_item
        return self

    def candidate_items(self, search_log: SearchLog) -> np.ndarray:
        """Item codes of ``search_log``'s item table that get pseudo-queries (under the threshold, with words)."""
        self._check_fitted()
        assert self.train_counts_ is not None and self.own_ is not None and self.neighbour_ is not None
        assert self.category_ is not None
        codes = np.unique(search_log.items.get_column(C.ITEM).to_numpy().astype(np.int64))
        codes = codes[(codes >= C.N_RESERVED) & (codes < len(self.train_counts_))]
        codes = codes[self.train_counts_[codes] < int(self.min_train_queries)]
        n_own = np.diff(self.own_.indptr)[codes]
        cat = self.category_[codes]
        n_nbr = np.where(cat >= 0, np.diff(self.neighbour_.indptr)[np.maximum(cat, 0)], 0)
        return codes[(n_own + n_nbr) > 0]

    def augment(self, log: SearchLog, *, seed: int, n_views: int = 1) -> SearchLog:
        """Pseudo-query rows for the under-threshold items of ``log``'s item table (see the module docstring)."""
        n_views = _check_views(n_views)
        t0 = time.perf_counter()
        codes = self.candidate_items(log)
        assert self.own_ is not None and self.neighbour_ is not None and self.category_ is not None
        assert self.terms_ is not None
        per = int(self.max_per_item)
        n_rows = len(codes) * per * n_views
        if n_rows == 0:
            return empty_augmented(log)
        item = np.repeat(codes, per * n_views)
        index = np.tile(np.arange(per * n_views, dtype=np.int64), len(codes))
        view, j = index // per, index % per
        with np.errstate(over="ignore"):
            base = mix64(mix64(item.astype(np.uint64) ^ _ITEM_SALT) ^ j.astype(np.uint64))
        state = key_state(seed, view_keys(base, view))
        o_ptr, o_idx, o_val = _csr_parts(self.own_)
        n_ptr, n_idx, n_val = _csr_parts(self.neighbour_)
        cat = self.category_[item]
        own_len = np.diff(o_ptr)[item]
        nbr_len = np.where(cat >= 0, np.diff(n_ptr)[np.maximum(cat, 0)], 0)
        own_idx, own_off = slice_index(o_ptr[:-1][item], own_len)
        nbr_idx, nbr_off = slice_index(n_ptr[:-1][np.maximum(cat, 0)], nbr_len)
        size = int(self.n_terms)
        want = int(round(float(self.neighbour_share) * size))
        take_nbr = np.minimum(nbr_len, want + np.maximum(0, size - want - own_len))  # neighbours fill a short own pool
        take_own = np.minimum(own_len, size - take_nbr)  # and the other way round
        a_off, a_terms = _sample_pool(nbr_off, n_idx[nbr_idx], n_val[nbr_idx], state, take_nbr, PURPOSE_AUX)
        b_off, b_terms = _sample_pool(own_off, o_idx[own_idx], o_val[own_idx], state, take_own, PURPOSE_POS)
        la, lb = np.diff(a_off), np.diff(b_off)
        offsets = offsets_from_lengths(la + lb)
        out = np.empty(int(offsets[-1]), dtype=np.int64)
        idx_a, _ = slice_index(offsets[:-1], la)
        idx_b, _ = slice_index(offsets[:-1] + la, lb)
        out[idx_a], out[idx_b] = a_terms, b_terms
        offsets, out = dedupe_csr(offsets, out, keep="first")
        queries = join_terms(offsets, out, self.terms_)
        frame = pl.DataFrame({
            C.USER: np.full(n_rows, pseudo_user(log), dtype=np.int32),
            C.ITEM: item.astype(np.int32),
            C.TIME: index,
            C.QUERY: queries,
            C.SOURCE: pl.repeat(self.name, n_rows, dtype=pl.Utf8, eager=True),
            VIEW: view.astype(np.int32),
            ORIGIN_QUERY: pl.repeat(None, n_rows, dtype=pl.Utf8, eager=True),
        })
        frame = frame.filter(pl.col(C.QUERY) != "").unique([C.ITEM, C.QUERY], keep="first", maintain_order=True)
        _log_rows(self.name, len(codes), n_views, len(frame), time.perf_counter() - t0)
        return log.with_frame(frame)

    def term_ids(self, words: list[str]) -> np.ndarray:
        """Fitted ids of ``words`` (-1 when unknown), for inspection."""
        self._check_fitted()
        assert self.terms_ is not None
        return _ids_in(self.terms_, pl.Series(words, dtype=pl.Utf8))


__all__ = ["PseudoQueries"]
