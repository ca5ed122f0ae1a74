"""Whitespace / token separated text read line by line, vectorised with Polars."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from recaug.data.io.files import decode_utf8, read_bytes
from recaug.errors import DataError


def read_lines(path: Path, *, encoding: str = "utf-8") -> pl.DataFrame:
    """Columns ``row`` (1-based line number) and ``line`` for every non-blank line."""
    data = read_bytes(path)
    text = decode_utf8(data, path) if encoding == "utf-8" else data.decode(encoding)
    frame = (
        pl.DataFrame({"line": [text]})
        .select(pl.col("line").str.split("\n"))
        .explode("line")
        .with_row_index("row", offset=1)
        .with_columns(pl.col("line").str.strip_chars_end("\r"))
        .filter(pl.col("line").str.strip_chars() != "")
    )
    if frame.height == 0:
        raise DataError("file is empty", file=path, expected="at least one row of data")
    return frame


def tokens(lines: pl.DataFrame, sep: str | None = None) -> pl.DataFrame:
    """One row per token: ``row``, ``pos`` (0-based token index in its line), ``token``.

    ``sep=None`` splits on runs of whitespace; otherwise on the literal ``sep``.
    """
    split = (
        pl.col("line").str.extract_all(r"\S+")
        if sep is None
        else pl.col("line").str.split(sep).list.eval(pl.element().str.strip_chars())
    )
    return (
        lines.select("row", split.alias("token"))
        .with_columns(pl.int_ranges(pl.col("token").list.len()).alias("pos"))
        .explode("token", "pos")
    )


def as_integers(tok: pl.DataFrame, path: Path, column: str, what: str) -> pl.DataFrame:
    """Add ``value`` (int64) to a token frame; the first non-integer token is a ``DataError``."""
    out = tok.with_columns(pl.col("token").cast(pl.Int64, strict=False).alias("value"))
    bad = out.filter(pl.col("value").is_null())
    if bad.height:
        row, pos, token = bad.row(0)[0], bad.get_column("pos")[0], bad.get_column("token")[0]
        raise DataError(
            f"token {pos + 1} {token!r} is not an integer ({bad.height} bad token(s) in all)",
            file=path,
            row=row,
            column=column,
            expected=what,
        )
    return out
