"""Query-side search augmenters: term dropout, reorder, substitution, category generalise / specialise.

Each rewrites the query of every row (and view) and keeps the row's user, item and time; see
:mod:`recaug.search.augment` for the contract (fit on training rows only, per-row streams,
provenance, unchanged views left out). All kernels work on the CSR token arrays of a whole
batch; per-item tables (category paths) are indexed by item code.

* :class:`TermDropout` (``term_dropout``): each word is dropped with probability ``p``; a query
  never falls below ``min_terms`` words (the words with the highest draws are kept).
* :class:`TermReorder` (``term_reorder``): ``mode="shuffle"`` permutes all words uniformly,
  ``"swap"`` exchanges two random positions; the multiset of words is kept.
* :class:`TermSubstitute` (``term_substitute``): each word with neighbours is replaced with
  probability ``p`` (at least one per query that has such a word) by one of its top-``k``
  neighbours, drawn uniformly. Neighbours come from the training queries only (optionally also
  the text of the items bought in training): ``method="pmi"`` (first-order: words that occur in
  the same queries, positive PMI), ``"count"`` (raw co-occurrence counts) or ``"context"``
  (second-order, synonym-like: cosine of the words' positive-PMI context vectors, by default
  without words that ever co-occur with the word in one query, so ``creams`` can become
  ``lotions`` rather than ``face``). The table is a sparse ``(terms, terms)`` matrix
  (``neighbours_``) over the sorted training words ``terms_``.
* :class:`CategoryGeneralise` (``category_generalise``): drops the ``levels`` most specific
  levels of the bought item's category path (at least one level is kept). A query that *is*
  the item's category-path query (:func:`recaug.search.queries.category_path_query`) becomes
  exactly the path query of the shortened path; any other query loses the words that only the
  dropped levels have.
* :class:`CategorySpecialise` (``category_specialise``): appends the words of a child category.
  When the query is the path query of a proper prefix of the item's own path, the child is the
  item's own next level (exact); otherwise it is a child of the item's full path in the
  category tree of the items bought in training, drawn in proportion to their training rows
  (``weighted``) or uniformly. Words are merged as the path-query rule does (repeated words
  kept at their last occurrence), so for a category-path query the result is exactly the
  path query of the longer path.

Item category paths come from :func:`item_category_paths` (the Amazon ``categories`` /
``attribute_names`` columns, a ``category`` column split on ``|``, or ``path_column``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl
import scipy.sparse as sp

from recaug import columns as C
from recaug.data.csr import offsets_from_lengths, row_of, slice_index
from recaug.errors import ConfigError, DataError
from recaug.random import counter_bits, mix64, to_unit
from recaug.search.augment import (
    PURPOSE_POS,
    PURPOSE_ROW,
    PURPOSE_VAL,
    QueryOperation,
    TermBatch,
    _ids_in,
    dedupe_csr,
    draw_below,
    element_draw,
    encode_texts,
    extend_vocab,
    is_member,
    rank_in_row,
    register_search_augmenter,
    row_draw,
    rows_equal,
)
from recaug.search.log import SearchLog
from recaug.search.tokenize import TermVocabulary, dedupe_keep_last, tokenize

#: separator of category levels inside a path key
_SEP = "\x1f"
SUBSTITUTE_METHODS = ("pmi", "count", "context")
SUBSTITUTE_SOURCES = ("queries", "queries+text")
REORDER_MODES = ("shuffle", "swap")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value}")


def item_category_paths(items: pl.DataFrame, column: str | None = None) -> pl.Series:
    """Each item row's category levels (``list[str]``, most general first; ``[]`` when unknown).

    ``column``: an item column holding the path (``list[str]``, or a string split on ``|``).
    Without it: the Amazon ``categories`` / ``attribute_names`` columns
    (:func:`recaug.search.queries.amazon_category_path`), else ``category`` split on ``|``.
    """
    from recaug.search.queries import amazon_category_path

    if column is None:
        if "categories" in items.columns or "attribute_names" in items.columns:
            paths = amazon_category_path(items)
        elif C.CATEGORY in items.columns:
            paths = items.get_column(C.CATEGORY)
        else:
            raise DataError("the item table has no category path", column=C.CATEGORY,
                            expected="a 'categories', 'attribute_names' or 'category' item column (or path_column)")
    else:
        if column not in items.columns:
            raise DataError(f"the item table has no column {column!r}", column=column,
                            expected=f"one of {items.columns}")
        paths = items.get_column(column)
    if paths.dtype == pl.Utf8:
        paths = paths.str.split("|")
    elif not isinstance(paths.dtype, pl.List):
        raise DataError(f"category path column of type {paths.dtype}", column=column or C.CATEGORY,
                        expected="strings or lists of strings")
    paths = paths.cast(pl.List(pl.Utf8)).list.eval(
        pl.element().filter(pl.element().is_not_null() & (pl.element().str.strip_chars() != ""))
    )
    return paths.fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).alias("path")


def _per_code(items: pl.DataFrame, values: pl.Series, space: int) -> pl.Series:
    """``values`` (aligned with item rows) re-indexed by item code ``0 .. space-1`` (missing: null)."""
    frame = pl.DataFrame({C.ITEM: items.get_column(C.ITEM).cast(pl.Int64), "v": values})
    full = pl.DataFrame({C.ITEM: np.arange(space, dtype=np.int64)}).join(frame, on=C.ITEM, how="left",
                                                                        maintain_order="left")
    return full.get_column("v")


def _empty_lists(series: pl.Series) -> pl.Series:
    return series.fill_null(pl.lit([], dtype=pl.List(pl.Utf8)))


def _path_tokens(paths: pl.Series) -> pl.Series:
    """The words of each path's query (:func:`category_path_query`'s rule), as lists."""
    return dedupe_keep_last(tokenize(paths.list.join(" ")))


def _fill(out: np.ndarray, offsets_out: np.ndarray, rows: np.ndarray, src_offsets: np.ndarray,
          src_values: np.ndarray, *, shift: np.ndarray | None = None) -> None:
    """Write CSR rows ``src`` into rows ``rows`` of ``out`` (after ``shift[i]`` elements when given)."""
    starts = offsets_out[:-1][rows] + (0 if shift is None else shift)
    idx, _ = slice_index(starts, np.diff(src_offsets))
    out[idx] = src_values


def _gather_csr(offsets: np.ndarray, values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR rows ``rows`` of ``(offsets, values)``."""
    idx, new_offsets = slice_index(offsets[:-1][rows], np.diff(offsets)[rows])
    return new_offsets, values[idx]


def _item_index(items: np.ndarray, space: int) -> np.ndarray:
    """Item codes usable as table rows (codes outside the fitted table become -1)."""
    items = np.asarray(items, dtype=np.int64)
    return np.where((items >= 0) & (items < space), items, -1)


def _to_batch_ids(batch: TermBatch, terms: pl.Series, ids: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    """Batch vocabulary extended with the fitted words ``terms[ids]``, and their batch ids."""
    if len(ids) == 0:
        return batch.vocab, np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(ids, return_inverse=True)
    vocab, mapped = extend_vocab(batch.vocab, terms.gather(uniq))
    return vocab, mapped[inverse]


# -- dropout and reorder -----------------------------------------------------------------------------
@register_search_augmenter
@dataclass(eq=False, repr=False)
class TermDropout(QueryOperation):
    """Drop each word with probability ``p``; keep at least ``min_terms`` words of every query."""

    p: float = 0.2
    min_terms: int = 1
    name: ClassVar[str] = "term_dropout"

    def __post_init__(self) -> None:
        _check_fraction("p", self.p)
        if int(self.min_terms) < 1:
            raise ConfigError(f"min_terms must be >= 1, got {self.min_terms}")

    def describe(self) -> str:
        return f"TermDropout: drop each query word with probability {self.p:.0%}, keep at least {self.min_terms}"

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:
        bits = element_draw(state, batch.offsets, PURPOSE_POS)
        rank = rank_in_row(batch.offsets, ~bits)  # 0 = the highest draw of the row
        keep = (to_unit(bits) >= self.p) | (rank < int(self.min_terms))
        lengths = np.bincount(row_of(batch.offsets)[keep], minlength=len(batch))
        return batch.with_terms(offsets_from_lengths(lengths), batch.terms[keep])


@register_search_augmenter
@dataclass(eq=False, repr=False)
class TermReorder(QueryOperation):
    """Shuffle the words of every query (``mode="shuffle"``) or swap two of them (``"swap"``)."""

    mode: str = "shuffle"
    name: ClassVar[str] = "term_reorder"

    def __post_init__(self) -> None:
        if self.mode not in REORDER_MODES:
            raise ConfigError(f"mode must be one of {REORDER_MODES}, got {self.mode!r}")

    def describe(self) -> str:
        what = "shuffle the words" if self.mode == "shuffle" else "swap two random words"
        return f"TermReorder: {what} of every query"

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:
        offsets, terms = batch.offsets, batch.terms
        out = terms.copy()
        if self.mode == "shuffle":
            rank = rank_in_row(offsets, element_draw(state, offsets, PURPOSE_POS))
            out[np.repeat(offsets[:-1], batch.lengths) + rank] = terms
            return batch.with_terms(offsets, out)
        lengths = batch.lengths
        rows = np.flatnonzero(lengths >= 2)
        n = lengths[rows]
        i = draw_below(row_draw(state[rows], PURPOSE_ROW, 0), n)
        j = draw_below(row_draw(state[rows], PURPOSE_ROW, 1), n - 1)
        j = j + (j >= i)
        a, b = offsets[rows] + i, offsets[rows] + j
        out[a], out[b] = terms[b], terms[a]
        return batch.with_terms(offsets, out)


# -- substitution ------------------------------------------------------------------------------------
def top_k_sparse(matrix: sp.spmatrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest positive entries of every row (ties: lower column first), as canonical CSR."""
    coo = sp.coo_matrix(matrix)
    keep = coo.data > 0
    r, c, v = coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep]
    order = np.lexsort((c, -v, r))
    r, c, v = r[order], c[order], v[order]
    starts = np.searchsorted(r, np.arange(matrix.shape[0]), side="left")
    rank = np.arange(len(r)) - starts[r]
    sel = rank < int(k)
    out = sp.csr_matrix((v[sel].astype(np.float32), (r[sel], c[sel])), shape=matrix.shape)
    out.sort_indices()
    return out


def _positive_pmi(cooc: sp.csr_matrix, freq: np.ndarray, total: float) -> sp.csr_matrix:
    coo = cooc.tocoo()
    with np.errstate(divide="ignore"):
        pmi = np.log(coo.data * total / (freq[coo.row] * freq[coo.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=cooc.shape)


@register_search_augmenter
@dataclass(eq=False, repr=False)
class TermSubstitute(QueryOperation):
    """Replace words with one of their top-``k`` neighbours learned from training queries (see the module docstring)."""

    p: float = 0.3
    k: int = 5
    method: str = "context"
    source: str = "queries"
    text_column: str = "text"
    min_count: int = 2
    exclude_cooccurring: bool = True
    name: ClassVar[str] = "term_substitute"

    def __post_init__(self) -> None:
        _check_fraction("p", self.p)
        if int(self.k) < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        if self.method not in SUBSTITUTE_METHODS:
            raise ConfigError(f"method must be one of {SUBSTITUTE_METHODS}, got {self.method!r}")
        if self.source not in SUBSTITUTE_SOURCES:
            raise ConfigError(f"source must be one of {SUBSTITUTE_SOURCES}, got {self.source!r}")
        if int(self.min_count) < 1:
            raise ConfigError(f"min_count must be >= 1, got {self.min_count}")
        self.terms_: pl.Series | None = None
        self.neighbours_: sp.csr_matrix | None = None

    @property
    def is_fitted(self) -> bool:
        return self.neighbours_ is not None

    def describe(self) -> str:
        return (f"TermSubstitute: replace {self.p:.0%} of the query words (at least one) with one of their "
                f"top-{self.k} {self.method} neighbours from training {self.source}")

    def fit(self, train: SearchLog) -> TermSubstitute:
        """Learn the neighbour table from ``train``'s queries (and the text of its items)."""
        docs = train.frame.group_by(C.QUERY).len().sort(C.QUERY)
        texts, weights = docs.get_column(C.QUERY), docs.get_column("len").to_numpy().astype(np.float64)
        if self.source == "queries+text":
            bought = np.unique(train.targets)
            item_text = train.item_text(self.text_column).gather(bought).drop_nulls()
            texts = pl.concat([texts, item_text.rename(C.QUERY)])
            weights = np.r_[weights, np.ones(len(item_text))]
        offsets, ids, vocab = encode_texts(texts)
        n_terms = len(vocab)
        x = sp.csr_matrix((np.ones(len(ids)), (row_of(offsets), ids)), shape=(len(texts), n_terms))
        x.sum_duplicates()
        x.data[:] = 1.0
        cooc = (x.T @ sp.diags(weights) @ x).tocsr()
        freq = np.asarray(cooc.diagonal()).astype(np.float64)
        cooc.setdiag(0)
        cooc.eliminate_zeros()
        cooc.data[cooc.data < self.min_count] = 0
        cooc.eliminate_zeros()
        # only words of training queries get neighbours (the only words a query can be rewritten from)
        x_queries = x[: docs.height]
        query_words = np.flatnonzero(np.asarray(x_queries.sum(axis=0)).ravel() > 0)
        pick = sp.csr_matrix((np.ones(len(query_words)), (query_words, query_words)), shape=(n_terms, n_terms))
        if self.method == "count":
            scores = pick @ cooc
        elif self.method == "pmi":
            scores = pick @ _positive_pmi(cooc, freq, float(weights.sum()))
        else:
            ppmi = _positive_pmi(cooc, freq, float(weights.sum()))
            norm = np.sqrt(np.asarray(ppmi.multiply(ppmi).sum(axis=1)).ravel())
            unit = (sp.diags(np.where(norm > 0, 1.0 / np.maximum(norm, 1e-300), 0.0)) @ ppmi).tocsr()
            scores = ((pick @ unit) @ unit.T).tocsr()
            scores.setdiag(0)
            if self.exclude_cooccurring:
                together = (x_queries.T @ x_queries).tocsr()
                together.data[:] = 1.0
                scores = scores - scores.multiply(together)
            scores.eliminate_zeros()
        self.terms_ = vocab
        self.neighbours_ = top_k_sparse(scores, int(self.k))
        return self

    def neighbour_terms(self, term: str) -> list[str]:
        """The stored neighbours of ``term`` (column order), for inspection."""
        self._check_fitted()
        assert self.terms_ is not None and self.neighbours_ is not None
        ids = _ids_in(self.terms_, pl.Series([term]))
        if ids[0] < 0:
            return []
        row = self.neighbours_[int(ids[0])]
        return self.terms_.gather(row.indices).to_list()

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:
        assert self.terms_ is not None and self.neighbours_ is not None
        nb = self.neighbours_
        deg = np.diff(nb.indptr)
        fid = _ids_in(self.terms_, batch.vocab)[batch.terms] if len(batch.terms) else np.zeros(0, np.int64)
        eligible = (fid >= 0) & (deg[np.maximum(fid, 0)] > 0)
        bits = element_draw(state, batch.offsets, PURPOSE_POS)
        u = to_unit(bits)
        chosen = eligible & (u < self.p)
        row = row_of(batch.offsets)
        n = len(batch)
        need = (np.bincount(row[eligible], minlength=n) > 0) & (np.bincount(row[chosen], minlength=n) == 0)
        cand = np.flatnonzero(eligible & need[row])
        if len(cand):  # at least one word per query that has one: the eligible word with the lowest draw
            order = cand[np.lexsort((u[cand], row[cand]))]
            first = np.r_[True, row[order][1:] != row[order][:-1]]
            chosen[order[first]] = True
        where = np.flatnonzero(chosen)
        new_f = self._draw_neighbours(batch, fid, where, row, state)
        ok = new_f >= 0
        where, new_f = where[ok], new_f[ok]
        vocab, new_ids = _to_batch_ids(batch, self.terms_, new_f)
        terms = batch.terms.copy()
        terms[where] = new_ids
        offsets, terms = dedupe_csr(batch.offsets, terms, keep="first")  # two picks of one word count once
        return batch.with_terms(offsets, terms, vocab)

    def _draw_neighbours(self, batch: TermBatch, fid: np.ndarray, where: np.ndarray, row: np.ndarray,
                         state: np.ndarray) -> np.ndarray:
        """A neighbour (fitted id) for each chosen position, uniform among those not already in the query.

        ``-1`` where every neighbour is already in the query.
        """
        assert self.neighbours_ is not None
        nb = self.neighbours_
        n_vocab = max(nb.shape[0], 1)
        deg = np.diff(nb.indptr)[fid[where]]
        slot_idx, slot_off = slice_index(nb.indptr[:-1][fid[where]].astype(np.int64), deg.astype(np.int64))
        cand = nb.indices[slot_idx].astype(np.int64)
        owner = row_of(slot_off)  # index into ``where``
        present = np.sort(row[fid >= 0] * n_vocab + fid[fid >= 0])
        free = ~is_member(present, row[where][owner] * n_vocab + cand)
        # one draw per (position, neighbour slot): the free slot with the smallest draw wins
        pos = where - batch.offsets[row[where]]
        slot = np.arange(len(cand), dtype=np.int64) - slot_off[:-1][owner]
        counter = (pos[owner].astype(np.uint64) << np.uint64(16)) | slot.astype(np.uint64)
        bits = mix64(state[row[where]][owner] ^ counter_bits(np.uint64(PURPOSE_VAL << 32) + counter))
        never = np.uint64(0xFFFFFFFFFFFFFFFF)
        table = np.full((len(where), max(int(deg.max()) if len(deg) else 0, 1)), never, dtype=np.uint64)
        table[owner, slot] = np.where(free, bits >> np.uint64(1), never)
        best = np.argmin(table, axis=1)
        ok = table[np.arange(len(where)), best] != never
        out = np.full(len(where), -1, dtype=np.int64)
        start = slot_off[:-1][ok]
        out[ok] = cand[start + best[ok]]
        return out


# -- category generalise / specialise ----------------------------------------------------------------
class _PathTables:
    """Item category paths turned into per-item-code CSR word tables over one fitted vocabulary."""

    def __init__(self, train: SearchLog, path_column: str | None) -> None:
        items = train.items
        self.space = train.item_space
        self.paths = _empty_lists(_per_code(items, item_category_paths(items, path_column), self.space))
        self.depth = self.paths.list.len().to_numpy().astype(np.int64)


def _encode_lists(vocab: TermVocabulary, tokens: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    return vocab.encode(_empty_lists(tokens))


@register_search_augmenter
@dataclass(eq=False, repr=False)
class CategoryGeneralise(QueryOperation):
    """Drop the ``levels`` most specific levels of the item's category path from the query."""

    levels: int = 1
    path_column: str | None = None
    name: ClassVar[str] = "category_generalise"

    def __post_init__(self) -> None:
        if int(self.levels) < 1:
            raise ConfigError(f"levels must be >= 1, got {self.levels}")
        self.terms_: pl.Series | None = None
        self.tables_: dict[str, np.ndarray] | None = None

    @property
    def is_fitted(self) -> bool:
        return self.tables_ is not None

    def describe(self) -> str:
        return f"CategoryGeneralise: drop the {self.levels} most specific level(s) of the item's category path"

    def fit(self, train: SearchLog) -> CategoryGeneralise:
        """Read every item's category path from ``train``'s item table."""
        t = _PathTables(train, self.path_column)
        keep = np.maximum(t.depth - int(self.levels), np.minimum(t.depth, 1))
        general = pl.DataFrame({"p": t.paths, "k": keep}).select(pl.col("p").list.head(pl.col("k"))).to_series()
        full_tok, gen_tok = _path_tokens(t.paths), _path_tokens(general)
        specific = full_tok.list.set_difference(gen_tok)
        vocab = TermVocabulary.build(full_tok)
        tables: dict[str, np.ndarray] = {}
        for name, tokens in (("full", full_tok), ("general", gen_tok), ("specific", specific)):
            tables[f"{name}_offsets"], tables[f"{name}_terms"] = _encode_lists(vocab, tokens)
        sp_rows = row_of(tables["specific_offsets"])
        tables["specific_keys"] = np.sort(sp_rows * max(len(vocab), 1) + tables["specific_terms"])
        self.terms_, self.tables_ = vocab.terms, tables
        return self

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:
        assert self.terms_ is not None and self.tables_ is not None
        tb = self.tables_
        n_vocab = max(len(self.terms_), 1)
        item = _item_index(batch.items, len(tb["full_offsets"]) - 1)
        fid = _ids_in(self.terms_, batch.vocab)[batch.terms] if len(batch.terms) else np.zeros(0, np.int64)
        exact = rows_equal(batch.offsets, fid, tb["full_offsets"], tb["full_terms"], item)
        row = row_of(batch.offsets)
        elem_item = item[row]
        key = np.where((fid >= 0) & (elem_item >= 0), elem_item * n_vocab + fid, -1)
        specific = is_member(tb["specific_keys"], key) & (key >= 0)
        keep = ~specific & ~exact[row]
        exact_rows = np.flatnonzero(exact)
        g_off, g_terms = _gather_csr(tb["general_offsets"], tb["general_terms"], item[exact_rows])
        lengths = np.bincount(row[keep], minlength=len(batch))
        lengths[exact_rows] = np.diff(g_off)
        offsets = offsets_from_lengths(lengths)
        out = np.empty(int(offsets[-1]), dtype=np.int64)
        vocab, g_ids = _to_batch_ids(batch, self.terms_, g_terms)
        _fill(out, offsets, exact_rows, g_off, g_ids)
        other = np.flatnonzero(~exact)
        k_off = offsets_from_lengths(np.bincount(row[keep], minlength=len(batch))[other])
        _fill(out, offsets, other, k_off, batch.terms[keep])
        return batch.with_terms(offsets, out, vocab)


@register_search_augmenter
@dataclass(eq=False, repr=False)
class CategorySpecialise(QueryOperation):
    """Append the words of a child category of the item's path seen in training (see the module docstring)."""

    weighted: bool = True
    path_column: str | None = None
    name: ClassVar[str] = "category_specialise"

    def __post_init__(self) -> None:
        self.terms_: pl.Series | None = None
        self.tables_: dict[str, np.ndarray] | None = None

    @property
    def is_fitted(self) -> bool:
        return self.tables_ is not None

    def describe(self) -> str:
        how = "in proportion to their training rows" if self.weighted else "uniformly"
        return f"CategorySpecialise: append the words of a child category seen in training, drawn {how}"

    def fit(self, train: SearchLog) -> CategorySpecialise:
        """Build the category tree of the items bought in ``train`` (rows per child) and each item's prefixes."""
        t = _PathTables(train, self.path_column)
        counts = np.bincount(train.targets.astype(np.int64), minlength=t.space)[: t.space]
        codes = np.arange(t.space, dtype=np.int64)
        per_item = pl.DataFrame({C.ITEM: codes, "path": t.paths, "w": counts.astype(np.float64)})
        levels = per_item.filter(pl.col("path").list.len() >= 2).with_columns(
            pl.int_ranges(1, pl.col("path").list.len()).alias("m")
        ).explode("m").with_columns(
            pl.col("path").list.head(pl.col("m")).list.join(_SEP).alias("parent"),
            pl.col("path").list.get(pl.col("m")).alias("child"),
        )
        # the item's own next level after each proper prefix (exact specialisation)
        prefixes = levels.select(C.ITEM, "m", "child", pl.col("path").list.head(pl.col("m")).alias("prefix"))
        prefixes = prefixes.sort([C.ITEM, "m"])
        # the tree: children of each path among the items bought in training, weighted by their rows
        edges = (levels.filter(pl.col("w") > 0).group_by("parent", "child").agg(pl.col("w").sum())
                 .sort("parent", "child"))
        own = per_item.select(C.ITEM, pl.col("path").list.join(_SEP).alias("parent"))
        cand = own.join(edges, on="parent", how="inner").sort(C.ITEM, "child")
        child_tok = tokenize(pl.concat([cand.get_column("child"), prefixes.get_column("child")]))
        prefix_tok = _path_tokens(prefixes.get_column("prefix"))
        vocab = TermVocabulary.build(pl.concat([child_tok, prefix_tok]))
        tables: dict[str, np.ndarray] = {}
        n_cand = len(cand)
        tables["cand_child_offsets"], tables["cand_child_terms"] = _encode_lists(vocab, child_tok.head(n_cand))
        tables["pref_child_offsets"], tables["pref_child_terms"] = _encode_lists(vocab, child_tok.slice(n_cand))
        tables["pref_offsets"], tables["pref_terms"] = _encode_lists(vocab, prefix_tok)
        cand_items = cand.get_column(C.ITEM).to_numpy()
        tables["cand_item_offsets"] = offsets_from_lengths(np.bincount(cand_items, minlength=t.space))
        w = cand.get_column("w").to_numpy() if self.weighted else np.ones(n_cand)
        tables["cand_cumweight"] = np.cumsum(w.astype(np.float64))
        pref_items = prefixes.get_column(C.ITEM).to_numpy()
        tables["pref_item_offsets"] = offsets_from_lengths(np.bincount(pref_items, minlength=t.space))
        self.terms_, self.tables_ = vocab.terms, tables
        return self

    def _choose_children(self, item: np.ndarray, fid: np.ndarray, batch: TermBatch,
                         state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: child source (0 none, 1 own next level, 2 tree child) and the child's table row."""
        tb = self.tables_
        assert tb is not None
        n = len(batch)
        kind = np.zeros(n, dtype=np.int8)
        which = np.full(n, -1, dtype=np.int64)
        safe = np.maximum(item, 0)
        p_start = np.where(item >= 0, tb["pref_item_offsets"][:-1][safe], 0)
        p_count = np.where(item >= 0, np.diff(tb["pref_item_offsets"])[safe], 0)
        for m in range(int(p_count.max()) if n else 0):  # one pass per path level, never per row
            ref = np.where(p_count > m, p_start + m, -1)
            hit = rows_equal(batch.offsets, fid, tb["pref_offsets"], tb["pref_terms"], ref) & (kind == 0)
            kind[hit], which[hit] = 1, ref[hit]
        c_start = np.where(item >= 0, tb["cand_item_offsets"][:-1][safe], 0)
        c_count = np.where(item >= 0, np.diff(tb["cand_item_offsets"])[safe], 0)
        tree = (kind == 0) & (c_count > 0)
        rows = np.flatnonzero(tree)
        cum = tb["cand_cumweight"]
        lo = np.where(c_start[rows] > 0, cum[np.maximum(c_start[rows] - 1, 0)], 0.0)
        hi = cum[c_start[rows] + c_count[rows] - 1]
        u = to_unit(row_draw(state[rows], PURPOSE_ROW, 0))
        pos = np.searchsorted(cum, lo + u * (hi - lo), side="right")
        pos = np.clip(pos, c_start[rows], c_start[rows] + c_count[rows] - 1)
        kind[rows], which[rows] = 2, pos
        return kind, which, rows

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:
        assert self.terms_ is not None and self.tables_ is not None
        tb = self.tables_
        item = _item_index(batch.items, len(tb["cand_item_offsets"]) - 1)
        fid = _ids_in(self.terms_, batch.vocab)[batch.terms] if len(batch.terms) else np.zeros(0, np.int64)
        kind, which, _ = self._choose_children(item, fid, batch, state)
        own_rows, tree_rows = np.flatnonzero(kind == 1), np.flatnonzero(kind == 2)
        o_off, o_terms = _gather_csr(tb["pref_child_offsets"], tb["pref_child_terms"], which[own_rows])
        t_off, t_terms = _gather_csr(tb["cand_child_offsets"], tb["cand_child_terms"], which[tree_rows])
        vocab, ids = _to_batch_ids(batch, self.terms_, np.r_[o_terms, t_terms])
        add = np.zeros(len(batch), dtype=np.int64)
        add[own_rows], add[tree_rows] = np.diff(o_off), np.diff(t_off)
        lengths = batch.lengths
        offsets = offsets_from_lengths(lengths + add)
        out = np.empty(int(offsets[-1]), dtype=np.int64)
        _fill(out, offsets, np.arange(len(batch)), batch.offsets, batch.terms)
        _fill(out, offsets, own_rows, o_off, ids[: len(o_terms)], shift=lengths[own_rows])
        _fill(out, offsets, tree_rows, t_off, ids[len(o_terms):], shift=lengths[tree_rows])
        offsets, out = dedupe_csr(offsets, out, keep="last")
        return batch.with_terms(offsets, out, vocab)


__all__ = [
    "CategoryGeneralise",
    "CategorySpecialise",
    "TermDropout",
    "TermReorder",
    "TermSubstitute",
    "item_category_paths",
    "top_k_sparse",
]
