"""Column conversions with row-level errors: ids, integers, timestamps, numbers.

Timestamps become int64 **seconds** since the epoch:

* integers (or numeric strings) up to 4,102,444,800 (2100-01-01) are seconds;
* larger values up to 4,102,444,800,000 are milliseconds when every value is at least
  1e11 (1973-03-03 in milliseconds), and are divided by 1000 (floor);
* anything else (negative, beyond 2100 in milliseconds, or a mix that fits neither unit)
  raises ``DataError`` naming the first offending row;
* fractional seconds are floored; rows are first ordered by the exact value so that the
  order inside a second is kept;
* strings that are not numbers are parsed as ISO-8601 dates/datetimes (UTC when no zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from recaug.errors import DataError

#: 2100-01-01T00:00:00Z in seconds: later "seconds" are treated as out of range.
MAX_SECONDS = 4_102_444_800
#: Smallest value accepted as milliseconds (1973-03-03 in ms; year 5138 in seconds).
MIN_MILLISECONDS = 100_000_000_000
_MISSING = ("", "nan", "NaN", "NAN", "null", "NULL", "None", "NA", "N/A")


@dataclass(frozen=True)
class Where:
    """Where a column came from, to turn a 0-based row index into a reported row."""

    file: Path | None = None
    #: Reported row of index 0: 2 for a file with a header line, 1 without, 0 for in-memory frames.
    first_row: int = 0

    def error(self, message: str, index: int | None, column: str | None, expected: str) -> DataError:
        """A ``DataError`` at row ``index`` (0-based) of the column."""
        row = None if index is None else index + self.first_row
        return DataError(message, file=self.file, row=row, column=column, expected=expected)


def _first(mask: pl.Series) -> int:
    return int(mask.arg_true()[0])


def missing_mask(values: pl.Series) -> pl.Series:
    """True where a value is null, NaN, empty or a usual missing-value marker."""
    if values.dtype == pl.Utf8:
        return values.is_null() | values.str.strip_chars().is_in(_MISSING)
    if values.dtype.is_float():
        return values.is_null() | values.is_nan()
    return values.is_null()


def ids(values: pl.Series, where: Where, column: str, *, integer: bool = False) -> pl.Series:
    """Original ids as strings; no missing values; integers when ``integer`` (then normalised)."""
    miss = missing_mask(values)
    if miss.any():
        i = _first(miss)
        raise where.error(
            f"missing id ({miss.sum()} row(s) without one)", i, column, "an id on every row"
        )
    if values.dtype.is_integer():
        return values.cast(pl.Utf8)
    if values.dtype.is_float():
        bad = values != values.floor()
        if bad.any():
            i = _first(bad)
            raise where.error(f"id {values[i]!r} is not a whole number", i, column, "integer ids")
        return values.cast(pl.Int64).cast(pl.Utf8)
    text = values.cast(pl.Utf8).str.strip_chars()
    if integer:
        return integers(text, where, column, what="integer ids").cast(pl.Utf8)
    return text


def integers(values: pl.Series, where: Where, column: str, *, what: str = "integers") -> pl.Series:
    """Strict int64 conversion: the first value that is not an integer is reported with its row."""
    if values.dtype.is_integer():
        out = values.cast(pl.Int64)
    else:
        text = values.cast(pl.Utf8).str.strip_chars()
        out = text.cast(pl.Int64, strict=False)
        bad = out.is_null()
        if bad.any():
            i = _first(bad)
            raise where.error(f"value {values[i]!r} is not an integer", i, column, what)
    return out


def numbers(values: pl.Series, where: Where, column: str) -> pl.Series:
    """Strict float conversion (ratings, prices); missing values stay null."""
    if values.dtype.is_numeric():
        return values.cast(pl.Float64)
    text = values.cast(pl.Utf8).str.strip_chars()
    out = text.cast(pl.Float64, strict=False)
    bad = out.is_null() & ~missing_mask(text)
    if bad.any():
        i = _first(bad)
        raise where.error(f"value {values[i]!r} is not a number", i, column, "numbers")
    return out


def timestamps(values: pl.Series, where: Where, column: str) -> tuple[pl.Series, pl.Series | None]:
    """Int64 epoch seconds, plus an exact sort key when sub-second order would be lost (else None).

    See the module docstring for the seconds / milliseconds rule.
    """
    miss = missing_mask(values)
    if miss.any():
        i = _first(miss)
        raise where.error("missing timestamp", i, column, "a timestamp on every row")
    exact: pl.Series
    if values.dtype.is_temporal():
        exact = _datetime_seconds(values)
        return _check_range(exact.floor().cast(pl.Int64), where, column, unit="s"), exact
    if values.dtype.is_numeric():
        exact = values.cast(pl.Float64) if values.dtype.is_float() else values.cast(pl.Int64)
    else:
        text = values.cast(pl.Utf8).str.strip_chars()
        as_int = text.cast(pl.Int64, strict=False)
        if as_int.null_count() == 0:
            exact = as_int
        else:
            as_float = text.cast(pl.Float64, strict=False)
            if as_float.null_count() == 0:
                exact = as_float
            elif as_float.null_count() < len(as_float) and as_float[0] is not None:
                i = _first(as_float.is_null())
                raise where.error(f"value {values[i]!r} is not a number", i, column, "numeric timestamps")
            else:
                parsed = text.str.to_datetime(strict=False, time_zone="UTC")
                bad = parsed.is_null()
                if bad.any():
                    i = _first(bad)
                    raise where.error(
                        f"cannot parse {values[i]!r} as a time", i, column,
                        "unix seconds/milliseconds or ISO-8601 date-times",
                    )
                exact = _datetime_seconds(parsed)
                return _check_range(exact.floor().cast(pl.Int64), where, column, unit="s"), exact
    if exact.dtype.is_float():
        bad = exact.is_nan() | exact.is_infinite()
        if bad.any():
            i = _first(bad)
            raise where.error(f"timestamp {values[i]!r} is not a finite number", i, column, "finite numbers")
    unit = _unit(exact, where, column)
    seconds = exact / 1000 if unit == "ms" else exact
    fractional = exact.dtype.is_float() or unit == "ms"
    out = seconds.floor().cast(pl.Int64) if fractional else seconds.cast(pl.Int64)
    return out, (exact if fractional else None)


def _datetime_seconds(values: pl.Series) -> pl.Series:
    if values.dtype == pl.Date:
        return values.cast(pl.Datetime("ms")).dt.epoch("ms").cast(pl.Float64) / 1000
    return values.dt.epoch("ms").cast(pl.Float64) / 1000


def _unit(exact: pl.Series, where: Where, column: str) -> str:
    negative = exact < 0
    if negative.any():
        i = _first(negative)
        raise where.error(f"negative timestamp {exact[i]}", i, column, "times at or after 1970-01-01")
    hi = exact.max()
    if hi <= MAX_SECONDS:
        return "s"
    lo = exact.min()
    if hi <= MAX_SECONDS * 1000 and lo >= MIN_MILLISECONDS:
        return "ms"
    i = int(exact.arg_max()) if hi > MAX_SECONDS * 1000 else _first(exact > MAX_SECONDS)
    raise where.error(
        f"timestamp {exact[i]} is out of range: after 2100-01-01 in seconds, and "
        + ("after 2100 in milliseconds too" if hi > MAX_SECONDS * 1000 else
           f"other rows (e.g. {lo}) are too small for milliseconds"),
        i,
        column,
        "unix seconds (<= 4102444800) or milliseconds (1e11 .. 4.1e12) for the whole column",
    )


def _check_range(seconds: pl.Series, where: Where, column: str, unit: str) -> pl.Series:
    _unit(seconds, where, column)
    return seconds
