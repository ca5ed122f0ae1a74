"""Product search: search logs, query builders, one tokenizer, retrieval models, search metrics.

Typical use::

    from recaug.search import BM25, SearchEvaluator, UnseenQueries, amazon_search_log
    log = amazon_search_log("../shared/data/amazon_beauty/Beauty.txt")
    split = UnseenQueries(seed=0).split(log)
    model = BM25().fit(split.train)
    result = SearchEvaluator().evaluate(model, split)
    result.summary(); result.by_segment()

Augmentation (query side, item side, behaviour side; :mod:`recaug.search.augment`)::

    from recaug.search import augment_search_training
    fused, rows, report = augment_search_training(split, {"op": "term_dropout", "p": 0.3}, seed=0)

``bm25s`` (the ``search`` extra) is imported only when a BM25 model is fitted. The neural models
``DenseSearch`` ("dense") and ``PersonalSearch`` ("personal", TEM) import torch, so they load on
first use: ``from recaug.search import DenseSearch`` or ``get_search_model_class("dense")``.
"""

from recaug.search.augment import (
    SearchAugmenter,
    assert_no_search_leakage,
    augment_search_histories,
    augment_search_training,
    fuse_search,
    pseudo_user,
    search_augmenter_from_config,
)
from recaug.search.augment_items import PseudoQueries
from recaug.search.augment_query import (
    CategoryGeneralise,
    CategorySpecialise,
    TermDropout,
    TermReorder,
    TermSubstitute,
)
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

#: neural models (they import torch, so they load on first use): registry name -> module
NEURAL_MODELS = {"dense": "recaug.search.dense", "personal": "recaug.search.personal"}
_LAZY = {"DenseSearch": "recaug.search.dense", "PersonalSearch": "recaug.search.personal"}


def import_search_model(name: str) -> None:
    """Import the module of the neural search model ``name`` (which registers it); other names: no-op."""
    if name in NEURAL_MODELS:
        import importlib

        importlib.import_module(NEURAL_MODELS[name])


def __getattr__(name: str) -> object:
    """``DenseSearch`` / ``PersonalSearch`` without importing torch with the package."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recaug.search' has no attribute {name!r}")


__all__ = [
    "BM25",
    "BUILTIN_SOURCES",
    "CategoryGeneralise",
    "CategorySpecialise",
    "PseudoQueries",
    "SearchAugmenter",
    "TermDropout",
    "TermReorder",
    "TermSubstitute",
    "assert_no_search_leakage",
    "augment_search_histories",
    "augment_search_training",
    "fuse_search",
    "pseudo_user",
    "search_augmenter_from_config",
    "NEURAL_MODELS",
    "DenseSearch",
    "PersonalSearch",
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
    "import_search_model",
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
