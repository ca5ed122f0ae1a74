"""Built-in search logs: Amazon category-path queries (the HEM/TEM protocol) and the demo shop's queries.

**Category-path queries** (Ai et al., HEM, SIGIR 2017; Bi et al., TEM): Amazon has no public
search log, so every purchase (user, item) becomes a search event whose query is the item's
category path turned into words. :func:`category_path_query` does exactly this, per item:

1. take the path's category names in order (``Makeup|Nails|Nail Polish``);
2. tokenise with :func:`recaug.search.tokenize.tokenize` (lowercase; an apostrophe between
   letters is removed; maximal runs of letters are words; ``&``, ``,``, ``-``, digits separate
   words and are dropped): ``makeup nails nail polish``;
3. remove repeated words, keeping each at its **last** occurrence
   (``Hair Care|Hair Color`` -> ``care hair color``);
4. join with single spaces.

No stop words are removed (category names hardly contain any) and no stemming is done.

Where the path comes from (:func:`amazon_category_path`, on the S3-Rec reader's item table):

* **Beauty** (``Beauty_item_meta.tsv``, column ``categories``): one ``|``-separated category
  string per item. It is the item's S3-Rec attribute list without the brand, so it holds the
  categories that survived S3-Rec's attribute filter (at least 5 items per attribute) and no
  top-level "Beauty". The file has one such string per item; when Amazon listed several paths
  they appear merged (S3-Rec keeps each attribute id once), so in practice every item has a
  single path: 105 items have a 1-level path (``Fragrance``), 7,509 a 3-level one; only 2 items
  repeat a top-level name (``Skin Care|Skin Care|Face|...``, which step 3 deduplicates). All
  12,101 items have a path.
* **Sports** (``Sports_and_Outdoors_item_meta.tsv``, column ``attributes`` -> ``attribute_names``):
  the attribute names in S3-Rec order minus position 0 (the brand slot) and minus unnamed
  ``<attr:N>`` entries (among them attr 2, the top-level "Sports & Outdoors", so neither dataset
  has its root in the query). Categories occurring on several Amazon paths appear several times;
  step 3 keeps the last. 245 of 18,357 items have no named category left.
* An item **without any path word** gets the empty query ``""``; its purchases cannot become
  search events and are dropped from the log (the count is logged at INFO and returned by
  :func:`amazon_search_log` in ``log.dataset.name``'s log line). Toys has no category names, so no
  category-path log can be built for it.

Timestamps are positions in the user's sequence (the P1 files have no times); there is one
search event per purchase and no ``event`` column.

**Demo queries** (:func:`demo_search_log`): the shop simulator writes a short query on some views
(``"wireless mouse"``, brand + noun ...); the search log is those rows, with item text from the
title and category. It is the search arm of the demo data.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError, DataError
from recaug.search.item_text import TEXT_FIELDS, UNNAMED, with_item_text
from recaug.search.log import SearchLog
from recaug.search.tokenize import dedupe_keep_last, tokenize

log = logging.getLogger("recaug.search")

#: built-in Amazon sources: name -> (folder under the data root, file stem)
AMAZON_SOURCES: dict[str, tuple[str, str]] = {
    "beauty": ("amazon_beauty", "Beauty"),
    "sports": ("amazon_sports_outdoors", "Sports_and_Outdoors"),
}
#: every built-in search-log source
BUILTIN_SOURCES = (*AMAZON_SOURCES, "demo")
#: item column holding each item's category-path query
PATH_QUERY = "path_query"


def category_path_query(paths: pl.Series) -> pl.Series:
    """The query of each category path (``str`` with any separator, or ``list[str]`` of names).

    Lowercase letter-only words, repeated words kept at their last occurrence, joined by spaces;
    a null or word-less path gives ``""``. See the module docstring for the exact rule.
    """
    if isinstance(paths.dtype, pl.List):
        paths = paths.list.join(" ")
    return dedupe_keep_last(tokenize(paths)).list.join(" ").alias(paths.name or "query")


def amazon_category_path(items: pl.DataFrame) -> pl.Series:
    """Each item's category names (``list[str]``) from an S3-Rec item table (Beauty or Sports layout)."""
    if "categories" in items.columns:
        paths = items.get_column("categories")
        if paths.dtype == pl.Utf8:
            paths = paths.str.split("|")
        return paths.alias("path")
    if "attribute_names" in items.columns:
        names = items.get_column("attribute_names")
        if names.dtype == pl.Utf8:
            names = names.str.split("|")
        named = names.list.slice(1).list.eval(
            pl.element().filter(
                pl.element().is_not_null() & (pl.element().str.strip_chars() != "") & ~pl.element().str.contains(UNNAMED)
            )
        )
        return named.alias("path")
    raise DataError("the item table has no category names", column="categories",
                    expected="a 'categories' (Beauty) or 'attribute_names' (Sports) item column")


def search_log_from_item_queries(dataset: Dataset, item_queries: pl.Series) -> SearchLog:
    """Every interaction of ``dataset`` as a search whose query is its item's entry in ``item_queries``.

    ``item_queries`` is aligned with ``dataset.items`` rows; items with ``""`` or null drop their
    interactions (logged). The item table gains the column :data:`PATH_QUERY`.
    """
    items = dataset.items.with_columns(item_queries.alias(PATH_QUERY))
    frame = dataset.interactions.frame.drop(C.QUERY, strict=False).join(
        items.select(C.ITEM, pl.col(PATH_QUERY).alias(C.QUERY)), on=C.ITEM, how="left", maintain_order="left"
    )
    keep = frame.get_column(C.QUERY).fill_null("") != ""
    dropped = len(frame) - int(keep.sum())
    if dropped:
        n_items = int(items.filter(pl.col(PATH_QUERY).fill_null("") == "").height)
        log.info("%s: dropped %d of %d purchases on %d item(s) without a category-path query",
                 dataset.name, dropped, len(frame), n_items)
    coded = Dataset(Interactions(frame.filter(keep), sort=False), dataset.vocab, items, dataset.users,
                    name=dataset.name, time_kind=dataset.time_kind)
    return SearchLog(coded)


def amazon_search_log(sequence_file: str | Path, *, title_file: str | Path | None | bool = True) -> SearchLog:
    """The category-path search log of an S3-Rec Amazon file (``Beauty.txt``, ``Sports_and_Outdoors.txt``).

    Reads the file and its ``*_item_meta.tsv`` with the S3-Rec reader, builds each item's query
    with :func:`category_path_query` and adds item text (``title`` from ``<Name>_item_text.tsv``
    beside the file when ``title_file`` is True and the file exists, or from the given path;
    ``text`` from :data:`recaug.search.item_text.TEXT_FIELDS`).
    """
    from recaug.data.io import read

    path = Path(sequence_file)
    dataset = read(path, format="s3rec")
    paths = amazon_category_path(dataset.items)
    queries = category_path_query(paths)
    if title_file is True:
        beside = path.with_name(path.name.removesuffix(".txt") + "_item_text.tsv")
        title_file = beside if beside.is_file() else None
        if title_file is None:
            log.warning("%s: no %s beside it; item text without titles", path.name, beside.name)
    elif title_file is False:
        title_file = None
    fields = TEXT_FIELDS["beauty" if "categories" in dataset.items.columns else "sports"]
    if title_file is None:
        fields = tuple(f for f in fields if f != C.TITLE)
    dataset = with_item_text(dataset, fields, title_file=title_file)
    return search_log_from_item_queries(dataset, queries)


def demo_search_log(n_users: int = 3000, n_items: int = 1500, seed: int = 0, **simulate: object) -> SearchLog:
    """The shop simulator's searches (views that came with a query), with item ``text``."""
    from recaug.data.demo import simulate_shop

    dataset = simulate_shop(n_users=n_users, n_items=n_items, seed=seed, **simulate)  # type: ignore[arg-type]
    dataset = with_item_text(dataset, TEXT_FIELDS["demo"])
    return SearchLog.from_dataset(dataset, missing="drop")


def builtin_search_log(source: str, data_root: str | Path | None = None, *, seed: int = 0) -> SearchLog:
    """A built-in search log: ``"beauty"`` / ``"sports"`` (from ``data_root``, the shared data folder) or ``"demo"``."""
    if source == "demo":
        return demo_search_log(seed=seed)
    if source not in AMAZON_SOURCES:
        raise ConfigError(f"unknown search-log source {source!r}; choose one of {BUILTIN_SOURCES}")
    if data_root is None:
        raise ConfigError(f"source {source!r} needs the data folder (data_root / --data-root)")
    folder, stem = AMAZON_SOURCES[source]
    return amazon_search_log(Path(data_root) / folder / f"{stem}.txt")
