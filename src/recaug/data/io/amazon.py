"""Amazon review dumps (McAuley lab): review JSON lines plus optional product metadata.

Reviews: ``reviewerID`` -> user, ``asin`` -> item, ``unixReviewTime`` -> timestamp,
``overall`` -> rating (the 2023 release's ``user_id`` / ``parent_asin`` / ``timestamp`` in
milliseconds / ``rating`` work too). Metadata (``item_side``, or ``meta_<Name>.json[.gz]``
found beside ``reviews_<Name>[_5].json[.gz]`` / ``<Name>[_5].json[.gz]``): ``title``,
``brand``, ``price`` and the category paths (2014 ``categories``: list of paths; 2018
``category``: one path). ``categories`` keeps the first path without its root and
``category`` is its first element (the top-level category below the root). Metadata for
items without reviews is dropped. The 2014 metadata files are Python literals, not JSON:
convert them to JSON lines first (the reader says so).
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io.convert import Where
from recaug.data.io.files import require_file
from recaug.data.io.frames import canonical_frame, to_dataset
from recaug.data.io.generic import read_jsonl_table
from recaug.data.io.items import canonical_item_table
from recaug.data.io.options import Options, ReadOptions
from recaug.data.io.schema import resolve_column

log = logging.getLogger("recaug.data.io")

_USER = ("reviewerID", "user_id")
_ITEM = ("asin", "parent_asin")
_TIME = ("unixReviewTime", "timestamp")
_RATING = ("overall", "rating")


def read_amazon(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read Amazon review JSON lines and (when given or found) the product metadata."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    raw = read_jsonl_table(path)
    cols = list(raw.columns)
    roles = {
        C.USER: resolve_column(C.USER, opts.user_col or _first(cols, _USER, "reviewerID"), cols, file=path),
        C.ITEM: resolve_column(C.ITEM, opts.item_col or _first(cols, _ITEM, "asin"), cols, file=path),
        C.TIME: resolve_column(C.TIME, opts.time_col or _first(cols, _TIME, "unixReviewTime"), cols, file=path),
    }
    rating = opts.rating_col or _first(cols, _RATING, None)
    if rating is not None:
        roles[C.RATING] = resolve_column(C.RATING, rating, cols, file=path)
    frame = canonical_frame(raw, roles, Where(path, 1))
    meta_path = Path(opts.item_side) if opts.item_side is not None else metadata_beside(path)
    items = read_metadata(meta_path) if meta_path is not None else None
    name = opts.name or re.sub(r"^reviews_|_5$", "", opts.dataset_name(path).removesuffix(".json"))
    return to_dataset(frame, items=items, name=name, source=path, started=started)


def metadata_beside(path: Path) -> Path | None:
    """``meta_<Name>.json[l][.gz]`` next to a review file, if there is one."""
    stem = path.name.split(".")[0]
    stem = re.sub(r"^reviews_", "", re.sub(r"_5$", "", stem))
    for ext in (".json", ".json.gz", ".jsonl", ".jsonl.gz"):
        candidate = path.with_name(f"meta_{stem}{ext}")
        if candidate.is_file():
            log.info("using item metadata %s", candidate)
            return candidate
    return None


def read_metadata(src: str | Path) -> pl.DataFrame:
    """Product metadata JSON lines -> item table (title, brand, price, category, categories)."""
    path = require_file(src, what="metadata file")
    raw = read_jsonl_table(path)
    keep = [c for c in ("asin", "title", "brand", "price", "categories", "category", "main_cat") if c in raw.columns]
    raw = raw.select(keep)
    if "categories" in raw.columns and raw.schema["categories"] == pl.List(pl.List(pl.Utf8)):
        raw = raw.with_columns(pl.col("categories").list.first())
    elif "category" in raw.columns and isinstance(raw.schema["category"], pl.List):
        raw = raw.rename({"category": "categories"})
    if "categories" in raw.columns and isinstance(raw.schema["categories"], pl.List):
        path_ = pl.col("categories")
        raw = raw.with_columns(
            pl.when(path_.list.len() > 1).then(path_.list.slice(1)).otherwise(path_).alias("categories")
        ).with_columns(pl.col("categories").list.first().alias(C.CATEGORY))
    if "price" in raw.columns and raw.schema["price"] != pl.Utf8:
        raw = raw.with_columns(pl.col("price").cast(pl.Float64))
    if "price" in raw.columns and raw.schema["price"] == pl.Utf8:
        # 2018 prices are strings like "$12.99" or "" or HTML; anything else is unknown, not an error
        raw = raw.with_columns(
            pl.col("price").str.strip_chars().str.strip_prefix("$").str.replace_all(",", "")
            .cast(pl.Float64, strict=False)
        )
    return canonical_item_table(raw, Where(path, 1), item_col=resolve_column(C.ITEM, "asin", keep, file=path))


def _first(columns: list[str], names: tuple[str, ...], default: str | None) -> str | None:
    return next((n for n in names if n in columns), default)
