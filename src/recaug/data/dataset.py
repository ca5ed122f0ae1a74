"""``Dataset``: interactions + item table + user table + vocabulary, saved as a folder.

Folder format: ``interactions.parquet``, ``items.parquet``, ``users.parquet``,
``vocab_users.parquet``, ``vocab_items.parquet``, ``schema.json`` and a readable
``summary.md``. Writes are atomic (temp folder, then rename).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from recaug import __version__
from recaug import columns as C
from recaug.atomic import atomic_dir
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.data.vocabulary import Vocabulary
from recaug.errors import DataError

FORMAT_VERSION = 1


def _empty_items(vocab: Vocabulary) -> pl.DataFrame:
    return pl.DataFrame({C.ITEM: np.arange(vocab.n_items, dtype=np.int32) + C.N_RESERVED})


def _empty_users(vocab: Vocabulary) -> pl.DataFrame:
    return pl.DataFrame({C.USER: np.arange(vocab.n_users, dtype=np.int32)})


#: the kinds of ``timestamp`` a dataset can hold (see ``Dataset.time_kind``)
TIME_KINDS = ("clock", "position")


@dataclass(eq=False)
class Dataset:
    """Everything known about one log: who did what, and what the items and users are."""

    interactions: Interactions
    vocab: Vocabulary
    items: pl.DataFrame = field(default=None)  # type: ignore[assignment]
    users: pl.DataFrame = field(default=None)  # type: ignore[assignment]
    name: str = "dataset"
    #: what ``timestamp`` holds: ``"clock"`` (times) or ``"position"`` (formats without times,
    #: e.g. S3Rec/SASRec files, where it is the index in the user's sequence)
    time_kind: str = "clock"

    def __post_init__(self) -> None:
        if self.time_kind not in TIME_KINDS:
            raise DataError(f"time_kind must be one of {TIME_KINDS}, got {self.time_kind!r}")
        if self.items is None:
            self.items = _empty_items(self.vocab)
        if self.users is None:
            self.users = _empty_users(self.vocab)
        if C.ITEM not in self.items.columns:
            raise DataError("item table lacks item_id", column=C.ITEM)
        if C.USER not in self.users.columns:
            raise DataError("user table lacks user_id", column=C.USER)
        self.items = self.items.with_columns(pl.col(C.ITEM).cast(pl.Int32)).sort(C.ITEM)
        self.users = self.users.with_columns(pl.col(C.USER).cast(pl.Int32)).sort(C.USER)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        *,
        items: pl.DataFrame | None = None,
        users: pl.DataFrame | None = None,
        name: str = "dataset",
    ) -> Dataset:
        """Build from a frame with canonical column names holding *original* ids.

        ``items``/``users`` tables (optional) are keyed by original ``item_id``/``user_id``;
        rows for ids that never occur in ``frame`` are dropped from them, ids in ``frame``
        that the tables lack get nulls.
        """
        for col in (C.USER, C.ITEM):
            if col not in frame.columns:
                raise DataError(f"missing column {col!r}; have {frame.columns}", column=col)
            if frame.get_column(col).null_count():
                row = int(frame.get_column(col).is_null().arg_true()[0])
                raise DataError("null id", row=row, column=col, expected="non-null ids")
        if C.TIME not in frame.columns:
            frame = frame.with_columns(pl.int_range(pl.len()).over(C.USER).cast(pl.Int64).alias(C.TIME))
        vocab = Vocabulary.build(frame.get_column(C.USER), frame.get_column(C.ITEM))
        coded = frame.with_columns(
            vocab.encode_users(frame.get_column(C.USER)).alias(C.USER),
            vocab.encode_items(frame.get_column(C.ITEM)).alias(C.ITEM),
        )
        item_table = _empty_items(vocab)
        if items is not None:
            side = items.with_columns(vocab.encode_items(items.get_column(C.ITEM), strict=False).alias(C.ITEM))
            side = side.filter(pl.col(C.ITEM).is_not_null()).unique(C.ITEM, keep="first", maintain_order=True)
            item_table = item_table.join(side, on=C.ITEM, how="left")
        user_table = _empty_users(vocab)
        if users is not None:
            side = users.with_columns(vocab.encode_users(users.get_column(C.USER), strict=False).alias(C.USER))
            side = side.filter(pl.col(C.USER).is_not_null()).unique(C.USER, keep="first", maintain_order=True)
            user_table = user_table.join(side, on=C.USER, how="left")
        return cls(Interactions(coded), vocab, item_table, user_table, name=name)

    # -- views ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, users={self.vocab.n_users}, items={self.vocab.n_items}, "
            f"interactions={len(self.interactions)})"
        )

    def sequences(self) -> Sequences:
        """The interactions as one time-ordered row per user."""
        return Sequences.from_interactions(self.interactions)

    def with_original_ids(self) -> pl.DataFrame:
        """The interactions with ``user_id``/``item_id`` decoded back to the original ids."""
        f = self.interactions.frame
        return f.with_columns(
            self.vocab.decode_users(f.get_column(C.USER).to_numpy()).alias(C.USER),
            self.vocab.decode_items(f.get_column(C.ITEM).to_numpy()).alias(C.ITEM),
        )

    def item_categories(self) -> pl.Series | None:
        """Category per item code (index = code), or None when items have no category."""
        if C.CATEGORY not in self.items.columns:
            return None
        full = pl.DataFrame({C.ITEM: np.arange(self.vocab.item_space, dtype=np.int32)}).join(
            self.items.select(C.ITEM, C.CATEGORY), on=C.ITEM, how="left"
        )
        return full.get_column(C.CATEGORY)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the folder format atomically; refuses an existing folder unless ``force``."""
        path = Path(path)
        with atomic_dir(path, force=force) as tmp:
            self.interactions.frame.write_parquet(tmp / "interactions.parquet")
            self.items.write_parquet(tmp / "items.parquet")
            self.users.write_parquet(tmp / "users.parquet")
            pl.DataFrame({"original": self.vocab.users}).write_parquet(tmp / "vocab_users.parquet")
            pl.DataFrame({"original": self.vocab.items}).write_parquet(tmp / "vocab_items.parquet")
            schema = {
                "format": "recaug-dataset",
                "format_version": FORMAT_VERSION,
                "recaug_version": __version__,
                "name": self.name,
                "time_kind": self.time_kind,
                "n_users": self.vocab.n_users,
                "n_items": self.vocab.n_items,
                "n_interactions": len(self.interactions),
                "reserved_item_ids": {"PAD": C.PAD_ID, "MASK": C.MASK_ID},
                "tables": {
                    "interactions": {k: str(v) for k, v in self.interactions.frame.schema.items()},
                    "items": {k: str(v) for k, v in self.items.schema.items()},
                    "users": {k: str(v) for k, v in self.users.schema.items()},
                },
            }
            (tmp / "schema.json").write_text(json.dumps(schema, indent=2), encoding="utf-8")
            (tmp / "summary.md").write_text(self._summary_markdown(), encoding="utf-8")
        return path

    def _summary_markdown(self) -> str:
        from recaug.data.describe import describe, describe_markdown

        return describe_markdown(describe(self))

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        schema_file = path / "schema.json"
        if not schema_file.is_file():
            raise DataError("not a recaug dataset folder", file=schema_file, expected="schema.json")
        try:
            schema = json.loads(schema_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"unreadable schema.json: {exc}", file=schema_file) from None
        if schema.get("format") != "recaug-dataset":
            raise DataError("schema.json is not a recaug dataset schema", file=schema_file)

        def read(name: str) -> pl.DataFrame:
            f = path / name
            if not f.is_file():
                raise DataError("missing table", file=f, expected="a Parquet file")
            try:
                return pl.read_parquet(f)
            except Exception as exc:
                raise DataError(f"unreadable Parquet: {exc}", file=f) from None

        vocab = Vocabulary(
            read("vocab_users.parquet").get_column("original"), read("vocab_items.parquet").get_column("original")
        )
        return cls(
            Interactions(read("interactions.parquet"), sort=False),
            vocab,
            read("items.parquet"),
            read("users.parquet"),
            name=schema.get("name", path.name),
            time_kind=schema.get("time_kind", "clock"),  # folders written before it existed
        )
