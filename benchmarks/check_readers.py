"""Load every dataset in ../shared/data with its reader and check the published statistics.

Run: ``python benchmarks/check_readers.py [--data-root ../shared/data] [--out benchmarks/results/check_readers.json]``

Each check compares a statistic computed from the loaded ``Dataset`` with the figure in the
dataset folder's README. Exit 0 when every check passes, 1 when one fails, 2 when data is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import recaug
from _common import git_commit
from recaug import columns as C
from recaug.data import Dataset
from recaug.data.io import read

REPO = Path(__file__).resolve().parents[1]


def lengths(ds: Dataset) -> np.ndarray:
    return ds.interactions.frame.group_by(C.USER).len().get_column("len").to_numpy()


def length_stats(ds: Dataset) -> dict[str, float]:
    n = lengths(ds)
    return {"len_mean": round(float(n.mean()), 3), "len_median": float(np.median(n)),
            "len_min": int(n.min()), "len_max": int(n.max())}


def basic(ds: Dataset) -> dict[str, Any]:
    return {"users": ds.vocab.n_users, "items": ds.vocab.n_items, "interactions": len(ds.interactions),
            **length_stats(ds)}


def n_attributes(ds: Dataset) -> int:
    return int(ds.items.get_column("attributes").explode().drop_nulls().n_unique())


def value_counts(series: pl.Series) -> dict[str, int]:
    counts = series.drop_nulls().value_counts()
    return {str(k): int(v) for k, v in counts.iter_rows()}


def beauty(ds: Dataset) -> dict[str, Any]:
    tops = value_counts(ds.items.get_column(C.CATEGORY))
    repeated = ds.interactions.frame.group_by(C.USER).agg(pl.col(C.ITEM).is_duplicated().any()).get_column(C.ITEM)
    return {**basic(ds), "attributes": n_attributes(ds), "top_categories": len(tops),
            "items_Skin Care": tops.get("Skin Care"), "items_Fragrance": tops.get("Fragrance"),
            "items_with_brand": int(ds.items.get_column(C.BRAND).is_not_null().sum()),
            "users_with_repeated_item": int(repeated.sum())}


def sports(ds: Dataset) -> dict[str, Any]:
    subs = value_counts(ds.items.get_column(C.CATEGORY))
    return {**basic(ds), "attributes": n_attributes(ds), "sub_categories": len(subs),
            "items_Hunting & Fishing": subs.get("Hunting & Fishing"),
            "items_without_sub_category": int(ds.items.get_column(C.CATEGORY).is_null().sum())}


def with_attributes(ds: Dataset) -> dict[str, Any]:
    return {**basic(ds), "attributes": n_attributes(ds)}


def movielens(ds: Dataset) -> dict[str, Any]:
    ratings = value_counts(ds.interactions.frame.get_column(C.RATING).cast(pl.Int64))
    genres = value_counts(ds.items.get_column("genres").explode())
    ts = ds.interactions.frame.get_column(C.TIME)
    day = lambda s: dt.datetime.fromtimestamp(int(s), dt.UTC).date().isoformat()  # noqa: E731
    return {**basic(ds), **{f"rating_{k}": ratings.get(str(k)) for k in range(1, 6)},
            "genres": len(genres), "genre_Drama": genres.get("Drama"), "genre_Comedy": genres.get("Comedy"),
            "genre_Action": genres.get("Action"), "genre_Adventure": genres.get("Adventure"),
            "first_day": day(ts.min()), "last_day": day(ts.max())}


def taobao(ds: Dataset) -> dict[str, Any]:
    f = ds.interactions.frame
    events = value_counts(f.get_column(C.EVENT))
    buyers = f.filter(pl.col(C.EVENT) == "buy").get_column(C.USER).n_unique()
    return {"rows": len(f), "users": ds.vocab.n_users, "items": ds.vocab.n_items,
            "categories": int(ds.items.get_column(C.CATEGORY).n_unique()),
            **{f"event_{k}": events.get(k) for k in ("pv", "cart", "fav", "buy")},
            "users_with_buy": buyers, "len_median": length_stats(ds)["len_median"],
            "len_min": length_stats(ds)["len_min"], "len_max": length_stats(ds)["len_max"]}


def sessions(ds: Dataset) -> dict[str, Any]:
    st = length_stats(ds)
    ts = ds.interactions.frame.get_column(C.TIME)
    return {"rows": len(ds.interactions), "sessions": ds.vocab.n_users, "items": ds.vocab.n_items,
            "len_mean": round(st["len_mean"], 2), "len_median": st["len_median"], "len_min": st["len_min"],
            "len_max": st["len_max"], "time_min": int(ts.min()), "time_max": int(ts.max())}


def diginetica(ds: Dataset) -> dict[str, Any]:
    st = sessions(ds)
    customers = ds.users.get_column("customer_ids").explode()
    day = lambda s: dt.datetime.fromtimestamp(int(s), dt.UTC).date().isoformat()  # noqa: E731
    return {**{k: v for k, v in st.items() if not k.startswith("time")},
            "sessions_with_user": int(ds.users.get_column("customer_id").is_not_null().sum()),
            "distinct_users": int(customers.drop_nulls().n_unique()),
            "first_day": day(st["time_min"]), "last_day": day(st["time_max"])}


# dataset, path under data root, format, stats function, expected values (from each README)
CASES: list[tuple[str, str, str, Callable[[Dataset], dict[str, Any]], dict[str, Any]]] = [
    ("beauty", "amazon_beauty/Beauty.txt", "s3rec", beauty,
     {"users": 22363, "items": 12101, "interactions": 198502, "len_mean": 8.876, "len_median": 6, "len_min": 5,
      "len_max": 204, "attributes": 637, "top_categories": 6, "items_Skin Care": 3814, "items_Fragrance": 492,
      "items_with_brand": 7476, "users_with_repeated_item": 0}),
    ("sports", "amazon_sports_outdoors/Sports_and_Outdoors.txt", "s3rec", sports,
     {"users": 35598, "items": 18357, "interactions": 296337, "len_mean": 8.325, "len_median": 6, "len_min": 5,
      "len_max": 296, "attributes": 2277, "sub_categories": 17, "items_Hunting & Fishing": 7137,
      "items_without_sub_category": 245}),
    ("toys", "amazon_toys_games/Toys_and_Games.txt", "s3rec", with_attributes,
     {"users": 19412, "items": 11924, "interactions": 167597, "len_mean": 8.634, "len_median": 6, "len_min": 5,
      "len_max": 550, "attributes": 1027}),
    ("lastfm", "lastfm_hetrec/LastFM.txt", "s3rec", with_attributes,
     {"users": 1090, "items": 3646, "interactions": 52551, "len_mean": 48.212, "len_median": 19, "len_min": 5,
      "len_max": 899, "attributes": 388}),
    ("ml-100k", "movielens_100k", "movielens", movielens,
     {"users": 943, "items": 1682, "interactions": 100000, "len_mean": 106.045, "len_median": 65, "len_min": 20,
      "len_max": 737, "rating_1": 6110, "rating_2": 11370, "rating_3": 27145, "rating_4": 34174,
      "rating_5": 21201, "genres": 19, "genre_Drama": 725, "genre_Comedy": 505, "genre_Action": 251,
      "genre_Adventure": 135, "first_day": "1997-09-20", "last_day": "1998-04-22"}),
    ("ml-100k-seq", "movielens_100k/ml-100k_seq.txt", "s3rec", basic,
     {"users": 943, "items": 1682, "interactions": 100000, "len_mean": 106.045, "len_median": 65, "len_min": 20,
      "len_max": 737}),
    ("taobao-head", "taobao_userbehavior_head/UserBehavior_head_814users.csv", "taobao", taobao,
     {"rows": 84287, "users": 814, "items": 55233, "categories": 2911, "event_pv": 75693, "event_cart": 4494,
      "event_fav": 2351, "event_buy": 1749, "users_with_buy": 558, "len_median": 78, "len_min": 4,
      "len_max": 539}),
    ("yoochoose-train_full", "yoochoose_100k_sample/yoochoose-clicks-100k_train_full.txt", "yoochoose", sessions,
     {"rows": 70278, "sessions": 17794, "items": 2933, "len_mean": 3.95, "len_median": 3, "len_min": 2,
      "len_max": 58, "time_min": 1396314141, "time_max": 1396831392}),
    ("yoochoose-test", "yoochoose_100k_sample/yoochoose-clicks-100k_test.txt", "yoochoose", sessions,
     {"rows": 13568, "sessions": 3416, "items": 1771, "len_mean": 3.97, "len_median": 3, "len_min": 2,
      "len_max": 78, "time_min": 1396831793, "time_max": 1396918201}),
    ("yoochoose-train_tr", "yoochoose_100k_sample/yoochoose-clicks-100k_train_tr.txt", "yoochoose", sessions,
     {"rows": 53254, "sessions": 13629, "items": 2873, "len_mean": 3.91, "len_median": 3, "len_min": 2,
      "len_max": 58}),
    ("yoochoose-train_valid", "yoochoose_100k_sample/yoochoose-clicks-100k_train_valid.txt", "yoochoose", sessions,
     {"rows": 16539, "sessions": 4084, "items": 2029, "len_mean": 4.05, "len_median": 3, "len_min": 2,
      "len_max": 53}),
    ("diginetica-sample", "diginetica_sample/sample_train-item-views.csv", "diginetica", diginetica,
     {"rows": 12391, "sessions": 2986, "items": 7139, "sessions_with_user": 1268, "distinct_users": 1270,
      "len_mean": 4.15, "len_median": 3, "len_min": 1, "len_max": 54, "first_day": "2016-01-03",
      "last_day": "2016-06-01"}),
]

#: Beauty must load in well under this many seconds (issue requirement).
BEAUTY_SECONDS = 2.0


def matches(got: Any, want: Any) -> bool:
    if isinstance(want, float) and not float(want).is_integer():
        decimals = len(repr(want).split(".")[1])
        return got is not None and round(float(got), decimals) == want
    return got == want


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "check_readers.json")
    parser.add_argument("--quick", action="store_true", help="same checks (they are already quick); marked quick")
    args = parser.parse_args(argv)

    missing = [str(args.data_root / rel) for _, rel, *_ in CASES if not (args.data_root / rel).exists()]
    if missing:
        print(f"check_readers: --data-root {args.data_root} lacks the files it needs:", file=sys.stderr)
        for m in missing:
            print(f"  missing {m}", file=sys.stderr)
        return 2

    results = []
    failures = 0
    rows = []
    for dataset, rel, fmt, stats_fn, expected in CASES:
        started = time.perf_counter()
        ds = read(args.data_root / rel, fmt)
        seconds = time.perf_counter() - started
        stats = stats_fn(ds)
        checks = {k: {"expected": v, "got": stats.get(k), "ok": matches(stats.get(k), v)} for k, v in expected.items()}
        if dataset == "beauty":
            checks["seconds<2"] = {"expected": f"< {BEAUTY_SECONDS}", "got": round(seconds, 3),
                                   "ok": seconds < BEAUTY_SECONDS}
        bad = [k for k, c in checks.items() if not c["ok"]]
        failures += len(bad)
        results.append({
            "dataset": dataset, "variant": f"read:{fmt}", "control": None, "seed": None,
            "metrics": {}, "segments": {}, "seconds": {"read": round(seconds, 4)}, "peak_memory_mb": None,
            "extra": {**stats, "seconds": round(seconds, 4), "format": fmt, "path": rel,
                      "checks_passed": len(checks) - len(bad), "checks_total": len(checks),
                      "failed": {k: checks[k] for k in bad}},
        })
        n_users = stats.get("users", stats.get("sessions"))
        n_rows = stats.get("interactions", stats.get("rows"))
        rows.append((dataset, fmt, n_users, stats["items"], n_rows, seconds, len(checks) - len(bad), len(checks), bad))

    report = {
        "benchmark": "check_readers",
        "quick": bool(args.quick),
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recaug_version": recaug.__version__,
        "git_commit": git_commit(),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": os.cpu_count(),
                    "device": "cpu", "gpu": None},
        "protocol": None,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")

    header = f"{'dataset':<22} {'format':<10} {'users':>7} {'items':>7} {'rows':>8} {'seconds':>8}  checks"
    print(header)
    print("-" * len(header))
    for dataset, fmt, users, items, n, sec, ok, total, bad in rows:
        status = f"{ok}/{total}" + (f"  FAILED: {', '.join(bad)}" if bad else "")
        print(f"{dataset:<22} {fmt:<10} {users:>7,} {items:>7,} {n:>8,} {sec:>8.3f}  {status}")
    print(f"\nwrote {args.out}", flush=True)
    if failures:
        print(f"{failures} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
