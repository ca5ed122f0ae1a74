"""The keyword options every reader accepts (the same as :func:`recaug.data.io.read`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypedDict

from recaug import columns as C
from recaug.errors import ConfigError


class ReadOptions(TypedDict, total=False):
    """Keyword options of every reader; all optional."""

    user_col: str | None
    item_col: str | None
    time_col: str | None
    event_col: str | None
    category_col: str | None
    rating_col: str | None
    query_col: str | None
    sep: str | None
    no_header: bool
    item_side: str | Path | None
    name: str | None


@dataclass(frozen=True)
class Options:
    """Validated reader options."""

    user_col: str | None = None
    item_col: str | None = None
    time_col: str | None = None
    event_col: str | None = None
    category_col: str | None = None
    rating_col: str | None = None
    query_col: str | None = None
    sep: str | None = None
    no_header: bool = False
    item_side: str | Path | None = None
    name: str | None = None

    @classmethod
    def of(cls, options: dict) -> Options:
        """From keyword arguments; unknown keys are a ``ConfigError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(f"unknown reader option(s) {unknown}; known: {sorted(known)}")
        return cls(**options)

    def requested(self) -> dict[str, str | None]:
        """Canonical role -> column name asked for by the caller (None = guess)."""
        return {
            C.USER: self.user_col,
            C.ITEM: self.item_col,
            C.TIME: self.time_col,
            C.EVENT: self.event_col,
            C.CATEGORY: self.category_col,
            C.RATING: self.rating_col,
            C.QUERY: self.query_col,
        }

    def dataset_name(self, path: Path) -> str:
        """The given name, else the file stem (folder name for folders)."""
        if self.name:
            return self.name
        stem = path.name
        for suffix in (".gz", ".parquet", ".csv", ".tsv", ".txt", ".jsonl", ".json", ".inter", ".dat"):
            stem = stem.removesuffix(suffix)
        return stem or "dataset"
