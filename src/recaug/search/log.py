"""``SearchLog``: rows of (user, query text, item, time[, event]) plus the item table, and its readers.

A search log is a :class:`~recaug.data.Dataset` whose interactions all carry a non-blank
``query``: one row per search that ended on an item (a click or a purchase). It keeps the
dataset's vocabulary, so ``user_id`` / ``item_id`` are the usual dense codes (items from 2;
PAD = 0 and MASK = 1 never occur), and its item table (``Dataset.items``) is where retrieval
models find item text (by default the ``text`` column, see :mod:`recaug.search.item_text`).
On disk it is the dataset folder format, so ``recaug data describe`` reads it too.

Readers: :func:`read_search_log` takes CSV / TSV / Parquet / JSON lines with the same column
mapping as ``recaug data import`` (``user_col``, ``item_col``, ``query_col``, ``time_col``,
``event_col``; guessed from usual names when omitted: ``query``, ``search_query``,
``search_term``, ``keywords`` for the query) or a saved folder. A row without a query (null or
only whitespace) is an error naming the file, the row (1-based line number for text files with
a header, record number for Parquet/JSON lines) and the column, unless
``missing_queries="drop"``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.data.vocabulary import Vocabulary
from recaug.errors import ConfigError, DataError

log = logging.getLogger("recaug.search")

#: what to do with rows that have no query
MISSING_QUERY_POLICIES = ("error", "drop")
#: input formats :func:`read_search_log` understands
SEARCH_LOG_FORMATS = ("auto", "csv", "tsv", "parquet", "jsonl")


def _blank(column: pl.Series) -> pl.Series:
    """Null or whitespace-only values."""
    return column.is_null() | (column.str.strip_chars().str.len_chars() == 0)


@dataclass(eq=False)
class SearchLog:
    """A dataset whose every interaction is a search: user, ``query`` text, item, time [, event]."""

    dataset: Dataset

    def __post_init__(self) -> None:
        frame = self.dataset.interactions.frame
        if C.QUERY not in frame.columns:
            raise DataError(
                "a search log needs a query column", column=C.QUERY,
                expected=f"interactions with a {C.QUERY!r} column; have {frame.columns}",
            )
        blank = _blank(frame.get_column(C.QUERY))
        if blank.any():
            row = int(blank.arg_true()[0])
            raise DataError(
                f"{int(blank.sum())} search row(s) without a query", row=row, column=C.QUERY,
                expected="a non-blank query on every row (SearchLog.from_dataset(..., missing='drop') drops them)",
            )

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dataset(cls, dataset: Dataset, *, missing: str = "error") -> SearchLog:
        """The rows of ``dataset`` that carry a query; ``missing="drop"`` drops the others (logged)."""
        if missing not in MISSING_QUERY_POLICIES:
            raise ConfigError(f"missing must be one of {MISSING_QUERY_POLICIES}, got {missing!r}")
        frame = dataset.interactions.frame
        if C.QUERY not in frame.columns:
            raise DataError(f"dataset {dataset.name!r} has no query column", column=C.QUERY,
                            expected=f"interactions with a {C.QUERY!r} column; have {frame.columns}")
        if missing == "drop":
            keep = ~_blank(frame.get_column(C.QUERY))
            dropped = len(frame) - int(keep.sum())
            if dropped:
                log.info("%s: kept %d search rows, dropped %d without a query", dataset.name,
                         len(frame) - dropped, dropped)
                dataset = Dataset(Interactions(frame.filter(keep), sort=False), dataset.vocab,
                                  dataset.items, dataset.users, name=dataset.name, time_kind=dataset.time_kind)
        return cls(dataset)

    def with_frame(self, frame: pl.DataFrame) -> SearchLog:
        """Another log over the same vocabulary and item table (e.g. one part of a split)."""
        d = self.dataset
        return SearchLog(Dataset(Interactions(frame, sort=False), d.vocab, d.items, d.users,
                                 name=d.name, time_kind=d.time_kind))

    # -- views ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.dataset.interactions)

    def __repr__(self) -> str:
        return (f"SearchLog({self.name!r}, events={len(self)}, users={self.n_users}, "
                f"queries={self.frame.get_column(C.QUERY).n_unique()}, items={self.vocab.n_items})")

    @property
    def name(self) -> str:
        """Dataset name."""
        return self.dataset.name

    @property
    def interactions(self) -> Interactions:
        """The search events as ``Interactions`` (with the ``query`` column)."""
        return self.dataset.interactions

    @property
    def frame(self) -> pl.DataFrame:
        """The search events as a Polars frame."""
        return self.dataset.interactions.frame

    @property
    def vocab(self) -> Vocabulary:
        """User and item codes."""
        return self.dataset.vocab

    @property
    def items(self) -> pl.DataFrame:
        """The item table keyed by ``item_id`` code (text columns for retrieval live here)."""
        return self.dataset.items

    @property
    def item_space(self) -> int:
        """Number of item codes including PAD and MASK (columns of every score matrix)."""
        return self.dataset.vocab.item_space

    @property
    def n_users(self) -> int:
        """Distinct users with at least one search."""
        return self.dataset.interactions.n_users

    @property
    def queries(self) -> pl.Series:
        """Query text per event, as logged."""
        return self.frame.get_column(C.QUERY)

    @property
    def users(self) -> np.ndarray:
        """``user_id`` code per event."""
        return self.dataset.interactions.users

    @property
    def targets(self) -> np.ndarray:
        """``item_id`` code per event (the item the search ended on)."""
        return self.dataset.interactions.items

    def query_keys(self) -> pl.Series:
        """Normalised query per event (its words joined by spaces): what "same query" means."""
        from recaug.search.tokenize import normalize

        return normalize(self.queries).alias("query_key")

    def item_text(self, column: str = "text") -> pl.Series:
        """Text per item code (index = code, PAD/MASK and items without text are null)."""
        if column not in self.items.columns:
            raise DataError(f"the item table has no text column {column!r}", column=column,
                            expected=f"one of {self.items.columns} (see recaug.search.item_text)")
        full = pl.DataFrame({C.ITEM: np.arange(self.item_space, dtype=np.int32)}).join(
            self.items.select(C.ITEM, pl.col(column).cast(pl.Utf8)), on=C.ITEM, how="left", maintain_order="left"
        )
        return full.get_column(column)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the dataset folder format (Parquet tables + ``schema.json`` + ``summary.md``)."""
        return self.dataset.save(path, force=force)

    @classmethod
    def load(cls, path: str | Path) -> SearchLog:
        """Read a folder written by :meth:`save` (or any saved dataset whose rows all have queries)."""
        try:
            return cls(Dataset.load(path))
        except DataError as exc:
            if exc.file is None:
                exc.file = str(Path(path) / "interactions.parquet")
                exc.args = (str(exc),)
            raise


def _guess_search_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    return "csv"


def read_search_log(
    src: str | Path,
    format: str = "auto",
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    query_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    sep: str | None = None,
    item_side: str | Path | None = None,
    name: str | None = None,
    missing_queries: str = "error",
) -> SearchLog:
    """Read a search log file (CSV / TSV / Parquet / JSON lines) or a saved search-log folder.

    Column options map input columns onto the canonical ones exactly as ``recaug data import``
    does; ``item_side`` adds an item table (for example with a ``text`` column); the format is
    guessed from the file extension with ``"auto"``. See the module docstring for the error rules.
    """
    from recaug.data.io.files import require_file
    from recaug.data.io.frames import dataset_from_table
    from recaug.data.io.generic import read_delimited_table, read_jsonl_table, read_parquet_table
    from recaug.data.io.items import read_item_table
    from recaug.data.io.options import Options
    from recaug.data.io.schema import resolve_column

    if missing_queries not in MISSING_QUERY_POLICIES:
        raise ConfigError(f"missing_queries must be one of {MISSING_QUERY_POLICIES}, got {missing_queries!r}")
    path = Path(src)
    if path.is_dir():
        return SearchLog.load(path)
    if format not in SEARCH_LOG_FORMATS:
        raise ConfigError(f"unknown search-log format {format!r}; choose one of {SEARCH_LOG_FORMATS}")
    started = time.perf_counter()
    path = require_file(path)
    fmt = _guess_search_format(path) if format == "auto" else format
    if fmt in ("csv", "tsv"):
        raw, _ = read_delimited_table(path, sep or ("\t" if fmt == "tsv" else None))
        first_row = 2
    elif fmt == "parquet":
        raw, first_row = read_parquet_table(path), 1
    else:
        raw, first_row = read_jsonl_table(path), 1
    qcol = resolve_column(C.QUERY, query_col, list(raw.columns), file=path)
    if qcol is None:
        raise DataError("no query column found", file=path, column=C.QUERY,
                        expected=f"a column named query, search_query, search_term or keywords (or pass "
                        f"query_col=...); have {list(raw.columns)}")
    queries = raw.get_column(qcol)
    if queries.dtype != pl.Utf8:
        queries = queries.cast(pl.Utf8)
    blank = _blank(queries)
    if blank.any() and missing_queries == "error":
        row = int(blank.arg_true()[0])
        raise DataError(
            f"row has no query ({int(blank.sum())} such row(s) in all)", file=path, row=first_row + row,
            column=qcol, expected="a non-blank query on every row (or missing_queries='drop')",
        )
    if blank.all():
        raise DataError("no row has a query", file=path, column=qcol, expected="search rows with queries")
    # blank queries become null and are dropped after conversion, so later errors keep file row numbers
    raw = raw.with_columns(pl.when(~blank).then(queries).alias(qcol))
    opts = Options(user_col=user_col, item_col=item_col, time_col=time_col, event_col=event_col,
                   query_col=qcol, sep=sep, item_side=item_side, name=name)
    items = read_item_table(item_side) if item_side is not None else None
    dataset = dataset_from_table(raw, file=path, first_row=first_row, requested=opts.requested(), items=items,
                                 name=opts.dataset_name(path), started=started)
    if resolve_column(C.TIME, time_col, list(raw.columns), file=path) is None:
        dataset.time_kind = "position"  # no time column: timestamp is the row's position per user
    return SearchLog.from_dataset(dataset, missing="drop")

