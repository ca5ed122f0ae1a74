"""File-level checks shared by every reader: existence, emptiness, encoding, header, delimiter.

Row numbers in errors raised for files are 1-based *line numbers* (the header, when there
is one, is line 1), so they match what an editor shows.
"""

from __future__ import annotations

import difflib
import gzip
from collections import Counter
from pathlib import Path

import polars as pl

from recaug.errors import DataError

#: Delimiters the sniffer considers, most common first.
DELIMITERS = (",", "\t", ";", "|")
_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe", " ": "space"}


def delimiter_name(sep: str) -> str:
    """Readable name of a delimiter (for messages)."""
    return _NAMES.get(sep, repr(sep))


def require_file(path: str | Path, *, what: str = "input file") -> Path:
    """The path as a ``Path``; raises ``DataError`` when it is missing, a folder, or empty."""
    path = Path(path)
    if not path.exists():
        hint = ""
        if path.parent.is_dir():
            close = difflib.get_close_matches(path.name, [p.name for p in path.parent.iterdir()], n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        raise DataError(f"{what} not found{hint}", file=path, expected="an existing file")
    if path.is_dir():
        raise DataError(f"{what} is a folder", file=path, expected="a file")
    if path.stat().st_size == 0:
        raise DataError("file is empty", file=path, expected="at least one row of data")
    return path


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in ``.gz``."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"cannot decompress: {exc}", file=path, expected="a complete gzip file") from None
    if not data.strip():
        raise DataError("file is empty", file=path, expected="at least one row of data")
    return data


def decode_utf8(data: bytes, path: Path) -> str:
    """Decode UTF-8 (a BOM is dropped), naming the line and byte of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise utf8_error(data, path, exc.start) from None


def utf8_error(data: bytes, path: Path, position: int | None = None) -> DataError:
    """A ``DataError`` pointing at the first byte of ``data`` that is not valid UTF-8."""
    if position is None:
        try:
            data.decode("utf-8")
            position = 0
        except UnicodeDecodeError as exc:
            position = exc.start
    line = data.count(b"\n", 0, position) + 1
    column = position - (data.rfind(b"\n", 0, position) + 1) + 1
    return DataError(
        f"byte 0x{data[position]:02x} at character {column} is not valid UTF-8",
        file=path,
        row=line,
        expected="UTF-8 text (re-encode the file, e.g. iconv -f latin1 -t utf-8)",
    )


def head_lines(path: Path, n: int = 20) -> list[str]:
    """The first ``n`` non-empty lines (decoded as UTF-8, bad bytes replaced), for sniffing."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            raw = fh.read(1 << 16)
    else:
        with path.open("rb") as fh:
            raw = fh.read(1 << 16)
    text = raw.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if len(raw) == 1 << 16 and lines:
        lines = lines[:-1]  # the last line may be cut
    return [ln for ln in lines if ln.strip()][:n]


def sniff_delimiter(path: Path, lines: list[str]) -> str:
    """The delimiter used by ``lines``; raises on lines that use another one (mixed delimiters)."""
    header = lines[0]
    counts = {d: header.count(d) for d in DELIMITERS}
    sep = max(DELIMITERS, key=lambda d: counts[d])
    if counts[sep] == 0:
        return ","  # one column
    check_consistent_delimiter(path, lines, sep)
    return sep


def check_consistent_delimiter(path: Path, lines: list[str], sep: str, first_line: int = 1) -> None:
    """Raise ``DataError`` at the first line whose field count or delimiter differs from line 1."""
    want = lines[0].count(sep)
    for offset, line in enumerate(lines[1:], start=1):
        if line.count(sep) == want:
            continue
        others = [d for d in DELIMITERS if d != sep and line.count(d) >= max(want, 1)]
        if others:
            raise DataError(
                f"mixed delimiters: this line is separated by {delimiter_name(others[0])}s "
                f"but the file uses {delimiter_name(sep)}s",
                file=path,
                row=first_line + offset,
                expected=f"{want + 1} fields separated by {delimiter_name(sep)}s on every line",
            )
        raise DataError(
            f"line has {line.count(sep) + 1} fields, the header has {want + 1}",
            file=path,
            row=first_line + offset,
            expected=f"{want + 1} fields separated by {delimiter_name(sep)}s",
        )


def check_unique_names(names: list[str], path: Path | None) -> None:
    """Raise ``DataError`` when a header names the same column twice."""
    dup = [name for name, k in Counter(names).items() if k > 1]
    if dup:
        raise DataError(
            f"duplicated column name(s) {dup} in the header {names}",
            file=path,
            row=1 if path is not None else None,
            column=dup[0],
            expected="unique column names",
        )


def locate_ragged_line(path: Path, sep: str) -> DataError | None:
    """An error at the first line whose number of fields differs from line 1 (vectorised), or None."""
    text = decode_utf8(read_bytes(path), path)
    lines = pl.Series("line", text.splitlines())
    counts = lines.str.count_matches(sep, literal=True)
    nonempty = lines.str.strip_chars().str.len_chars() > 0
    bad = ((counts != counts[0]) & nonempty).arg_true()
    if len(bad) == 0:
        return None
    idx = int(bad[0])
    try:
        check_consistent_delimiter(path, [lines[0], lines[idx]], sep, first_line=idx)
    except DataError as exc:
        return exc
    return DataError("could not parse the file as delimited text", file=path)  # pragma: no cover


def polars_error(exc: Exception, path: Path, sep: str | None = None) -> DataError:
    """Translate a Polars read error into a ``DataError`` that names the file (and line when possible)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "utf-8" in text.lower() or "utf8" in text.lower():
        return utf8_error(read_bytes(path), path)
    if sep is not None and "fields" in text:
        located = locate_ragged_line(path, sep)
        if located is not None:
            return located
    return DataError(f"cannot read the file: {text}", file=path)
