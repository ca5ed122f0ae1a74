"""Generic tables: CSV / TSV (any delimiter), Parquet and JSON lines with named columns."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug.data.dataset import Dataset
from recaug.data.io.files import (
    check_consistent_delimiter,
    check_unique_names,
    decode_utf8,
    delimiter_name,
    head_lines,
    locate_ragged_line,
    polars_error,
    read_bytes,
    require_file,
    sniff_delimiter,
)
from recaug.data.io.frames import dataset_from_table
from recaug.data.io.items import read_item_table
from recaug.data.io.options import Options, ReadOptions
from recaug.errors import DataError


def read_delimited_table(
    path: Path,
    sep: str | None,
    *,
    has_header: bool = True,
    new_columns: list[str] | None = None,
    quote_char: str | None = '"',
) -> tuple[pl.DataFrame, str]:
    """All-string frame of a delimited text file, with header, delimiter and ragged-line checks.

    ``new_columns`` (files without a header) also fixes how many fields each line must have.
    """
    lines = head_lines(path)
    if not lines:
        raise DataError("file is empty", file=path, expected="at least one row of data")
    if sep is None:
        sep = sniff_delimiter(path, lines)
    else:
        check_consistent_delimiter(path, lines, sep)
    if new_columns is not None and lines[0].count(sep) + 1 != len(new_columns):
        raise DataError(
            f"line has {lines[0].count(sep) + 1} field(s)",
            file=path,
            row=1,
            expected=f"{len(new_columns)} fields separated by {delimiter_name(sep)}s: {', '.join(new_columns)}",
        )
    if has_header:
        header = [h.strip().strip('"') for h in lines[0].split(sep)]
        check_unique_names(header, path)
    source: Path | bytes = read_bytes(path) if path.suffix == ".gz" else path
    try:
        raw = pl.read_csv(
            source,
            separator=sep,
            has_header=has_header,
            new_columns=new_columns,
            infer_schema=False,
            quote_char=quote_char,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise polars_error(exc, path, sep) from None
    if raw.height == 0:
        raise DataError("no data rows (only a header)", file=path, expected="at least one row of data")
    if raw.width > 1:
        collapsed = pl.all_horizontal(pl.col(raw.columns[1:]).is_null())
        if raw.select(collapsed.any()).item():
            located = locate_ragged_line(path, sep)
            if located is not None:
                raise located
    return raw, sep


def read_csv(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """A delimited text file with a header row (delimiter sniffed unless ``sep`` is given).

    ``no_header=True``: the first row is data and the columns are ``column_1``, ``column_2``, ...
    """
    return _read_delimited(src, None, options)


def read_tsv(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """A tab-separated file with a header row (or none, with ``no_header=True``)."""
    return _read_delimited(src, "\t", options)


#: The hint added to header errors of a file whose first row looks like data.
NO_HEADER_HINT = (
    "the first row looks like data, not a header: if the file has none, pass --no-header (no_header=True) "
    "and map the columns by position, e.g. --user-col column_1 --item-col column_2"
)


def _read_delimited(src: str | Path, default_sep: str | None, options: dict) -> Dataset:
    no_header = bool(options.get("no_header"))

    def load(path: Path, opts: Options) -> pl.DataFrame:
        raw = read_delimited_table(path, opts.sep or default_sep, has_header=not opts.no_header)[0]
        if opts.no_header:  # our own 1-based names, whatever the Polars version calls them
            raw = raw.rename({c: f"column_{k}" for k, c in enumerate(raw.columns, start=1)})
        return raw

    try:
        return _read_table(src, options, load, first_row=1 if no_header else 2)
    except DataError as exc:
        header_problem = exc.row == 1 or (exc.row is None and exc.column is not None)
        if not no_header and header_problem and _first_row_looks_like_data(Path(src)):
            exc.message = f"{exc.message}; {NO_HEADER_HINT}"
            exc.args = (str(exc),)
        raise


def _first_row_looks_like_data(path: Path) -> bool:
    """Whether a field of the first line is a number (headers name columns, they rarely are numbers)."""
    try:
        lines = head_lines(path, 1)
    except DataError:
        return False
    fields = re.split(r"[,;|\t]", lines[0]) if lines else []
    for field in fields:
        try:
            float(field.strip().strip('"'))
        except ValueError:
            continue
        return True
    return False


def _read_table(
    src: str | Path, options: dict, load: Callable[[Path, Options], pl.DataFrame], *, first_row: int
) -> Dataset:
    """Validate ``options``, check the file, ``load(path, opts)`` its raw table and build the Dataset."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    raw = load(path, opts)
    return _finish(raw, path, opts, first_row=first_row, started=started)


def read_parquet(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """A Parquet file (row numbers in errors are 1-based record numbers)."""
    return _read_table(src, options, lambda path, _: read_parquet_table(path), first_row=1)


def read_parquet_table(path: Path) -> pl.DataFrame:
    """The Parquet table, or a ``DataError`` for truncated / corrupt files."""
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"unreadable Parquet (truncated or corrupt?): {first}", file=path, expected="a complete Parquet file"
        ) from None


def read_jsonl(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """JSON lines, one object per line (``.gz`` allowed); errors give 1-based line numbers."""
    return _read_table(src, options, lambda path, _: read_jsonl_table(path), first_row=1)


def read_jsonl_table(path: Path, schema: dict | None = None) -> pl.DataFrame:
    """A frame from JSON lines; a bad line is located and reported."""
    data = read_bytes(path)
    decode_utf8(data, path)
    try:
        return pl.read_ndjson(io.BytesIO(data), schema=schema, infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise _locate_bad_json(data, path, exc) from None


def _locate_bad_json(data: bytes, path: Path, exc: Exception) -> DataError:
    # Error path only: find the first line that is not a JSON object.
    for number, line in enumerate(data.decode("utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            hint = " (single quotes: a Python literal, not JSON)" if line.lstrip().startswith("{'") else ""
            return DataError(f"not valid JSON{hint}: {err.msg}", file=path, row=number, expected="one JSON object per line")
        if not isinstance(obj, dict):
            return DataError("line is not a JSON object", file=path, row=number, expected="one JSON object per line")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"cannot read JSON lines: {first}", file=path)


def _finish(raw: pl.DataFrame, path: Path, opts: Options, *, first_row: int, started: float) -> Dataset:
    items = read_item_table(opts.item_side) if opts.item_side is not None else None
    return dataset_from_table(
        raw, file=path, first_row=first_row, requested=opts.requested(), items=items,
        name=opts.dataset_name(path), started=started,
    )
