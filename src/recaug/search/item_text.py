"""Item text for retrieval: the words a text model (BM25 ...) may match a query against.

:func:`build_item_text` concatenates chosen columns of an item table (strings, or lists of
strings joined by spaces) into one ``text`` string per item, skipping nulls and the placeholder
``<attr:N>`` names of unnamed Amazon attributes. Tokenising happens later, in the model, with
:func:`recaug.search.tokenize.tokenize` (lowercase, letters only).

What each built-in source uses (``TEXT_FIELDS``; the S3-Rec reader gives these item columns):

* **beauty**: ``brand`` (``brand_guess``; ``Unknown`` is a literal Amazon brand and is kept),
  ``categories`` (the category path; on Beauty it is exactly the item's S3-Rec attribute names
  other than the brand, so the attribute names add nothing beyond these two) and ``title``
  (the title-derived IDGenRec text of ``Beauty_item_text.tsv``).
* **sports**: ``attribute_names`` (the brand slot plus every category name of the item's S3-Rec
  attributes; unnamed ``<attr:N>`` entries, including the top-level category, are dropped) and
  ``title`` (``Sports_and_Outdoors_item_text.tsv``).
* **toys**: ``title`` only (``Toys_and_Games_item_text.tsv``); Toys attribute ids have no names.
* **demo** (the shop simulator): ``title`` (brand, adjective, product noun and model code) and
  ``category``.

Note for the Amazon category-path queries of :mod:`recaug.search.queries`: ``categories`` /
``attribute_names`` contain every query word of the item's own query, so BM25 over the full
text finds the target's category quickly but cannot separate the many items that share it;
``title`` alone is the harder, query-independent text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import DataError

log = logging.getLogger("recaug.search")

#: item columns joined into ``text`` for each built-in source (see the module docstring)
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "beauty": (C.BRAND, "categories", C.TITLE),
    "sports": ("attribute_names", C.TITLE),
    "toys": (C.TITLE,),
    "demo": (C.TITLE, C.CATEGORY),
}
#: Amazon attributes without a recovered name are written like this in the meta files
UNNAMED = r"^<attr:\d+>$"


def _field_text(items: pl.DataFrame, column: str) -> pl.Expr:
    dtype = items.schema[column]
    if isinstance(dtype, pl.List):
        words = pl.col(column).list.eval(
            pl.element().cast(pl.Utf8).filter(pl.element().is_not_null() & ~pl.element().str.contains(UNNAMED))
        )
        joined = words.list.join(" ")
    else:
        value = pl.col(column).cast(pl.Utf8)
        joined = pl.when(value.str.contains(UNNAMED)).then(None).otherwise(value)
    return pl.when(joined.str.strip_chars() == "").then(None).otherwise(joined)


def build_item_text(items: pl.DataFrame, fields: Sequence[str], *, name: str = "text") -> pl.Series:
    """One string per item row: the ``fields`` columns joined by spaces (nulls and ``<attr:N>`` skipped).

    An item with none of the fields gets null. A field missing from the table is a ``DataError``.
    """
    missing = [f for f in fields if f not in items.columns]
    if missing:
        raise DataError(f"item table lacks text field(s) {missing}", column=missing[0],
                        expected=f"columns among {items.columns}")
    if not fields:
        raise DataError("no text fields given", expected="at least one item column")
    parts = [_field_text(items, f) for f in fields]
    text = pl.concat_str(parts, separator=" ", ignore_nulls=True)
    out = items.select(pl.when(text.str.strip_chars() == "").then(None).otherwise(text).alias(name))
    return out.get_column(name)


def read_title_text(file: str | Path, dataset: Dataset) -> pl.DataFrame:
    """``(item_id code, title)`` from an Amazon ``*_item_text.tsv`` (``item_id  asin  text``).

    Items of the file that the dataset lacks are ignored; a file without ``item_id`` / ``text``
    columns is a ``DataError`` naming the column.
    """
    from recaug.data.io.files import require_file
    from recaug.data.io.generic import read_delimited_table

    path = require_file(file, what="item text file")
    raw, _ = read_delimited_table(path, "\t", quote_char=None)
    for column in (C.ITEM, "text"):
        if column not in raw.columns:
            raise DataError("item text file lacks a column", file=path, column=column,
                            expected=f"columns item_id, asin, text; have {raw.columns}")
    codes = dataset.vocab.encode_items(raw.get_column(C.ITEM), strict=False)
    table = pl.DataFrame({C.ITEM: codes, C.TITLE: raw.get_column("text")}).filter(pl.col(C.ITEM).is_not_null())
    unknown = raw.height - table.height
    if unknown:
        log.info("%s: %d item(s) not in the dataset ignored", path.name, unknown)
    return table.unique(C.ITEM, keep="first", maintain_order=True)


def with_item_text(dataset: Dataset, fields: Sequence[str], *, title_file: str | Path | None = None) -> Dataset:
    """The dataset with a ``title`` column (from ``title_file``, when given) and a ``text`` column.

    ``text`` is :func:`build_item_text` over ``fields``; fields the item table lacks after adding
    the titles are a ``DataError``.
    """
    items = dataset.items
    if title_file is not None:
        titles = read_title_text(title_file, dataset)
        items = items.drop(C.TITLE, strict=False).join(titles, on=C.ITEM, how="left", maintain_order="left")
    items = items.with_columns(build_item_text(items, fields).alias("text"))
    n_empty = int(items.get_column("text").is_null().sum())
    if n_empty:
        log.info("%s: %d of %d items have no text", dataset.name, n_empty, items.height)
    return Dataset(dataset.interactions, dataset.vocab, items, dataset.users, name=dataset.name,
                   time_kind=dataset.time_kind)
