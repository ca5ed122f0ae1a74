"""Product search: search logs, query builders, one tokenizer, retrieval models, search metrics.

Typical use::

    from recaug.search import BM25, SearchEvaluator, UnseenQueries, amazon_search_log
    log = amazon_search_log("../shared/data/amazon_beauty/Beauty.txt")
    split = UnseenQueries(seed=0).split(log)
    model = BM25().fit(split.train)
    result = SearchEvaluator().evaluate(model, split)
    result.summary(); result.by_segment()

``bm25s`` (the ``search`` extra) is imported only when a BM25 model is fitted.
"""

from recaug.search.base import SearchModel, build_search_model, get_search_model_class, register_search_model
from recaug.search.bm25 import BM25
from recaug.search.evaluate import SearchEvaluator, rank_targets
from recaug.search.item_text import TEXT_FIELDS, build_item_text, read_title_text, with_item_text
from recaug.search.log import SearchLog, read_search_log
from recaug.search.queries import (
    BUILTIN_SOURCES,
    amazon_category_path,
    amazon_search_log,
    builtin_search_log,
    category_path_query,
    demo_search_log,
    search_log_from_item_queries,
)
from recaug.search.split import SearchLeaveLastOut, SearchSplit, UnseenQueries, search_splitter
from recaug.search.tokenize import TermVocabulary, dedupe_keep_last, normalize, tokenize

__all__ = [
    "BM25",
    "BUILTIN_SOURCES",
    "TEXT_FIELDS",
    "SearchEvaluator",
    "SearchLeaveLastOut",
    "SearchLog",
    "SearchModel",
    "SearchSplit",
    "TermVocabulary",
    "UnseenQueries",
    "amazon_category_path",
    "amazon_search_log",
    "build_item_text",
    "build_search_model",
    "builtin_search_log",
    "category_path_query",
    "dedupe_keep_last",
    "demo_search_log",
    "get_search_model_class",
    "normalize",
    "rank_targets",
    "read_search_log",
    "read_title_text",
    "register_search_model",
    "search_log_from_item_queries",
    "search_splitter",
    "tokenize",
    "with_item_text",
]
