"""Error types with enough context to fix the input without reading a traceback."""

from __future__ import annotations


class RecaugError(Exception):
    """Base class of every error recaug raises on purpose."""

    exit_code = 3


class DataError(RecaugError, ValueError):
    """Bad input data: names the file, row, column and what was expected."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        file: object | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class ConfigError(RecaugError, ValueError):
    """Bad settings or command-line usage."""

    exit_code = 2


class NotFittedError(RecaugError, RuntimeError):
    """A verb (score, sample, augment ...) was called before ``fit``."""

    exit_code = 3


class LeakageError(RecaugError, AssertionError):
    """Held-out (validation or test) interactions appeared where only training data may be."""

    exit_code = 3


class OutputExistsError(RecaugError, FileExistsError):
    """Refusing to overwrite an existing output without ``force``."""

    exit_code = 2


class OutputError(RecaugError, OSError):
    """An output cannot be written (e.g. its folder is read-only); names the output path."""

    exit_code = 3
