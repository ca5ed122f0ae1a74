"""Stage adapters of the product-search task (the config's optional ``search`` section).

The search task runs next to the recommendation arms, under the run's seeds, through three
registry stages (:mod:`recaug.pipeline.registry`):

* ``search_data`` (once): build or read the search log (``search.source``: the demo shop's
  searches, the Amazon category-path logs, a search-log file/folder, or the rows of the run's own
  ``data`` stage that carry a query) and split it (``search.split``). Writes ``log/`` (the search
  log in the dataset folder format: events, item table with the item ``text``, vocabulary),
  ``train.parquet`` / ``valid.parquet`` / ``test.parquet``, ``protocol.json`` and
  ``test_queries.json`` (the held-out queries of the unseen-queries split).
* ``search_augment`` (per seed, for the augmented arms): fit the search augmenters
  (``search.augment.policy``) on ``split.train`` only, augment the training rows, fuse them with
  the real rows (:func:`recaug.search.augment_search_training`; augmented rows that carry a
  held-out key are dropped or refused) and check the fused log against the split. Writes
  ``train.parquet`` (the fused training log), ``augmented.parquet`` (the new rows) and
  ``augment.json``.
* ``search`` (per seed and search arm, an arm being a model of ``search.models`` as the control
  or trained on the augmented log): fit the model (``valid`` = ``split.valid``, for early
  stopping only), rank every test event's item among all items
  (:class:`recaug.search.SearchEvaluator`). Writes ``model/``, ``test/per_user.parquet`` (one row
  per event) + ``test/summary.json`` and ``fit.json`` (epochs and validation curve, when the
  model trains in epochs).

The control and the augmented arm of a model share the model settings and the seed; only the
training log differs. Output files hold no timings (those go to the stage info in the cache
marker and the manifest), so the same config gives byte-identical results files.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from recaug import columns as C
from recaug.atomic import write_json
from recaug.errors import ConfigError, DataError

if TYPE_CHECKING:
    from recaug.pipeline.config import SearchConfig
    from recaug.search.log import SearchLog
    from recaug.search.split import SearchSplit

#: the arm name of a model trained on the real training log only
CONTROL = "control"
#: the reference model (always evaluated when ``search.reference``)
REFERENCE_MODEL = "bm25"
SEARCH_PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class SearchArm:
    """One search arm: a model (its label, registry name and settings) trained as the control or augmented."""

    model: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    arm: str = CONTROL
    reference: bool = False

    @property
    def augmented(self) -> bool:
        """Whether this arm trains on the augmented (fused) log."""
        return self.arm != CONTROL

    @property
    def label(self) -> str:
        """``model/arm``: the arm's name in results, the manifest and stage lines."""
        return f"{self.model}/{self.arm}"


def search_arms(search: SearchConfig) -> list[SearchArm]:
    """The arms in run order: the BM25 reference (when not among the models), then each model's
    control and, with ``search.augment``, its augmented arm."""
    arms: list[SearchArm] = []
    names = [m.name for m in search.models]
    reference_listed = REFERENCE_MODEL in names
    if search.reference and not reference_listed:
        labels = {m.key for m in search.models}
        label = REFERENCE_MODEL if REFERENCE_MODEL not in labels else f"{REFERENCE_MODEL}-reference"
        arms.append(SearchArm(label, REFERENCE_MODEL, {}, CONTROL, reference=True))
    first_bm25 = names.index(REFERENCE_MODEL) if reference_listed else -1
    for i, m in enumerate(search.models):
        ref = search.reference and i == first_bm25
        arms.append(SearchArm(m.key, m.name, dict(m.params), CONTROL, reference=ref))
        if search.augment is not None:
            arms.append(SearchArm(m.key, m.name, dict(m.params), search.augment.name, reference=ref))
    return arms


def search_policy(policy: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """One augmenter config from ``search.augment.policy`` (ConfigError when an op is unknown or mis-set).

    A mapping is used as it is. A list is combined as ``recaug search augment --op ...`` combines
    its ops: query ops become one ``one_of`` (one of them per view), item-side ops (e.g.
    ``pseudo_queries``) are added with ``union``.
    """
    from recaug.search.augment import QueryOperation, search_augmenter_from_config

    if isinstance(policy, dict):
        search_augmenter_from_config(copy.deepcopy(policy))
        return copy.deepcopy(policy)
    if not policy:
        raise ConfigError("give at least one op, e.g. [{op: term_dropout, p: 0.3}]")
    query_ops: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for i, cfg in enumerate(policy):
        if not isinstance(cfg, dict):
            raise ConfigError(f"[{i}]: expected a mapping such as {{op: term_dropout, p: 0.3}}, got {cfg!r}")
        try:
            built = search_augmenter_from_config(copy.deepcopy(cfg))
        except ConfigError as exc:
            raise ConfigError(f"[{i}]: {exc}") from None
        (query_ops if isinstance(built, QueryOperation) else other).append(copy.deepcopy(cfg))
    parts = list(other)
    if query_ops:
        parts.insert(0, query_ops[0] if len(query_ops) == 1 else {"op": "one_of", "ops": query_ops})
    return parts[0] if len(parts) == 1 else {"op": "union", "ops": parts}


# -- search_data ------------------------------------------------------------------------------
def _data_text_fields(items: pl.DataFrame) -> list[str]:
    """Item columns that make the text of a ``source: data`` log (the demo shop's by default)."""
    from recaug.search.item_text import TEXT_FIELDS

    return [c for c in TEXT_FIELDS["demo"] if c in items.columns]


def build_search_log(cfg: SearchConfig, data_dir: Path | None = None) -> SearchLog:
    """The search log ``cfg.source`` names, with item ``text`` from ``cfg.text_fields`` when given.

    ``data_dir``: the output folder of the run's ``data`` stage (``source: data``).
    """
    from recaug.search.item_text import with_item_text
    from recaug.search.log import SearchLog, read_search_log
    from recaug.search.queries import builtin_search_log

    fields = list(cfg.text_fields) if cfg.text_fields else None
    if cfg.source == "data":
        from recaug.pipeline.stages import load_dataset

        if data_dir is None:
            raise ConfigError("search.source 'data' needs the run's data stage")
        dataset = load_dataset(data_dir)
        if C.QUERY not in dataset.interactions.frame.columns:
            raise DataError(
                "search.source 'data': the run's data has no query column", column=C.QUERY,
                expected="interactions with a query (map one with data.columns.query), or another search.source",
            )  # fmt: skip
        if fields is None and "text" not in dataset.items.columns:
            fields = _data_text_fields(dataset.items)
            if not fields:
                raise DataError(
                    "search.source 'data': the item table has no text", column="text",
                    expected="a 'text', 'title' or 'category' item column, or search.text_fields",
                )  # fmt: skip
        if fields:
            dataset = with_item_text(dataset, fields)
            fields = None
        search_log = SearchLog.from_dataset(dataset, missing="drop")
    elif cfg.source == "file":
        assert cfg.path is not None
        search_log = read_search_log(cfg.path)
    else:
        search_log = builtin_search_log(cfg.source, cfg.data_root)
    if fields:
        search_log = SearchLog(with_item_text(search_log.dataset, fields))
    if not len(search_log):
        raise DataError(f"search.source {cfg.source!r} gave no search events", expected="rows with a query")
    return search_log


def run_search_data(cfg: SearchConfig, data_dir: Path | None, out: Path) -> dict[str, Any]:
    """Build the search log and split it (see the module docstring for the files)."""
    from recaug.search.split import search_splitter, split_sizes

    search_log = build_search_log(cfg, data_dir)
    splitter = search_splitter(cfg.split.protocol, **cfg.split.params)
    split = splitter.split(search_log)
    split.check()
    if not len(split.test) or not len(split.train):
        raise DataError(
            f"the search split left {len(split.train)} training and {len(split.test)} test events",
            expected="users with at least 2 searches (3 with a validation search)",
        )
    search_log.save(out / "log")
    for name in SEARCH_PARTS:
        getattr(split, name).frame.write_parquet(out / f"{name}.parquet")
    p = split.protocol
    write_json(out / "protocol.json", {"split": p.split, "params": p.params, "candidates": p.candidates,
                                       "history_masking": p.history_masking})  # fmt: skip
    write_json(out / "test_queries.json", sorted(split.test_queries))
    sizes = split_sizes(split)
    return {
        "rows_in": len(search_log),
        "rows_out": sizes["train"] + sizes["valid"] + sizes["test"],
        **sizes,
        "source": cfg.source,
        "name": search_log.name,
        "users": search_log.n_users,
        "items": search_log.vocab.n_items,
        "queries": int(search_log.query_keys().n_unique()),
        "protocol": split.protocol.to_dict(),
    }


def load_search_split(folder: Path) -> SearchSplit:
    """The split a ``search_data`` stage wrote."""
    from recaug.search.log import SearchLog
    from recaug.search.split import SearchSplit
    from recaug.split.base import Protocol

    search_log = SearchLog.load(folder / "log")
    parts = [search_log.with_frame(pl.read_parquet(folder / f"{p}.parquet")) for p in SEARCH_PARTS]
    protocol = Protocol(**json.loads((folder / "protocol.json").read_text(encoding="utf-8")))
    test_queries = frozenset(json.loads((folder / "test_queries.json").read_text(encoding="utf-8")))
    return SearchSplit(*parts, protocol, test_queries)  # type: ignore[arg-type]


# -- search_augment ---------------------------------------------------------------------------
def run_search_augment(cfg: SearchConfig, data_dir: Path, seed: int, out: Path) -> dict[str, Any]:
    """Fit the augmenters on ``split.train`` only, augment and fuse (see the module docstring)."""
    from recaug.search.augment import assert_no_search_leakage, augment_search_training

    aug = cfg.augment
    assert aug is not None
    split = load_search_split(data_dir)
    policy = search_policy(aug.policy)
    fused, rows, report = augment_search_training(
        split, policy, seed=seed, n_views=aug.n_views, ratio=aug.ratio, weight=aug.weight, held_out=aug.held_out
    )
    assert_no_search_leakage(split, fused)
    fused.frame.write_parquet(out / "train.parquet")
    rows.frame.write_parquet(out / "augmented.parquet")
    seconds = report.pop("seconds", {})
    write_json(out / "augment.json", {"policy": policy, **report}, finite=True)
    real = len(split.train)
    added = int(report.get("augmented_out", len(fused) - real))
    return {
        "rows_in": real,
        "rows_out": len(fused),
        "rows_added": added,
        "augmented_share": added / real if real else 0.0,
        "dropped": report.get("dropped", {}),
        "seconds_fit": seconds.get("fit"),
        "seconds_augment": seconds.get("augment"),
    }


# -- search (fit + evaluate) ------------------------------------------------------------------
def _untimed(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if "second" not in k} for e in entries]


def run_search_model(
    cfg: SearchConfig,
    arm: SearchArm,
    data_dir: Path,
    augment_dir: Path | None,
    seed: int,
    out: Path,
    *,
    checkpoint: Path | None = None,
) -> dict[str, Any]:
    """Fit ``arm``'s model on its training log and evaluate every test event (see the module docstring).

    A model that trains in epochs saves its state to ``checkpoint`` after each (unless its params
    name one), so a killed run resumes mid-fit.
    """
    from recaug.search import import_search_model
    from recaug.search.base import build_search_model, get_search_model_class
    from recaug.search.evaluate import SearchEvaluator

    split = load_search_split(data_dir)
    train = split.train
    if augment_dir is not None:
        train = split.train.with_frame(pl.read_parquet(augment_dir / "train.parquet"))
    import_search_model(arm.name)
    params = dict(arm.params)
    if checkpoint is not None and "checkpoint" in get_search_model_class(arm.name).settings_fields():
        params.setdefault("checkpoint", str(checkpoint))
    model = build_search_model(arm.name, params, seed=seed, device=cfg.device, where=f"search model {arm.model}")
    t0 = time.perf_counter()
    model.fit(train, split.valid)
    fit_seconds = time.perf_counter() - t0
    use_history = getattr(model, "use_history", None)
    if use_history is not None:  # personalised: the histories the protocol allows at test time
        use_history(split.history("test"))
    ev = cfg.evaluate
    evaluator = SearchEvaluator(
        ks=tuple(ev.ks), metrics=tuple(ev.metrics), mask_history=ev.mask_history,
        rare_max_count=ev.rare_max_count, short_history_max=ev.short_history_max, tail_share=ev.tail_share,
    )  # fmt: skip
    t0 = time.perf_counter()
    result = evaluator.evaluate(model, split, "test")
    eval_seconds = time.perf_counter() - t0
    result.protocol.pop("seconds_scoring", None)  # timings go to the stage info, not the files
    result.seconds = None
    result.protocol = {**result.protocol, "model_label": arm.model, "arm": arm.arm, "seed": seed,
                       "train_rows": len(train), "model_settings": model.config()}  # fmt: skip
    result.save(out / "test")
    model.save(out / "model")
    history = list(getattr(model, "history_", None) or [])
    best_epoch = getattr(model, "best_epoch_", None)
    write_json(out / "fit.json", {"model": arm.name, "label": arm.model, "arm": arm.arm, "seed": seed,
                                  "best_epoch": best_epoch, "history": _untimed(history)}, finite=True)  # fmt: skip
    return {
        "rows_in": len(train),
        "rows_out": result.n_users,
        "summary": {"test": result.summary()},
        "epochs": len(history) or None,
        "best_epoch": best_epoch,
        "seconds_fit": round(fit_seconds, 4),
        "seconds_evaluate": round(eval_seconds, 4),
    }


__all__ = [
    "CONTROL",
    "REFERENCE_MODEL",
    "SearchArm",
    "build_search_log",
    "load_search_split",
    "run_search_augment",
    "run_search_data",
    "run_search_model",
    "search_arms",
    "search_policy",
]
