"""Item side tables (category, brand, price, title ...) keyed by original ``item_id``."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from recaug import columns as C
from recaug.data.io import convert
from recaug.data.io.convert import Where
from recaug.data.io.files import require_file
from recaug.data.io.schema import resolve_column
from recaug.errors import DataError

log = logging.getLogger("recaug.data.io")

#: Input names for item-level columns (compared case-insensitively); first match wins.
ITEM_ALIASES: dict[str, tuple[str, ...]] = {
    C.CATEGORY: ("category", "top_category", "sub_category", "main_category", "category_id", "categoryid",
                 "cat", "cate_id", "genre"),
    C.BRAND: ("brand", "brand_guess", "brand_name", "manufacturer"),
    C.PRICE: ("price",),
    C.TITLE: ("title", "name", "product_name"),
}


def canonical_item_table(raw: pl.DataFrame, where: Where, *, item_col: str | None = None) -> pl.DataFrame:
    """Rename the item key and the known item columns to canonical names; keep other columns.

    Empty strings become null; ``price`` must be numeric (a leading ``$`` is allowed).
    """
    key = resolve_column(C.ITEM, item_col, list(raw.columns), file=where.file)
    out = raw.with_columns(convert.ids(raw.get_column(key), where, key).alias(key)).rename({key: C.ITEM})
    by_lower = {c.lower(): c for c in out.columns if c != C.ITEM}
    renames: dict[str, str] = {}
    for canon, aliases in ITEM_ALIASES.items():
        if canon in out.columns:
            continue
        for alias in aliases:
            if alias in by_lower and by_lower[alias] not in renames:
                renames[by_lower[alias]] = canon
                break
    out = out.rename(renames)
    text = [c for c, t in out.schema.items() if t == pl.Utf8 and c != C.ITEM]
    out = out.with_columns(pl.when(pl.col(text).str.strip_chars() == "").then(None).otherwise(pl.col(text)).name.keep())
    if C.PRICE in out.columns and out.schema[C.PRICE] == pl.Utf8:
        price = out.get_column(C.PRICE).str.strip_chars().str.strip_prefix("$").str.replace_all(",", "")
        out = out.with_columns(convert.numbers(price, where, C.PRICE).alias(C.PRICE))
    n_dup = out.height - out.get_column(C.ITEM).n_unique()
    if n_dup:
        log.warning("%s: %d row(s) repeat an item id; keeping the first of each", where.file, n_dup)
    return out.unique(C.ITEM, keep="first", maintain_order=True)


def read_item_table(src: str | Path) -> pl.DataFrame:
    """An item side file (CSV/TSV/Parquet/JSON lines, chosen by extension) as a canonical item table."""
    from recaug.data.io.generic import read_delimited_table, read_jsonl_table, read_parquet_table

    path = require_file(src, what="item side file")
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or suffixes.endswith(".pq"):
        raw, first_row = read_parquet_table(path), 1
    elif ".json" in suffixes:
        raw, first_row = read_jsonl_table(path), 1
    else:
        sep = "\t" if ".tsv" in suffixes else None
        raw, _ = read_delimited_table(path, sep)
        first_row = 2
    return canonical_item_table(raw, Where(path, first_row))


def check_known_items(side: pl.DataFrame, known: pl.Series, file: Path, first_row: int | None) -> None:
    """Raise ``DataError`` when the side table names items absent from the interactions.

    ``first_row`` is the reported row of the table's first record (None: no row numbers).
    """
    unknown = ~side.get_column(C.ITEM).is_in(known.implode())
    if unknown.any():
        i = int(unknown.arg_true()[0])
        raise DataError(
            f"item {side.get_column(C.ITEM)[i]!r} does not occur in the interactions "
            f"({int(unknown.sum())} unknown item(s) in all)",
            file=file,
            row=None if first_row is None else i + first_row,
            column=C.ITEM,
            expected="only items that occur in the interaction file",
        )



def merge_item_tables(tables: list[pl.DataFrame | None]) -> pl.DataFrame | None:
    """Full join on ``item_id``; a column already given by an earlier table is kept from that one."""
    merged: pl.DataFrame | None = None
    for table in tables:
        if table is None:
            continue
        if merged is None:
            merged = table
            continue
        extra = [c for c in table.columns if c == C.ITEM or c not in merged.columns]
        merged = merged.join(table.select(extra), on=C.ITEM, how="full", coalesce=True)
    return merged
