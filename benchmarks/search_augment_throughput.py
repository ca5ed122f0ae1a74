"""Rows per second of every search augmenter on the Beauty category-path search log, on one core.

The log is ``recaug.search.builtin_search_log("beauty")`` (one search per purchase, the query is
the item's category path as words); the augmenters are fitted on its leave-last-out training
part and augment every training row once (``n_views=1``). ``rows_per_second`` counts *input*
training rows per second of ``augment`` (output rows differ: unchanged views are left out;
pseudo-queries are made per item, not per row); the fit time is reported separately. Term
dropout and shuffle are also timed against a plain per-row Python reference (``str.split`` +
``random``), the loop the vectorised kernels replace.

    python benchmarks/search_augment_throughput.py [--data-root ../shared/data] [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "POLARS_MAX_THREADS"):
    os.environ[_var] = "1"  # one core: set before NumPy / SciPy / Polars load their thread pools

import copy  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import polars as pl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from recaug import columns as C  # noqa: E402
from recaug.search import builtin_search_log, fuse_search, search_augmenter_from_config  # noqa: E402
from recaug.search.split import SearchLeaveLastOut  # noqa: E402

OPS: dict[str, dict] = {
    "term_dropout": {"op": "term_dropout", "p": 0.2},
    "term_reorder-shuffle": {"op": "term_reorder", "mode": "shuffle"},
    "term_reorder-swap": {"op": "term_reorder", "mode": "swap"},
    "term_substitute-context": {"op": "term_substitute", "method": "context"},
    "term_substitute-pmi": {"op": "term_substitute", "method": "pmi"},
    "term_substitute-context-text": {"op": "term_substitute", "method": "context", "source": "queries+text"},
    "category_generalise": {"op": "category_generalise"},
    "category_specialise": {"op": "category_specialise"},
    "pseudo_queries": {"op": "pseudo_queries", "min_train_queries": 5, "max_per_item": 3},
    "one_of-query-ops": {"op": "one_of", "ops": [
        {"op": "term_dropout", "p": 0.2}, {"op": "term_reorder"}, {"op": "term_substitute"},
        {"op": "category_generalise"}, {"op": "category_specialise"}]},
}


def pin_one_core() -> None:
    """Run on a single CPU so ``rows/s`` is a one-core figure."""
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass


def py_dropout(queries: list[str], p: float, rng: random.Random) -> list[str]:
    out = []
    for q in queries:
        words = q.lower().split()
        kept = [w for w in words if rng.random() >= p] or [words[0]]
        out.append(" ".join(kept))
    return out


def py_shuffle(queries: list[str], rng: random.Random) -> list[str]:
    out = []
    for q in queries:
        words = q.lower().split()
        rng.shuffle(words)
        out.append(" ".join(words))
    return out


def timed(fn, repeats: int) -> float:
    """Best of ``repeats`` calls of ``fn(r)`` in seconds."""
    best = float("inf")
    for r in range(repeats):
        t0 = time.perf_counter()
        fn(r)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0], default_out="search_augment_throughput.json")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    _common.require(args.data_root / "amazon_beauty" / "Beauty.txt")
    pin_one_core()
    repeats = 1 if args.quick else args.repeats

    t0 = time.perf_counter()
    search_log = builtin_search_log("beauty", data_root=args.data_root)
    if args.quick:
        search_log = search_log.with_frame(search_log.frame.filter(pl.col(C.USER) < 3000))
    train = SearchLeaveLastOut().split(search_log).train
    load_s = time.perf_counter() - t0
    n = len(train)
    print(f"beauty search log: {len(search_log):,} events; train {n:,} rows, "
          f"{train.queries.n_unique()} distinct queries (loaded and split in {load_s:.2f}s)")

    results, table = [], []
    for name, config in OPS.items():
        aug = search_augmenter_from_config(copy.deepcopy(config))
        fit_s = timed(lambda r, c=config: search_augmenter_from_config(copy.deepcopy(c)).fit(train), repeats)
        aug.fit(train)
        aug.augment(train, seed=999)  # warm-up
        rows_out = len(aug.augment(train, seed=0))
        best = timed(lambda r, a=aug: a.augment(train, seed=r), repeats)
        extra = {"config": config, "rows_in": n, "rows_out": rows_out, "rows_per_second": n / best,
                 "output_rows_per_second": rows_out / best, "fit_seconds": fit_s}
        if name in ("term_dropout", "term_reorder-shuffle"):
            queries = train.queries.to_list()
            if name == "term_dropout":
                def fn(r: int, q: list[str] = queries) -> list[str]:
                    return py_dropout(q, 0.2, random.Random(r))
            else:
                def fn(r: int, q: list[str] = queries) -> list[str]:
                    return py_shuffle(q, random.Random(r))
            ref = timed(fn, repeats)
            extra |= {"python_reference_rows_per_second": n / ref, "speedup_vs_python": ref / best}
            results.append(_result(f"python-reference-{name}", None, ref, {"rows_per_second": n / ref}))
        results.append(_result(name, f"python-reference-{name}" if "speedup_vs_python" in extra else None, best,
                               extra, fit_s))
        table.append((name, n / best, rows_out, fit_s, extra.get("speedup_vs_python")))
        print(f"  {name:32s} {n / best:12,.0f} rows/s  {rows_out:9,d} rows out  fit {fit_s:.2f}s", flush=True)

    rows = search_augmenter_from_config(copy.deepcopy(OPS["one_of-query-ops"])).fit(train).augment(train, seed=0)
    fuse_s = timed(lambda r: fuse_search(train, rows, ratio=1.0, weight=0.5, seed=r), repeats)
    results.append(_result("fuse_search-ratio1", None, fuse_s, {"rows_in": n + len(rows),
                                                                "rows_per_second": (n + len(rows)) / fuse_s}))
    table.append(("fuse_search (ratio 1)", (n + len(rows)) / fuse_s, None, None, None))

    doc = _common.write_result(
        args.out, "search_augment_throughput", results, quick=args.quick, device="cpu",
        protocol={"log": "beauty category-path queries (HEM)", "split": "search leave_last_out, train part",
                  "n_views": 1, "threads": 1, "timing": f"best of {repeats}", "rows_per_second": "input rows"},
    )
    print(f"\nmachine: {doc['machine']['cpu']}, 1 core")
    print(f"{'op':32s} {'rows/s':>12s} {'rows out':>10s} {'fit s':>7s} {'vs python':>9s}")
    for name, rps, out, fit_s, speed in table:
        out_s = f"{out:10,d}" if out is not None else f"{'':10s}"
        fit_txt = f"{fit_s:7.2f}" if fit_s is not None else f"{'':7s}"
        speed_s = f"{speed:8.1f}x" if speed else ""
        print(f"{name:32s} {rps:12,.0f} {out_s} {fit_txt} {speed_s}")
    print(f"\nwrote {args.out}")
    return 0


def _result(variant: str, control: str | None, seconds: float, extra: dict, fit: float | None = None) -> dict:
    return {
        "dataset": "beauty",
        "variant": variant,
        "control": control,
        "seed": 0,
        "metrics": {},
        "segments": {},
        "seconds": {"augment": seconds, **({"fit": fit} if fit is not None else {})},
        "peak_memory_mb": _common.peak_memory_mb(),
        "extra": copy.deepcopy(extra),
    }


if __name__ == "__main__":
    raise SystemExit(main())
