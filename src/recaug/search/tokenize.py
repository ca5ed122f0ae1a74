"""The one tokenizer of product search, and the term vocabulary built on it.

Rule (used for queries, item text and query keys alike): lowercase the text, join an apostrophe
between two letters (``men's`` -> ``mens``), then take every maximal run of Unicode letters
(``\\p{L}+``) as a word. Digits, punctuation and symbols separate words and are dropped:
``"Creams & Moisturizers"`` -> ``creams moisturizers``, ``"5G Phone-Case"`` -> ``g phone case``.
A null text has no words. Everything runs as Polars string expressions over whole columns.

:class:`TermVocabulary` gives every distinct word a dense id (sorted order, so the ids do not
depend on row order) and turns token lists into CSR arrays or a sparse term-count matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl
import scipy.sparse as sp

from recaug.errors import DataError

#: a word: a maximal run of Unicode letters (after lowercasing and joining apostrophes)
WORD_PATTERN = r"\p{L}+"
_APOSTROPHE = r"(\p{L})['\u2019](\p{L})"


def as_text_series(texts: pl.Series | Iterable[str | None], name: str = "text") -> pl.Series:
    """``texts`` as a Utf8 Polars Series (a list, tuple, NumPy array or Series of strings/None)."""
    if isinstance(texts, pl.Series):
        series = texts
    else:
        series = pl.Series(name, list(texts), dtype=pl.Utf8)
    if series.dtype != pl.Utf8:
        if series.dtype == pl.Null:
            return series.cast(pl.Utf8)
        raise DataError(f"expected text, got a column of {series.dtype}", column=series.name or name,
                        expected="strings")
    return series


def tokenize(texts: pl.Series | Iterable[str | None]) -> pl.Series:
    """Words of every text as a ``list[str]`` Series (``[]`` for null or word-less texts)."""
    s = as_text_series(texts)
    words = (
        s.str.to_lowercase()
        .str.replace_all(_APOSTROPHE, "${1}${2}")
        .str.replace_all(_APOSTROPHE, "${1}${2}")  # overlapping matches (``o'neil's``)
        .str.extract_all(WORD_PATTERN)
    )
    return words.fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).alias(s.name)


def normalize(texts: pl.Series | Iterable[str | None]) -> pl.Series:
    """Every text as its words joined by single spaces: the key two queries are "the same" by.

    Each distinct text is tokenised once (logs repeat queries a lot); a null text gives ``""``.
    """
    s = as_text_series(texts)
    name = s.name
    s = s.fill_null("")
    distinct = s.unique()
    keys = pl.DataFrame({"t": distinct, "k": tokenize(distinct).list.join(" ")})
    out = pl.DataFrame({"t": s}).join(keys, on="t", how="left", maintain_order="left").get_column("k")
    return out.alias(name)


def dedupe_keep_last(tokens: pl.Series) -> pl.Series:
    """Token lists with repeated words removed, each word kept at its *last* occurrence.

    ``["hair", "care", "hair", "color"]`` -> ``["care", "hair", "color"]``.
    """
    frame = pl.DataFrame({"row": np.arange(len(tokens), dtype=np.int64), "w": tokens})
    flat = frame.explode("w").with_row_index("pos")
    keep = flat.filter(pl.col("w").is_not_null() & pl.struct("row", "w").is_last_distinct())
    grouped = keep.group_by("row", maintain_order=True).agg(pl.col("w").sort_by("pos"))
    out = frame.select("row").join(grouped, on="row", how="left", maintain_order="left").get_column("w")
    return out.fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).alias(tokens.name)


class TermVocabulary:
    """Dense ids ``0 .. len-1`` for words, in sorted order."""

    def __init__(self, terms: Sequence[str] | pl.Series) -> None:
        series = pl.Series("term", list(terms) if not isinstance(terms, pl.Series) else terms, dtype=pl.Utf8)
        if series.null_count():
            raise DataError("term vocabulary holds a null term", column="term", expected="strings")
        if series.n_unique() != len(series):
            raise DataError("term vocabulary repeats a term", column="term", expected="distinct terms")
        self.terms = series

    @classmethod
    def build(cls, tokens: pl.Series) -> TermVocabulary:
        """The sorted distinct words of a ``list[str]`` Series."""
        words = tokens.explode().drop_nulls().unique().sort()
        return cls(words)

    def __len__(self) -> int:
        return len(self.terms)

    def __repr__(self) -> str:
        return f"TermVocabulary({len(self)} terms)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermVocabulary) and self.terms.equals(other.terms)

    def encode(self, tokens: pl.Series) -> tuple[np.ndarray, np.ndarray]:
        """CSR ``(offsets, term_ids)`` of token lists; words outside the vocabulary are dropped."""
        n = len(tokens)
        flat = pl.DataFrame({"row": np.arange(n, dtype=np.int64), "term": tokens}).explode("term")
        mapping = pl.DataFrame({"term": self.terms, "id": np.arange(len(self), dtype=np.int64)})
        coded = flat.join(mapping, on="term", how="inner", maintain_order="left")
        rows = coded.get_column("row").to_numpy()
        ids = coded.get_column("id").to_numpy().astype(np.int64)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
        return offsets, ids

    def encode_lists(self, tokens: pl.Series) -> list[list[int]]:
        """Term ids per token list as Python lists (for libraries that take them); unknown words dropped."""
        n = len(tokens)
        mapping = pl.DataFrame({"term": self.terms, "id": np.arange(len(self), dtype=np.int64)})
        coded = (
            pl.DataFrame({"row": np.arange(n, dtype=np.int64), "term": tokens})
            .explode("term")
            .join(mapping, on="term", how="inner", maintain_order="left")
            .group_by("row", maintain_order=True)
            .agg("id")
        )
        full = pl.DataFrame({"row": np.arange(n, dtype=np.int64)}).join(coded, on="row", how="left",
                                                                         maintain_order="left")
        return full.get_column("id").fill_null(pl.lit([], dtype=pl.List(pl.Int64))).to_list()

    def count_matrix(self, tokens: pl.Series) -> sp.csr_matrix:
        """``(len(tokens), len(self))`` float32 CSR matrix of word counts (repeated words count twice)."""
        offsets, ids = self.encode(tokens)
        rows = np.repeat(np.arange(len(tokens), dtype=np.int64), np.diff(offsets))
        data = np.ones(len(ids), dtype=np.float32)
        matrix = sp.csr_matrix((data, (rows, ids)), shape=(len(tokens), len(self)), dtype=np.float32)
        matrix.sum_duplicates()
        return matrix
