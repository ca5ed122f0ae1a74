"""``recaug search``: build or import a search log, evaluate a retrieval model on it.

* ``build-queries --dataset beauty|sports|demo -o OUT``: a built-in search log (Amazon
  category-path queries from ``--data-root``, or the demo shop's queries) in the dataset folder format.
* ``import SRC -o OUT``: a CSV / TSV / Parquet / JSON-lines search log, columns mapped like
  ``recaug data import`` (``--query-col`` ...).
* ``evaluate LOG -o OUT --model bm25``: split LOG (``--split leave_last_out`` or ``unseen_queries``),
  fit the model on the training part (neural models: ``dense``, ``personal``; training settings
  such as ``-p epochs=20 -p threads=1`` go through ``--param``; the validation part drives early
  stopping), rank each test event's item among all items; writes ``per_user.parquet`` (one row
  per event) and ``summary.json`` like ``recaug evaluate``. A personalised model scores with
  the histories the protocol allows: ``split.history(target)`` (train, plus valid for test).
* ``augment LOG -o OUT --op term_dropout:p=0.3 --op category_generalise``: split LOG, fit search
  augmenters (:mod:`recaug.search.augment`) on the training part only, write the new rows
  (``augmented.parquet``), the fused training log (``train/``) and ``summary.json``; ``--op`` uses
  ``recaug expand``'s ``NAME:KEY=VALUE,...`` syntax.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from recaug.cli._common import (
    ForceOpt,
    JsonOpt,
    OutOpt,
    SeedOpt,
    parse_ks,
    parse_params,
    print_json,
    refuse_existing,
    reporting_errors,
    say,
)
from recaug.errors import ConfigError, DataError

search_app = typer.Typer(
    help="Product search: build or import search logs, evaluate retrieval models (BM25 ...).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DataRootOpt = Annotated[
    Path | None,
    typer.Option("--data-root", help="The shared data folder holding amazon_beauty/ and amazon_sports_outdoors/."),
]


def _say_log(output: Path, search_log: object, seconds: float) -> None:
    say(f"wrote {output}: {search_log!r} in {seconds:.2f} s")


@search_app.command("build-queries")
def build_queries(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="beauty, sports (category-path queries) or demo.")],
    output: OutOpt,
    data_root: DataRootOpt = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
) -> None:
    """Build a built-in search log: Amazon category-path queries (HEM protocol) or the demo shop's searches."""
    with reporting_errors():
        from recaug.search.queries import builtin_search_log

        refuse_existing(output, force, inputs=(data_root,))
        t0 = time.perf_counter()
        search_log = builtin_search_log(dataset, data_root, seed=seed)
        search_log.save(output, force=force)
        _say_log(output, search_log, time.perf_counter() - t0)


@search_app.command("import")
def import_log(
    src: Annotated[Path, typer.Argument(help="Search log file (csv, tsv, parquet, jsonl).", show_default=False)],
    output: OutOpt,
    format: Annotated[str, typer.Option("--format", "-f", help="auto, csv, tsv, parquet or jsonl.")] = "auto",
    user_col: Annotated[str | None, typer.Option(help="Column holding user ids.")] = None,
    item_col: Annotated[str | None, typer.Option(help="Column holding item ids.")] = None,
    query_col: Annotated[str | None, typer.Option(help="Column holding the query text.")] = None,
    time_col: Annotated[str | None, typer.Option(help="Column holding timestamps.")] = None,
    event_col: Annotated[str | None, typer.Option(help="Column holding event types (click, buy ...).")] = None,
    sep: Annotated[str | None, typer.Option(help="Field delimiter (default: guessed).")] = None,
    item_side: Annotated[
        Path | None, typer.Option(help="Item table keyed by item id (e.g. with a 'text' column for BM25).")
    ] = None,
    missing_queries: Annotated[
        str, typer.Option(help="Rows without a query: 'error' (default) or 'drop'.")
    ] = "error",
    name: Annotated[str | None, typer.Option(help="Log name (default: the file name).")] = None,
    force: ForceOpt = False,
) -> None:
    """Read a search log file into the dataset folder format (every row must carry a query)."""
    with reporting_errors():
        from recaug.search.log import read_search_log

        refuse_existing(output, force, inputs=(src, item_side))
        t0 = time.perf_counter()
        search_log = read_search_log(
            src, format, user_col=user_col, item_col=item_col, query_col=query_col, time_col=time_col,
            event_col=event_col, sep=sep, item_side=item_side, name=name, missing_queries=missing_queries,
        )  # fmt: skip
        search_log.save(output, force=force)
        _say_log(output, search_log, time.perf_counter() - t0)


@search_app.command("evaluate")
def evaluate_cmd(
    log_path: Annotated[
        Path, typer.Argument(help="Search-log folder (build-queries / import) or a raw log file.", show_default=False)
    ],
    output: OutOpt,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Retrieval model: bm25, dense (two-tower) or personal (TEM).")
    ] = "bm25",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Model setting KEY=VALUE, e.g. k1=1.2 (repeatable).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="leave_last_out (default) or unseen_queries.")] = "leave_last_out",
    test_fraction: Annotated[
        float, typer.Option(help="unseen_queries: share of distinct queries held out for test.")
    ] = 0.3,
    valid_fraction: Annotated[
        float, typer.Option(help="unseen_queries: share of distinct queries held out for validation.")
    ] = 0.1,
    ks: Annotated[
        list[str] | None, typer.Option("--ks", help="Cut-offs, comma-separated or repeated (default 5,10,20).")
    ] = None,
    target: Annotated[str, typer.Option("--target", help="test or valid.")] = "test",
    mask_history: Annotated[
        bool, typer.Option("--mask-history", help="Mask the user's earlier items (except the target) with -inf.")
    ] = False,
    save_model: Annotated[Path | None, typer.Option("--save-model", help="Also save the fitted model here.")] = None,
    device: Annotated[str, typer.Option("--device", help="Neural models: auto, cpu or cuda.")] = "auto",
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a retrieval model on the training part of a split and rank every test event's item among all items."""
    with reporting_errors():
        from recaug.search import import_search_model
        from recaug.search.base import build_search_model
        from recaug.search.evaluate import SearchEvaluator
        from recaug.search.log import read_search_log
        from recaug.search.split import search_splitter

        if target not in ("test", "valid"):
            raise ConfigError(f"--target {target!r}: choose test or valid")
        settings = {"seed": seed, "test_fraction": test_fraction, "valid_fraction": valid_fraction}
        splitter = search_splitter(split, **(settings if split == "unseen_queries" else {}))
        import_search_model(model)  # the torch models register themselves on import
        search_model = build_search_model(model, parse_params(param), seed=seed, device=device, where="--param")
        evaluator = SearchEvaluator(ks=parse_ks(ks), mask_history=mask_history)
        refuse_existing(output, force, inputs=(log_path,))
        if save_model is not None:
            refuse_existing(save_model, force, inputs=(log_path,))
        if not log_path.exists():
            raise DataError("no such file or folder", file=log_path, expected="a search-log folder or file")
        search_log = read_search_log(log_path)
        parts = splitter.split(search_log)
        parts.check()
        t0 = time.perf_counter()
        search_model.fit(parts.train, parts.valid)
        fit_seconds = time.perf_counter() - t0
        result = evaluator.evaluate(search_model, parts, target)
        result.protocol = {**result.protocol, "model_settings": search_model.config(), "seconds_fit": fit_seconds,
                           "log": str(log_path)}
        if save_model is not None:
            search_model.save(save_model, force=force)
        from recaug.cli.train import show_result

        show_result(result, output, force=force, as_json=as_json)


def _augment_policy(ops: list[str]) -> dict:
    """``--op`` flags as one augmenter config: query ops -> one_of (one per view); item-side ops added by union."""
    from recaug.cli.augment import parse_op
    from recaug.search.augment import QueryOperation, search_augmenter_from_config

    parsed = [parse_op(t) for t in ops]
    if not parsed:
        raise ConfigError("give at least one --op, e.g. --op term_dropout:p=0.3")
    query_ops, other = [], []
    for cfg in parsed:
        built = search_augmenter_from_config(dict(cfg))  # unknown ops / keys / types fail here, before any work
        (query_ops if isinstance(built, QueryOperation) else other).append(cfg)
    parts = other.copy()
    if query_ops:
        parts.insert(0, query_ops[0] if len(query_ops) == 1 else {"op": "one_of", "ops": query_ops})
    return parts[0] if len(parts) == 1 else {"op": "union", "ops": parts}


@search_app.command("augment")
def augment_cmd(
    log_path: Annotated[
        Path, typer.Argument(help="Search-log folder (build-queries / import) or a raw log file.", show_default=False)
    ],
    output: OutOpt,
    op: Annotated[
        list[str] | None,
        typer.Option("--op", help="Search augmentation op, e.g. term_dropout:p=0.3 (repeatable: query ops -> one of "
                     "them per view; item-side ops such as pseudo_queries add their rows)."),
    ] = None,
    n_views: Annotated[int, typer.Option("--n-views", help="Augmented views per training row.")] = 1,
    split: Annotated[str, typer.Option("--split", help="leave_last_out (default) or unseen_queries.")] = "leave_last_out",
    test_fraction: Annotated[
        float, typer.Option(help="unseen_queries: share of distinct queries held out for test.")
    ] = 0.3,
    valid_fraction: Annotated[
        float, typer.Option(help="unseen_queries: share of distinct queries held out for validation.")
    ] = 0.1,
    ratio: Annotated[float | None, typer.Option("--ratio", help="At most R augmented rows per real row.")] = None,
    weight: Annotated[float | None, typer.Option("--weight", help="Weight of augmented rows (real rows 1.0).")] = None,
    held_out: Annotated[
        str, typer.Option("--held-out", help="Augmented rows with a held-out (user, query, item) or an unseen-split "
                          "held-out query: 'drop' (counted) or 'error'.")
    ] = "drop",
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Split LOG, fit search augmenters on the training part only, write the new rows and the fused training log.

    Writes OUT/augmented.parquet (the new rows: source = op path, view, origin_query; pseudo-query
    rows carry the pseudo user code), OUT/train/ (real training rows + kept augmented rows, a
    search-log folder) and OUT/summary.json (rows per source, dropped counts, settings, seconds).
    """
    with reporting_errors():
        from recaug.search.augment import augment_search_training, search_augmenter_from_config
        from recaug.search.log import read_search_log
        from recaug.search.split import search_splitter

        if held_out not in ("drop", "error"):
            raise ConfigError(f"--held-out {held_out!r}: choose drop or error")
        if n_views < 1:
            raise ConfigError(f"--n-views must be >= 1, got {n_views}")
        policy = _augment_policy(op or [])
        search_augmenter_from_config(policy)
        settings = {"seed": seed, "test_fraction": test_fraction, "valid_fraction": valid_fraction}
        splitter = search_splitter(split, **(settings if split == "unseen_queries" else {}))
        refuse_existing(output, force, inputs=(log_path,))
        if not log_path.exists():
            raise DataError("no such file or folder", file=log_path, expected="a search-log folder or file")
        t0 = time.perf_counter()
        parts = splitter.split(read_search_log(log_path))
        parts.check()
        fused, rows, report = augment_search_training(parts, policy, seed=seed, n_views=n_views, ratio=ratio,
                                                      weight=weight, held_out=held_out)  # type: ignore[arg-type]
        from recaug.atomic import atomic_dir, write_json

        with atomic_dir(output, force=force) as folder:
            rows.frame.write_parquet(folder / "augmented.parquet")
            fused.save(folder / "train")
            doc = {"command": "search augment", "log": str(log_path), "split": parts.protocol.describe(),
                   "policy": policy, **report, "seconds_total": round(time.perf_counter() - t0, 4)}
            write_json(folder / "summary.json", doc, finite=True)
        if as_json:
            print_json(doc)
            return
        say(f"wrote {output}: {report['augmented_out']:,} augmented rows kept of {report['augmented_in']:,} "
            f"(dropped {report['dropped']}) + {report['real_rows']:,} real training rows in {doc['seconds_total']:.2f} s")
