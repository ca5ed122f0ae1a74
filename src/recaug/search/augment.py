"""Search augmentation: new (user, query, item) rows from training search logs, with provenance.

The contract mirrors :mod:`recaug.expand` (see ``DESIGN.md``):

* ``fit(train) -> self`` learns only from the training log it is given (co-occurrence tables
  of training queries, the category tree of the items the training rows bought, item text);
  calling ``augment`` first raises :class:`~recaug.errors.NotFittedError`.
* ``augment(log, *, seed, n_views=1) -> SearchLog`` returns **new rows only** (the input log
  is never modified) over the same vocabulary and item table. Every row names what made it
  in ``source`` (``"term_dropout"``, ``"term_dropout+term_reorder"`` for a composition), its
  ``view`` (0-based) and the query it was made from in ``origin_query`` (null for
  pseudo-queries). Queries come out normalised (lowercase words joined by single spaces, see
  :mod:`recaug.search.tokenize`). A view whose query comes out equal to its input's
  normalised query, or empty, is not emitted: it would only repeat a real row.
* Randomness: the row of input row ``r`` and view ``v`` draws from a counter-based stream
  keyed by ``(seed, user, item, timestamp, v)`` (``recaug.random``'s SplitMix64 streams), and
  element draws are indexed by the term's position in the query. So augmenting a log in two
  halves gives exactly the rows of augmenting it whole, in any order or batch size, and the
  same seed gives the same bytes.
* Everything runs over whole token arrays: queries are tokenised once per *distinct* query
  (logs repeat queries heavily), rows become CSR ``(offsets, term ids)`` and every operation
  is a NumPy / SciPy kernel over all rows; there is no per-query Python loop.

Operations (query side in :mod:`recaug.search.augment_query`, item side in
:mod:`recaug.search.augment_items`): ``term_dropout``, ``term_reorder``, ``term_substitute``,
``category_generalise``, ``category_specialise``, ``pseudo_queries``; combinators
``one_of`` (one query op per row), ``compose`` (query ops one after another) and ``union``
(the rows of every child, e.g. query-side views plus pseudo-queries). Build them by name with
:func:`search_augmenter_from_config` (``{"op": "term_dropout", "p": 0.3}``; settings and types
come from each class's fields, as in ``recaug.expand.from_config``).

**Fusion** (:func:`fuse_search`): the real training rows keep ``source == "real"``; augmented
rows are added (at most ``ratio`` per real row, a seeded choice by row key; optional
``weight`` on them, real rows 1.0) and the result is sorted by (user, timestamp) with the
augmented rows *before* the real rows of the same time: a query-side view keeps its source
row's user and time, and a personalised model whose history of an event is "the user's real
events before it" (``recaug.search.personal``) must not find the view's own target there. :class:`recaug.fuse.Fuser` does not fit search rows: it de-duplicates
(user, item) pairs, which would delete every query-side view (they keep the user and item of
their source row), and moves synthetic rows before the user's history.

**Leakage** (:func:`assert_no_search_leakage`): no augmented row may carry a (user, normalised
query, item) of the validation or test part, and, for the unseen-queries split, no test query
(nor a query of a validation event). Augmenters never see held-out rows, but a category
generalisation or a substitution can still *produce* a held-out query from training queries
alone; ``fuse_search(..., split=split)`` drops such rows by the rule the split itself applies
to real rows (``held_out="drop"``, counted in its report) or refuses them (``"error"``).

**Pseudo-users**: pseudo-query rows have no shopper; they all carry the one user code
:func:`pseudo_user` (``log.vocab.n_users``, the first code no real user has) and timestamp =
the pseudo-query's index. A personalised model must treat them as user-less (query, item)
pairs: train its query/item side on them, use its unknown-user path for the user side, and
never build a history from them (:func:`real_histories` and :func:`augment_search_histories`
read real rows of real users only).

**Behaviour side** (:func:`augment_search_histories`): the per-user item histories a
personalised search model reads (the items each user's real training searches ended on, in
time order) through any :mod:`recaug.expand` sequence augmenter, via
:func:`recaug.expand.expand_training` (provenance, ``origin`` and ``view`` as there).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np
import polars as pl
import pyarrow as pa

from recaug import columns as C
from recaug.data.csr import offsets_from_lengths, row_of, slice_index
from recaug.errors import ConfigError, DataError, LeakageError, NotFittedError
from recaug.random import GOLDEN_GAMMA, counter_bits, hash_uniform, key_state, mix64, to_unit
from recaug.search.log import SearchLog
from recaug.search.tokenize import normalize, tokenize

if TYPE_CHECKING:
    from recaug.data.interactions import Interactions
    from recaug.expand.base import Augmenter
    from recaug.expand.offline import ExpandedSequences
    from recaug.search.split import SearchSplit

logger = logging.getLogger("recaug.search.augment")

#: provenance columns every augmented row carries (besides ``source``)
VIEW = "view"
ORIGIN_QUERY = "origin_query"
#: what ``fuse_search`` does with augmented rows that hit held-out keys
HeldOut = Literal["drop", "error"]

#: counter ranges of the element / row draws: counter = purpose * 2**32 + index
PURPOSE_ROW = 0
PURPOSE_POS = 1
PURPOSE_VAL = 2
PURPOSE_AUX = 3
_CHOICE_SALT = 1_000_003
_RANK_BITS = 40


# -- counter-based streams (pure functions of seed, row key and counter) -----------------------
def row_keys(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Stream key of each search row: a SplitMix64 hash of (user, item, timestamp)."""
    u = np.asarray(users).astype(np.int64).astype(np.uint64)
    i = np.asarray(items).astype(np.int64).astype(np.uint64)
    t = np.asarray(timestamps).astype(np.int64).astype(np.uint64)
    return mix64(mix64(mix64(u) ^ i) ^ t)


def view_keys(keys: np.ndarray, views: np.ndarray | int) -> np.ndarray:
    """Keys of view ``views`` of rows with ``keys`` (view 0 differs from the row key too)."""
    v = np.asarray(views).astype(np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        return mix64(np.asarray(keys, dtype=np.uint64) ^ mix64(v + GOLDEN_GAMMA))


def stage_seed(seed: int, salt: int) -> int:
    """An independent seed for stage ``salt`` of a combinator."""
    return int(mix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) ^ np.uint64(salt + 1))[0])


def _counter(purpose: int, index: np.ndarray | int) -> np.ndarray:
    return counter_bits(np.uint64(purpose) * np.uint64(1 << 32) + np.asarray(index).astype(np.uint64))


def row_draw(state: np.ndarray, purpose: int = PURPOSE_ROW, j: int = 0) -> np.ndarray:
    """64 random bits per row: draw ``j`` of ``purpose`` (equals ``hash_uniform``'s bits)."""
    return mix64(state ^ _counter(purpose, j))


def element_draw(state: np.ndarray, offsets: np.ndarray, purpose: int) -> np.ndarray:
    """64 random bits per element of CSR rows, indexed by the element's position in its row."""
    lengths = np.diff(offsets)
    pos = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1], lengths)
    n = int(lengths.max()) if len(lengths) else 0
    table = _counter(purpose, np.arange(n, dtype=np.int64))
    return mix64(np.repeat(state, lengths) ^ table[pos])


def draw_below(bits: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Integers uniform in ``[0, n)`` from 64 random bits (multiply-shift; ``n < 2**32``)."""
    return (((bits >> np.uint64(32)) * np.asarray(n).astype(np.uint64)) >> np.uint64(32)).astype(np.int64)


def rank_in_row(offsets: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its row when ordered by ``bits`` (ties by position)."""
    n_rows = len(offsets) - 1
    row = row_of(offsets)
    if len(row) == 0:
        return np.zeros(0, dtype=np.int64)
    if n_rows < (1 << (64 - _RANK_BITS)):
        key = (row.astype(np.uint64) << np.uint64(_RANK_BITS)) | (bits >> np.uint64(64 - _RANK_BITS))
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((bits >> np.uint64(64 - _RANK_BITS), row))
    rank = np.empty(len(row), dtype=np.int64)
    rank[order] = np.arange(len(row), dtype=np.int64) - offsets[:-1][row[order]]
    return rank


# -- token batches ----------------------------------------------------------------------------------
def _as_large_list(offsets: np.ndarray, words: pl.Series) -> pl.Series:
    values = words.to_arrow()
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    arr = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), values)
    return pl.Series(C.QUERY, arr)


def extend_vocab(vocab: pl.Series, terms: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """``vocab`` plus the words of ``terms`` it lacks (appended), and the id of every word of ``terms`` in it."""
    ids = _ids_in(vocab, terms)
    missing = ids < 0
    if missing.any():
        new = terms.cast(pl.Utf8).filter(pl.Series(missing)).unique(maintain_order=True).rename(vocab.name)
        vocab = pl.concat([vocab, new])
        ids = _ids_in(vocab, terms)
    return vocab, ids


def _ids_in(vocab: pl.Series, terms: pl.Series) -> np.ndarray:
    """Id of every word of ``terms`` in ``vocab`` (-1 when absent)."""
    table = pl.DataFrame({"w": vocab, "id": np.arange(len(vocab), dtype=np.int64)})
    found = pl.DataFrame({"w": terms.cast(pl.Utf8)}).join(table, on="w", how="left", maintain_order="left")
    return found.get_column("id").fill_null(-1).to_numpy().astype(np.int64)


def encode_texts(texts: pl.Series) -> tuple[np.ndarray, np.ndarray, pl.Series]:
    """CSR ``(offsets, term ids, vocabulary)`` of the words of every text (each distinct text tokenised once).

    The vocabulary is the sorted distinct words; a null or word-less text is an empty row.
    """
    texts = texts.cast(pl.Utf8).fill_null("")
    distinct = texts.unique().sort()
    tokens = tokenize(distinct)
    lengths_d = tokens.list.len().to_numpy().astype(np.int64)
    flat = tokens.explode().drop_nulls()
    vocab = flat.unique().sort().rename("term")
    ids_d = vocab.search_sorted(flat).to_numpy().astype(np.int64) if len(flat) else np.zeros(0, np.int64)
    offsets_d = offsets_from_lengths(lengths_d)
    which = distinct.search_sorted(texts).to_numpy().astype(np.int64) if len(texts) else np.zeros(0, np.int64)
    lengths = lengths_d[which]
    idx, offsets = slice_index(offsets_d[:-1][which], lengths)
    return offsets, ids_d[idx], vocab


def join_terms(offsets: np.ndarray, terms: np.ndarray, vocab: pl.Series) -> pl.Series:
    """The words of every CSR row joined by single spaces (``""`` for an empty row)."""
    words = vocab.gather(terms) if len(terms) else pl.Series("w", [], dtype=pl.Utf8)
    return _as_large_list(offsets, words).list.join(" ").alias(C.QUERY)


def is_member(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each of ``queries`` occurs in the sorted array ``sorted_keys`` (a binary search each)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return sorted_keys[idx] == queries


def _row_term_order(row: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Element order by (row, term, position), with one stable sort of a combined key when it fits."""
    if len(row) and int(row.max()) < (1 << 31) and int(terms.max()) < (1 << 32):
        key = (row.astype(np.uint64) << np.uint64(32)) | terms.astype(np.uint64)
        return np.argsort(key, kind="stable")
    return np.lexsort((np.arange(len(terms)), terms, row))


def dedupe_csr(offsets: np.ndarray, terms: np.ndarray, keep: str = "last") -> tuple[np.ndarray, np.ndarray]:
    """CSR rows with repeated term ids removed, each kept at its ``"last"`` (as ``dedupe_keep_last``) or
    ``"first"`` occurrence."""
    if len(terms) == 0:
        return offsets, terms
    row = row_of(offsets)
    order = _row_term_order(row, terms)
    r, t = row[order], terms[order]
    new = np.r_[True, (r[1:] != r[:-1]) | (t[1:] != t[:-1])]
    boundary = new if keep == "first" else np.r_[new[1:], True]
    kept = np.zeros(len(terms), dtype=bool)
    kept[order[boundary]] = True
    return offsets_from_lengths(np.bincount(row[kept], minlength=len(offsets) - 1)), terms[kept]


def rows_equal(
    offsets: np.ndarray, terms: np.ndarray, ref_offsets: np.ndarray, ref_terms: np.ndarray, ref_row: np.ndarray
) -> np.ndarray:
    """Whether CSR row ``r`` equals reference row ``ref_row[r]`` (negative ``ref_row``: never)."""
    lengths = np.diff(offsets)
    ok = ref_row >= 0
    safe = np.where(ok, ref_row, 0)
    ref_len = np.diff(ref_offsets)[safe] if len(ref_offsets) > 1 else np.zeros(len(lengths), np.int64)
    same = ok & (ref_len == lengths)
    check = np.repeat(same, lengths)
    idx, _ = slice_index(ref_offsets[:-1][safe] if len(ref_offsets) > 1 else np.zeros(len(lengths), np.int64),
                         np.where(same, lengths, 0))
    mismatch = np.zeros(len(terms), dtype=bool)
    mismatch[check] = terms[check] != ref_terms[idx]
    bad = np.zeros(len(lengths), dtype=bool)
    rows = row_of(offsets)[mismatch]
    bad[rows] = True
    return same & ~bad


@dataclass
class TermBatch:
    """Tokenised queries moving through a search augmentation pipeline.

    Row ``r`` is the query ``vocab[terms[offsets[r]:offsets[r+1]]]`` of the search that ended on
    ``items[r]``; ``keys`` are the per-row stream keys. The operation path of row ``r``
    (``"term_dropout+term_reorder"``) is ``names[path[r]]``. ``vocab`` holds each word once.
    """

    offsets: np.ndarray
    terms: np.ndarray
    vocab: pl.Series
    items: np.ndarray
    keys: np.ndarray
    path: np.ndarray
    names: tuple[str, ...] = ("",)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Words per row."""
        return np.diff(self.offsets)

    def select(self, rows: np.ndarray) -> TermBatch:
        """The given rows, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        idx, offsets = slice_index(self.offsets[:-1][rows], self.lengths[rows])
        return TermBatch(offsets, self.terms[idx], self.vocab, self.items[rows], self.keys[rows], self.path[rows],
                         self.names)

    def with_terms(self, offsets: np.ndarray, terms: np.ndarray, vocab: pl.Series | None = None) -> TermBatch:
        """Same rows, new words."""
        return TermBatch(np.asarray(offsets, np.int64), np.asarray(terms, np.int64),
                         self.vocab if vocab is None else vocab, self.items, self.keys, self.path, self.names)

    def extended(self, name: str) -> TermBatch:
        """The batch with ``name`` appended to every row's operation path."""
        names = tuple(name if n == "" else f"{n}+{name}" for n in self.names)
        return TermBatch(self.offsets, self.terms, self.vocab, self.items, self.keys, self.path, names)

    def queries(self) -> pl.Series:
        """Every row's words joined by spaces."""
        return join_terms(self.offsets, self.terms, self.vocab)

    @staticmethod
    def concat(parts: list[TermBatch]) -> TermBatch:
        """Rows of all parts, in order (vocabularies and operation paths merged)."""
        if len(parts) == 1:
            return parts[0]
        vocab = pl.concat([p.vocab for p in parts]).unique(maintain_order=True)
        terms = [_ids_in(vocab, p.vocab)[p.terms] for p in parts]
        names: dict[str, int] = {}
        for p in parts:
            for n in p.names:
                names.setdefault(n, len(names))
        paths = [np.array([names[n] for n in p.names], dtype=np.int32)[p.path] for p in parts]
        return TermBatch(
            offsets_from_lengths(np.concatenate([p.lengths for p in parts])),
            np.concatenate(terms), vocab,
            np.concatenate([p.items for p in parts]), np.concatenate([p.keys for p in parts]),
            np.concatenate(paths), tuple(names),
        )


def encode_log(search_log: SearchLog, n_views: int = 1) -> tuple[TermBatch, np.ndarray, np.ndarray]:
    """The rows of ``search_log`` (each repeated ``n_views`` times) as a :class:`TermBatch`.

    Returns ``(batch, input row, view)`` per batch row.
    """
    frame = search_log.frame
    n = len(frame)
    offsets, terms, vocab = encode_texts(frame.get_column(C.QUERY))
    base = row_keys(frame.get_column(C.USER).to_numpy(), frame.get_column(C.ITEM).to_numpy(),
                    frame.get_column(C.TIME).to_numpy())
    rows = np.repeat(np.arange(n, dtype=np.int64), n_views)
    views = np.tile(np.arange(n_views, dtype=np.int64), n)
    items = frame.get_column(C.ITEM).to_numpy().astype(np.int32)
    batch = TermBatch(offsets, terms, vocab, items, base, np.zeros(n, dtype=np.int32))
    if n_views > 1:
        batch = batch.select(rows)
    batch.keys = view_keys(base[rows], views)
    return batch, rows, views


# -- the augmenter contract -------------------------------------------------------------------------
class SearchAugmenter(ABC):
    """Base class of every search augmenter (query side, item side, combinators)."""

    #: registry / config name, also the ``source`` tag of rows this augmenter makes
    name: ClassVar[str] = "search_augmenter"

    def fit(self, train: SearchLog) -> SearchAugmenter:
        """Learn what the augmenter needs from the training log only; returns ``self``."""
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`augment` can run (always true for augmenters that learn nothing)."""
        return True

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} must be fitted on the training log before augment()")

    @abstractmethod
    def augment(self, log: SearchLog, *, seed: int, n_views: int = 1) -> SearchLog:
        """New rows made from ``log`` (never the originals), tagged with ``source``, ``view``, ``origin_query``."""

    @abstractmethod
    def describe(self) -> str:
        """One readable line saying what the augmenter does with its settings."""

    def config(self) -> dict[str, Any]:
        """``{"op": name, **settings}``; :func:`search_augmenter_from_config` reads it back."""
        out: dict[str, Any] = {"op": self.name}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, SearchAugmenter):
                value = value.config()
            elif isinstance(value, list | tuple):
                value = [v.config() if isinstance(v, SearchAugmenter) else v for v in value]
            out[f.name] = value
        return out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "op")
        return f"{type(self).__name__}({params})"


def _check_views(n_views: int) -> int:
    if int(n_views) < 1:
        raise ConfigError(f"n_views must be >= 1, got {n_views}")
    return int(n_views)


def empty_augmented(search_log: SearchLog) -> SearchLog:
    """A log with no rows and the columns augmented rows have."""
    frame = search_log.frame.head(0).drop(C.WEIGHT, VIEW, ORIGIN_QUERY, strict=False).with_columns(
        pl.lit(None, dtype=pl.Int32).alias(VIEW), pl.lit(None, dtype=pl.Utf8).alias(ORIGIN_QUERY)
    )
    return search_log.with_frame(frame)


class QueryOperation(SearchAugmenter):
    """A query-side operation: a vectorised kernel over the tokenised queries of all rows.

    One output row per input row and view: user, item, timestamp and the other columns of the
    input row are kept, the query is rewritten. Subclasses implement :meth:`transform`.
    """

    @abstractmethod
    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:
        """The kernel: new words for every row; ``state`` holds one uint64 stream state per row."""

    def _run(self, batch: TermBatch, seed: int) -> TermBatch:
        self._check_fitted()
        out = self.transform(batch, key_state(seed, batch.keys))
        return out.extended(self.name)

    def augment(self, log: SearchLog, *, seed: int, n_views: int = 1) -> SearchLog:
        """One rewritten query per row and view; unchanged or empty results are left out."""
        n_views = _check_views(n_views)
        self._check_fitted()
        t0 = time.perf_counter()
        if len(log) == 0:
            return empty_augmented(log)
        batch, rows, views = encode_log(log, n_views)
        out = self._run(batch, seed)
        # unchanged: same word ids as the input row (vocabularies only ever append, so ids compare)
        same = rows_equal(out.offsets, out.terms, batch.offsets, batch.terms, np.arange(len(batch)))
        keep = ~same & (out.lengths > 0)
        kept = np.flatnonzero(keep)
        chosen = out.select(kept)
        src = pl.Series(C.SOURCE, list(chosen.names), dtype=pl.Utf8).gather(chosen.path)
        kept_rows = rows[kept]
        frame = log.frame.drop(C.SOURCE, C.WEIGHT, VIEW, ORIGIN_QUERY, strict=False)
        frame = frame[kept_rows].with_columns(
            chosen.queries().alias(C.QUERY),
            src.alias(C.SOURCE),
            pl.Series(VIEW, views[kept].astype(np.int32)),
            log.queries.gather(kept_rows).alias(ORIGIN_QUERY),
        )
        _log_rows(self.name, len(log), n_views, len(frame), time.perf_counter() - t0)
        return log.with_frame(frame)


def _log_rows(name: str, rows_in: int, n_views: int, rows_out: int, seconds: float) -> None:
    logger.info("%s: %d rows x %d view(s) in, %d new rows out in %.3fs", name, rows_in, n_views, rows_out, seconds)


# -- combinators ----------------------------------------------------------------------------------
def _as_ops(ops: Any, kind: type = SearchAugmenter) -> list[Any]:
    out = [ops] if isinstance(ops, SearchAugmenter) else list(ops or [])
    for op in out:
        if not isinstance(op, kind):
            what = "a query-side operation" if kind is QueryOperation else "a SearchAugmenter"
            raise ConfigError(f"expected {what}, got {op!r} (use search_augmenter_from_config for dicts)")
    return out


class _Parent:
    """Fit and fitted-state delegate to the children."""

    def children(self) -> list[SearchAugmenter]:
        """The augmenters this one is made of."""
        return list(self.ops)  # type: ignore[attr-defined]

    def fit(self, train: SearchLog) -> SearchAugmenter:
        """Fit every child on ``train``; returns ``self``."""
        for child in self.children():
            child.fit(train)
        return self  # type: ignore[return-value]

    @property
    def is_fitted(self) -> bool:
        return all(c.is_fitted for c in self.children())


_REGISTRY: dict[str, type[SearchAugmenter]] = {}
T = TypeVar("T", bound=type)


def register_search_augmenter(cls: T) -> T:
    """Class decorator: make ``cls`` buildable by :func:`search_augmenter_from_config` under ``cls.name``."""
    name = cls.name  # type: ignore[attr-defined]
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"search augmenter name {name!r} registered twice")
    _REGISTRY[name] = cls  # type: ignore[assignment]
    return cls


@register_search_augmenter
@dataclass(eq=False, repr=False)
class SearchCompose(_Parent, QueryOperation):
    """Apply query ops one after another to every row; rows are tagged ``"op1+op2"``."""

    ops: list[QueryOperation] = field(default_factory=list)
    name: ClassVar[str] = "compose"
    nested: ClassVar[dict[str, str]] = {"ops": "augmenters"}

    def __post_init__(self) -> None:
        self.ops = _as_ops(self.ops, QueryOperation)

    def describe(self) -> str:
        return "Compose: " + " then ".join(op.describe() for op in self.ops) if self.ops else "Compose: nothing"

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:  # pragma: no cover - _run is used
        raise NotImplementedError

    def _run(self, batch: TermBatch, seed: int) -> TermBatch:
        for i, op in enumerate(self.ops):
            batch = op._run(batch, stage_seed(seed, i))
        return batch


@register_search_augmenter
@dataclass(eq=False, repr=False)
class SearchOneOf(_Parent, QueryOperation):
    """Apply one of ``ops`` per row (and view), chosen with probability proportional to ``weights``."""

    ops: list[QueryOperation] = field(default_factory=list)
    weights: list[float] | None = None
    name: ClassVar[str] = "one_of"
    nested: ClassVar[dict[str, str]] = {"ops": "augmenters"}

    def __post_init__(self) -> None:
        self.ops = _as_ops(self.ops, QueryOperation)
        if not self.ops:
            raise ConfigError("one_of needs at least one op")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            if len(w) != len(self.ops) or (w < 0).any() or w.sum() <= 0:
                raise ConfigError(f"weights must be {len(self.ops)} non-negative numbers with a positive sum")
            self.weights = [float(x) for x in w]

    def describe(self) -> str:
        w = self.weights or [1.0] * len(self.ops)
        total = sum(w)
        return "OneOf: " + "; or ".join(f"{x / total:.0%} {op.describe()}" for x, op in zip(w, self.ops, strict=True))

    def transform(self, batch: TermBatch, state: np.ndarray) -> TermBatch:  # pragma: no cover - _run is used
        raise NotImplementedError

    def _run(self, batch: TermBatch, seed: int) -> TermBatch:
        w = np.asarray(self.weights or [1.0] * len(self.ops), dtype=np.float64)
        cum = np.cumsum(w) / w.sum()
        u = to_unit(row_draw(key_state(stage_seed(seed, _CHOICE_SALT), batch.keys)))
        choice = np.minimum(np.searchsorted(cum, u, side="right"), len(self.ops) - 1)
        parts, where = [], []
        for j, op in enumerate(self.ops):
            rows = np.flatnonzero(choice == j)
            if len(rows):
                sub = batch if len(rows) == len(batch) else batch.select(rows)
                parts.append(op._run(sub, stage_seed(seed, j)))
                where.append(rows)
        merged = TermBatch.concat(parts)
        if len(parts) > 1:
            merged = merged.select(np.argsort(np.concatenate(where), kind="stable"))
        return merged


@register_search_augmenter
@dataclass(eq=False, repr=False)
class SearchUnion(_Parent, SearchAugmenter):
    """The rows of every child augmenter, in child order (e.g. query-side views plus pseudo-queries)."""

    ops: list[SearchAugmenter] = field(default_factory=list)
    name: ClassVar[str] = "union"
    nested: ClassVar[dict[str, str]] = {"ops": "augmenters"}

    def __post_init__(self) -> None:
        self.ops = _as_ops(self.ops)
        if not self.ops:
            raise ConfigError("union needs at least one op")

    def describe(self) -> str:
        return "Union: the rows of " + "; and of ".join(op.describe() for op in self.ops)

    def augment(self, log: SearchLog, *, seed: int, n_views: int = 1) -> SearchLog:
        """Every child's rows (child ``i`` with its own sub-seed), concatenated."""
        n_views = _check_views(n_views)
        self._check_fitted()
        frames = [op.augment(log, seed=stage_seed(seed, i), n_views=n_views).frame for i, op in enumerate(self.ops)]
        return log.with_frame(pl.concat(frames, how="diagonal_relaxed"))


# -- config --------------------------------------------------------------------------------------
def available_search_augmenters() -> list[str]:
    """Names accepted in ``{"op": ...}``."""
    _load_ops()
    return sorted(_REGISTRY)


def _load_ops() -> None:
    import recaug.search.augment_items  # noqa: F401  (registers its ops)
    import recaug.search.augment_query  # noqa: F401


def search_augmenter_from_config(config: dict[str, Any] | SearchAugmenter) -> SearchAugmenter:
    """Build a search augmenter (recursively for combinators) from ``{"op": name, **settings}``.

    Keys and types are checked against the class's own fields (:mod:`recaug.settings`);
    unknown ops or keys raise :class:`~recaug.errors.ConfigError` naming them.
    """
    if isinstance(config, SearchAugmenter):
        return config
    if not isinstance(config, dict) or "op" not in config:
        raise ConfigError(f"a search augmenter config must be a mapping with an 'op' key, got {config!r}")
    from recaug.settings import check_settings, component_fields

    _load_ops()
    name = config["op"]
    if name not in _REGISTRY:
        raise ConfigError(f"unknown search augmentation op {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    cls = _REGISTRY[name]
    nested = getattr(cls, "nested", {})
    params = {k: v for k, v in config.items() if k != "op"}
    settings = component_fields(cls, exclude=frozenset())
    checked = check_settings({k: v for k, v in params.items() if k not in nested},
                             {k: v for k, v in settings.items() if k not in nested}, f"op {name}")
    unknown = sorted(set(params) - set(settings))
    if unknown:
        raise ConfigError(f"op {name}: unknown key {unknown[0]!r}; accepted: {', '.join(sorted(settings))}")
    for key in nested:
        if key in params:
            value = params[key]
            values = [value] if isinstance(value, dict | SearchAugmenter) else list(value)
            checked[key] = [search_augmenter_from_config(v) for v in values]
    try:
        return cls(**checked)
    except TypeError as exc:
        raise ConfigError(f"bad settings for op {name!r}: {exc}") from None


# -- provenance, leakage and fusion --------------------------------------------------------------
def pseudo_user(search_log: SearchLog) -> int:
    """The user code of every pseudo-query row: ``vocab.n_users``, a code no real user has."""
    return int(search_log.vocab.n_users)


def _frame_of(rows: SearchLog | Interactions | pl.DataFrame) -> pl.DataFrame:
    if isinstance(rows, pl.DataFrame):
        return rows
    return rows.frame


def _augmented_only(frame: pl.DataFrame) -> pl.DataFrame:
    if C.SOURCE not in frame.columns:
        return frame
    return frame.filter(pl.col(C.SOURCE) != C.REAL)


def _held_out_keys(split: SearchSplit) -> tuple[pl.DataFrame, list[str]]:
    """(user, normalised query, item) of valid + test, and the queries no training row may carry."""
    parts = [p.frame.select(C.USER, C.ITEM, normalize(p.queries).alias("_q")) for p in (split.valid, split.test)]
    triples = pl.concat(parts).unique()
    banned: list[str] = []
    if split.test_queries:
        banned = sorted(set(split.test_queries) | set(split.valid.query_keys().unique().to_list()))
    return triples, banned


def _leak_flags(split: SearchSplit, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    triples, banned = _held_out_keys(split)
    keyed = frame.select(pl.col(C.USER).cast(pl.Int32), pl.col(C.ITEM).cast(pl.Int32),
                         normalize(frame.get_column(C.QUERY)).alias("_q"))
    hit = keyed.join(triples.with_columns(pl.lit(True).alias("_hit")), on=[C.USER, C.ITEM, "_q"], how="left",
                     maintain_order="left").get_column("_hit").fill_null(False)
    query = keyed.get_column("_q").is_in(pl.Series(banned, dtype=pl.Utf8).implode())
    return hit, query


def assert_no_search_leakage(split: SearchSplit, rows: SearchLog | Interactions | pl.DataFrame) -> None:
    """Raise :class:`LeakageError` if an augmented row (``source != "real"``) carries held-out keys.

    Held-out keys: a (user, normalised query, item) of ``split.valid`` or ``split.test``; and for
    the unseen-queries split (``split.test_queries`` non-empty) a test query or the query of a
    validation event. Real rows are not checked (a repeat purchase may legitimately repeat a
    held-out triple in train); pass a fused log or the augmented rows alone.
    """
    frame = _augmented_only(_frame_of(rows))
    if len(frame) == 0:
        return
    hit, query = _leak_flags(split, frame)
    if hit.any():
        row = frame.filter(hit).row(0, named=True)
        raise LeakageError(f"{int(hit.sum())} augmented row(s) repeat a held-out (user, query, item), e.g. "
                           f"user_id={row[C.USER]} query={row[C.QUERY]!r} item_id={row[C.ITEM]} "
                           f"(source {row.get(C.SOURCE)!r})")
    if query.any():
        row = frame.filter(query).row(0, named=True)
        raise LeakageError(f"{int(query.sum())} augmented row(s) carry a held-out query of the unseen-queries split, "
                           f"e.g. {row[C.QUERY]!r} (source {row.get(C.SOURCE)!r})")


def drop_search_leakage(split: SearchSplit, rows: SearchLog) -> tuple[SearchLog, dict[str, int]]:
    """``rows`` without the augmented rows :func:`assert_no_search_leakage` would refuse, and the counts."""
    frame = rows.frame
    aug = (frame.get_column(C.SOURCE) != C.REAL) if C.SOURCE in frame.columns else pl.Series([True] * len(frame))
    if len(frame) == 0:
        return rows, {"held_out_triple": 0, "held_out_query": 0}
    hit, query = _leak_flags(split, frame)
    hit, query = hit & aug, query & aug & ~hit
    kept = frame.filter(~(hit | query))
    return rows.with_frame(kept), {"held_out_triple": int(hit.sum()), "held_out_query": int(query.sum())}


def fuse_search(
    train: SearchLog,
    augmented: SearchLog,
    *,
    ratio: float | None = None,
    weight: float | None = None,
    seed: int = 0,
    split: SearchSplit | None = None,
    held_out: HeldOut = "drop",
) -> tuple[SearchLog, dict[str, Any]]:
    """``(fused, report)``: the real training rows plus augmented rows (see the module docstring).

    ``ratio``: at most ``floor(ratio * real rows)`` augmented rows, those with the smallest
    seeded hash of their (user, item, timestamp, view) key (ties by query and source), so the
    choice does not depend on row order; ``weight``: the ``weight`` of augmented rows (real rows 1.0); ``split``:
    drop (``held_out="drop"``) or refuse (``"error"``) augmented rows with held-out keys, then
    assert none is left. The inputs are never modified.
    """
    if ratio is not None and ratio < 0:
        raise ConfigError(f"ratio must be >= 0, got {ratio}")
    if weight is not None and not (weight >= 0 and np.isfinite(weight)):
        raise ConfigError(f"weight must be a finite number >= 0, got {weight}")
    if held_out not in ("drop", "error"):
        raise ConfigError(f"held_out must be 'drop' or 'error', got {held_out!r}")
    aug = augmented.frame
    if len(aug) and (aug.get_column(C.SOURCE) == C.REAL).any():
        raise DataError("augmented rows must not have source 'real'", column=C.SOURCE, expected="the augmenter's name")
    report: dict[str, Any] = {"real_rows": len(train), "augmented_in": len(aug), "dropped": {}}
    if split is not None:
        if held_out == "error":
            assert_no_search_leakage(split, aug)
        else:
            kept, counts = drop_search_leakage(split, augmented)
            aug = kept.frame
            report["dropped"].update(counts)
            if sum(counts.values()):
                logger.warning("fuse_search: dropped %s augmented row(s) with held-out keys", counts)
    if ratio is not None:
        cap = int(np.floor(ratio * len(train)))
        if len(aug) > cap:
            views = aug.get_column(VIEW).fill_null(0).to_numpy() if VIEW in aug.columns else 0
            keys = view_keys(row_keys(aug.get_column(C.USER).to_numpy(), aug.get_column(C.ITEM).to_numpy(),
                                      aug.get_column(C.TIME).to_numpy()), views)
            ranked = aug.with_row_index("_row").with_columns(pl.Series("_u", hash_uniform(seed, keys)))
            chosen = ranked.sort(["_u", C.QUERY, C.SOURCE], maintain_order=True).head(cap).get_column("_row")
            report["dropped"]["ratio"] = len(aug) - cap
            aug = aug[np.sort(chosen.to_numpy())]
    real = train.frame
    if weight is not None:
        if C.WEIGHT not in real.columns:
            real = real.with_columns(pl.lit(1.0, dtype=pl.Float32).alias(C.WEIGHT))
        aug = aug.with_columns(pl.lit(float(weight), dtype=pl.Float32).alias(C.WEIGHT))
    # augmented rows first among rows of equal (user, time): a model whose history of an event is "the
    # user's real events before it" (PersonalSearch) then never puts a view's own source item in its history
    fused = pl.concat([aug, real], how="diagonal_relaxed").sort([C.USER, C.TIME], maintain_order=True)
    result = train.with_frame(fused)
    if split is not None:
        assert_no_search_leakage(split, result)
    counts = fused.group_by(C.SOURCE).len().sort(C.SOURCE)
    report["rows_out"] = dict(zip(counts.get_column(C.SOURCE).to_list(), counts.get_column("len").to_list(),
                                  strict=True))
    report["augmented_out"] = len(aug)
    report["settings"] = {"ratio": ratio, "weight": weight, "seed": seed, "held_out": held_out}
    return result, report


def augment_search_training(
    split: SearchSplit,
    augmenter: SearchAugmenter | dict[str, Any],
    *,
    seed: int,
    n_views: int = 1,
    ratio: float | None = None,
    weight: float | None = None,
    held_out: HeldOut = "drop",
) -> tuple[SearchLog, SearchLog, dict[str, Any]]:
    """Fit ``augmenter`` on ``split.train`` only, augment the training rows, fuse them back.

    Returns ``(fused training log, augmented rows, report)``; see :func:`fuse_search` for
    ``ratio``, ``weight`` and ``held_out`` (held-out keys are checked against ``split``).
    """
    aug = search_augmenter_from_config(augmenter)
    t0 = time.perf_counter()
    aug.fit(split.train)
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = aug.augment(split.train, seed=seed, n_views=n_views)
    augment_seconds = time.perf_counter() - t0
    fused, report = fuse_search(split.train, rows, ratio=ratio, weight=weight, seed=seed, split=split,
                                held_out=held_out)
    report.update({"augmenter": aug.config(), "n_views": int(n_views), "seed": int(seed),
                   "seconds": {"fit": fit_seconds, "augment": augment_seconds}})
    return fused, rows, report


# -- behaviour side ------------------------------------------------------------------------------
def real_histories(search_log: SearchLog) -> SearchLog:
    """The rows a personalised model may build user histories from: real rows of real users."""
    frame = search_log.frame
    keep = pl.col(C.USER) < search_log.vocab.n_users
    if C.SOURCE in frame.columns:
        keep = keep & (pl.col(C.SOURCE) == C.REAL)
    return search_log.with_frame(frame.filter(keep))


def augment_search_histories(
    train: SearchLog,
    augmenter: Augmenter | dict[str, Any],
    *,
    seed: int,
    n_views: int = 1,
    keep_original: bool = True,
    fit: bool = True,
) -> ExpandedSequences:
    """The user histories a personalised search model reads, through a :mod:`recaug.expand` augmenter.

    A history is the items of one user's real training searches in time order
    (:func:`real_histories`; pseudo-query and other augmented rows are left out). This is
    :func:`recaug.expand.expand_training` on them: ``augmenter`` (an ``Augmenter`` or its config,
    e.g. ``{"op": "crop", "eta": 0.6}``) is fitted on these histories only when ``fit``; rows are
    grouped by user, original first (``view`` 0) when ``keep_original``; ``sequences.users`` is
    the user code and ``sequences.source`` the op path. A personalised model trains on each row
    as one history of that user (e.g. the history before the user's next search).
    """
    from recaug.data.interactions import Interactions
    from recaug.expand import expand_training, from_config

    aug = from_config(augmenter) if isinstance(augmenter, dict) else augmenter
    frame = real_histories(train).frame.select(C.USER, C.ITEM, C.TIME, C.SOURCE)
    return expand_training(Interactions(frame), aug, n_views=n_views, seed=seed, keep_original=keep_original, fit=fit)


__all__ = [
    "ORIGIN_QUERY",
    "VIEW",
    "QueryOperation",
    "SearchAugmenter",
    "SearchCompose",
    "SearchOneOf",
    "SearchUnion",
    "TermBatch",
    "assert_no_search_leakage",
    "augment_search_histories",
    "augment_search_training",
    "available_search_augmenters",
    "drop_search_leakage",
    "fuse_search",
    "pseudo_user",
    "real_histories",
    "register_search_augmenter",
    "search_augmenter_from_config",
]
