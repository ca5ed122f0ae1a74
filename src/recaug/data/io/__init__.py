"""Readers for every supported input format, all returning a :class:`~recaug.data.Dataset`.

``read(path)`` guesses the format (and logs its guess on ``recaug.data.io``); ``FORMATS``
maps each format name to its reader; ``from_pandas`` / ``from_polars`` take in-memory
frames. Bad input raises :class:`recaug.errors.DataError` naming the file, the row (the
1-based line number for text files, the record number for Parquet/JSON, the 0-based index
for in-memory frames), the column and what was expected. See :mod:`recaug.data.io.convert`
for how timestamps are read (seconds vs milliseconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from recaug.data.dataset import Dataset
from recaug.data.io.amazon import read_amazon
from recaug.data.io.detect import guess_format
from recaug.data.io.diginetica import read_diginetica
from recaug.data.io.frames import from_pandas, from_polars
from recaug.data.io.generic import read_csv, read_jsonl, read_parquet, read_tsv
from recaug.data.io.movielens import read_movielens
from recaug.data.io.recbole import read_recbole
from recaug.data.io.s3rec import read_s3rec
from recaug.data.io.sasrec import read_sasrec
from recaug.data.io.taobao import read_taobao
from recaug.data.io.yoochoose import read_yoochoose
from recaug.errors import ConfigError, DataError

log = logging.getLogger("recaug.data.io")

#: Format name -> reader ``(src, **options) -> Dataset``.
FORMATS: dict[str, Callable[..., Dataset]] = {
    "csv": read_csv,
    "tsv": read_tsv,
    "parquet": read_parquet,
    "jsonl": read_jsonl,
    "s3rec": read_s3rec,
    "sasrec": read_sasrec,
    "movielens": read_movielens,
    "recbole": read_recbole,
    "taobao": read_taobao,
    "yoochoose": read_yoochoose,
    "diginetica": read_diginetica,
    "amazon": read_amazon,
}

#: Formats whose files may lack a header row (``no_header``).
NO_HEADER_FORMATS = ("csv", "tsv")


def read(
    src: str | Path,
    format: str = "auto",
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    category_col: str | None = None,
    rating_col: str | None = None,
    query_col: str | None = None,
    sep: str | None = None,
    no_header: bool = False,
    item_side: str | Path | None = None,
    name: str | None = None,
) -> Dataset:
    """Read ``src`` (file or folder) in ``format`` (a key of ``FORMATS``, or ``"auto"``) into a Dataset.

    ``*_col`` name input columns for the canonical ones (guessed from usual names when
    omitted), ``sep`` overrides the delimiter, ``no_header`` reads a CSV/TSV file without a
    header row (its columns are ``column_1``, ``column_2``, ...: map them with ``*_col``),
    ``item_side`` adds an item table (CSV/TSV/Parquet/JSON lines keyed by item id), ``name``
    names the dataset (default: file stem).
    """
    path = Path(src)
    if format == "auto":
        if not path.exists():
            from recaug.data.io.files import require_file

            require_file(path)
        format, reason = guess_format(path)
        log.info("read %s: guessed format %r (%s)", path, format, reason)
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; known: auto, {', '.join(FORMATS)}")
    if no_header and format not in NO_HEADER_FORMATS:
        raise ConfigError(
            f"no_header (--no-header) applies to {' and '.join(NO_HEADER_FORMATS)} files, not format {format!r}; "
            "pass format csv (--format csv) to read the file as a headerless table"
        )
    reader = FORMATS[format]
    try:
        return reader(
            path, user_col=user_col, item_col=item_col, time_col=time_col, event_col=event_col,
            category_col=category_col, rating_col=rating_col, query_col=query_col, sep=sep,
            no_header=no_header, item_side=item_side, name=name,
        )
    except DataError as exc:
        if exc.file is None:
            exc.file = str(path)
            exc.args = (str(exc),)
        raise


__all__ = ["FORMATS", "from_pandas", "from_polars", "read"]
