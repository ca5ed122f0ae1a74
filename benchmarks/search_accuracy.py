"""Product search accuracy: BM25, dense two-tower and personalised (TEM) search, each neural model ± augmentation.

    python benchmarks/search_accuracy.py --quick                          # smoke run, a few minutes
    python benchmarks/search_accuracy.py --datasets beauty --splits leave_last_out --seeds 0 \\
        --cache-dir /work/cache/search --out benchmarks/results/search_accuracy_beauty.json --log-epochs

Data: the Amazon category-path search logs of Beauty and Sports (``builtin_search_log``: one
search per purchase, the query is the item's category path as words, item text = brand +
category names + title). Splits: ``leave_last_out`` (per user, time order: last search test,
second last validation) and ``unseen_queries`` (test queries never occur in training or
validation; ``--unseen-seed``). Every test event's item is ranked among **all** items, ties
pessimistic, nothing masked (:class:`recaug.search.SearchEvaluator`).

Variants (``--variants``; an arm brings its control): ``bm25`` (always run: every search row
sits next to BM25 on the same split), ``dense`` / ``personal`` (controls) and ``dense+aug`` /
``personal+aug``: the same model, seed and schedule trained on ``split.train`` fused with
augmented rows (:func:`recaug.search.augment_search_training`: the policy is fitted on
``split.train`` only, held-out keys are dropped, at most ``--aug-ratio`` augmented rows per real
row). The policy is ``--policy`` (a name of :data:`POLICIES` or a JSON config); the default
``query_mix+pseudo`` is ``union(one_of(term_dropout, term_reorder, term_substitute,
category_generalise), pseudo_queries)``: one query-side rewrite per training search plus up to
three pseudo-queries for every item with no training search (doc2query-style, from the item's
own text and its category neighbours' queries).

Metrics: MRR@10, NDCG@10, HR@10, Recall@100 (and @100 of the others), overall and per segment:
``unseen_query``, ``rare_query`` (<= 5 training occurrences), ``short_history`` (new users: <= 5
earlier searches), ``tail_item`` (target outside the 20 % most searched items). Every arm row
carries a paired per-event test against its same-seed control (``extra.paired_vs_control``:
Wilcoxon signed-rank and paired t, overall and per segment) and every neural row one against
BM25 (``extra.paired_vs_bm25``); with two or more seeds, ``extra.seed_level`` (a t-test over
the per-seed lifts) and ``extra.significant`` (both tests must hold). ``targets`` at the top
of the JSON says which of the issue's targets were met.

Schedule: every neural fit uses the same one (``--epochs`` cap, ``--eval-every``,
``--valid-from``, ``--patience``), early stopping on validation NDCG@10 only (the test part is
read once, after the fit); ``extra.schedule`` records it with the best epoch and whether the cap
was hit while validation was still rising (``cap_hit_while_rising``: then the row is not
converged, and the table says so).

Timings: BM25 index and query throughput on one core next to two plain references with the same
scores (``rank_bm25``-style per-query Python over per-document term counts, and a plain
``scipy.sparse`` weight matrix scored one query at a time; ``rank_bm25`` itself is not
installed); neural training seconds per epoch (validation included) and one validation pass.

Cache (``--cache-dir``): a finished run is stored as ``row.json`` + ``per_event.parquet`` under a
key of every setting that decides it (dataset, split, variant, seed, the model's full config, the
policy, ``--quick``) and a digest of the library code (the bytes of ``src/recaug/**/*.py`` other
than ``cli/``, ``pipeline/`` and ``report/``, which these fits do not use; uncommitted changes
get their own digest). Every fit saves a training checkpoint after every epoch next to the
entries (``TrainConfig.checkpoint``, keyed like the run but without the epoch cap, and kept when
the fit ends), so the same command started again reuses finished runs and continues an
interrupted fit from its last epoch, and a run with a higher ``--epochs`` continues each fit that
stopped at the old cap instead of starting over (one that stopped on patience stays stopped). Results are written after every run;
rows of other datasets/splits/variants already in ``--out`` are kept.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _common import (
    DATASETS,
    REPO,
    best_valid,
    epoch_seconds,
    parser,
    peak_memory_mb,
    require,
    write_result,
)
from recaug import columns as C
from recaug.atomic import atomic_dir
from recaug.evaluate.stats import compare, joint_significance, seed_level_test
from recaug.search import (
    BM25,
    SearchEvaluator,
    SearchLeaveLastOut,
    SearchLog,
    UnseenQueries,
    augment_search_training,
    builtin_search_log,
    search_augmenter_from_config,
    tokenize,
)

KS = (10, 100)
METRICS = ("HR", "NDCG", "MRR", "Recall")
HEADLINE = ("MRR@10", "NDCG@10", "HR@10", "Recall@100")
SEGMENTS = ("unseen_query", "rare_query", "short_history", "tail_item")
SPLITS = ("leave_last_out", "unseen_queries")
#: variant -> (model, augmented)
VARIANTS: dict[str, tuple[str, bool]] = {
    "bm25": ("bm25", False),
    "dense": ("dense", False),
    "dense+aug": ("dense", True),
    "personal": ("personal", False),
    "personal+aug": ("personal", True),
}
CONTROL = {"dense+aug": "dense", "personal+aug": "personal"}
QUERY_OPS = [
    {"op": "term_dropout", "p": 0.3},
    {"op": "term_reorder", "mode": "shuffle"},
    {"op": "term_substitute", "p": 0.3},
    {"op": "category_generalise", "levels": 1},
]
PSEUDO = {"op": "pseudo_queries", "max_per_item": 3, "min_train_queries": 1}
#: named augmentation policies (``--policy`` also takes a JSON config)
POLICIES: dict[str, dict[str, Any]] = {
    "query_mix+pseudo": {"op": "union", "ops": [{"op": "one_of", "ops": QUERY_OPS}, PSEUDO]},
    "query_mix": {"op": "one_of", "ops": QUERY_OPS},
    "pseudo": PSEUDO,
}
#: model settings shared by both neural models (``--dim`` etc. override)
PERSONAL = {"max_history": 10, "n_layers": 1, "n_heads": 2}
QUICK_USERS = 3000
#: bump when the row format changes (part of the cache key)
CACHE_FORMAT = 1


# -- code digest and cache ------------------------------------------------------------------------
def code_digest() -> str:
    """SHA-256 of the library code these fits run: ``src/recaug/**/*.py`` except cli/pipeline/report."""
    root = REPO / "src" / "recaug"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("cli", "pipeline", "report"):
            continue
        digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_entry(args: Any, key: dict[str, Any]) -> Path | None:
    if args.cache_dir is None:
        return None
    text = json.dumps({**key, "code": args.code, "format": CACHE_FORMAT}, sort_keys=True, default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Path(args.cache_dir) / f"{key['dataset']}_{key['split']}_{key['variant']}_{key['seed']}_{digest}"


# -- data -----------------------------------------------------------------------------------------
def subsample(search_log: SearchLog, n_users: int) -> SearchLog:
    """The first ``n_users`` user codes (``--quick``)."""
    return search_log.with_frame(search_log.frame.filter(pl.col(C.USER) < n_users))


def make_split(search_log: SearchLog, name: str, args: Any) -> Any:
    if name == "leave_last_out":
        split = SearchLeaveLastOut().split(search_log)
    else:
        split = UnseenQueries(test_fraction=args.test_fraction, valid_fraction=args.valid_fraction,
                              seed=args.unseen_seed).split(search_log)
    split.check()
    return split


# -- BM25 throughput and its plain references -----------------------------------------------------
class RankBM25Style:
    """``rank_bm25.BM25Okapi``'s algorithm (a term-count dict per document; a query scored one
    term at a time over every document in Python) with Lucene's idf and term-frequency part
    (bm25s ``method="lucene"``), so its scores equal :class:`recaug.search.BM25`'s."""

    def __init__(self, corpus: list[list[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.doc_freqs: list[Counter[str]] = []
        df: dict[str, int] = {}
        for doc in corpus:
            counts = Counter(doc)
            self.doc_freqs.append(counts)
            for word in counts:
                df[word] = df.get(word, 0) + 1
        n = len(corpus)
        doc_len = np.array([len(d) for d in corpus], dtype=np.float64)
        self.idf = {w: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self.norm = k1 * (1.0 - b + b * doc_len / doc_len.mean())

    def get_scores(self, query: list[str]) -> np.ndarray:
        score = np.zeros(len(self.doc_freqs))
        for q in query:
            idf = self.idf.get(q)
            if idf is None:
                continue
            f = np.array([d.get(q, 0) for d in self.doc_freqs], dtype=np.float64)
            score += idf * f / (f + self.norm)
        return score


class ScipyBM25:
    """A plain ``scipy.sparse`` BM25 (Lucene idf and tf part): a (terms x documents) weight matrix
    built with NumPy; a query scores as the sum of its words' rows, one query at a time."""

    def __init__(self, corpus: list[list[str]], k1: float = 1.5, b: float = 0.75) -> None:
        import scipy.sparse as sp

        self.vocab: dict[str, int] = {}
        rows, cols = [], []
        for d, doc in enumerate(corpus):
            for word in doc:
                cols.append(self.vocab.setdefault(word, len(self.vocab)))
                rows.append(d)
        n = len(corpus)
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(self.vocab)))
        counts.sum_duplicates()
        doc_len = np.asarray(counts.sum(axis=1)).ravel()
        df = np.bincount(counts.indices, minlength=len(self.vocab))
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        norm = k1 * (1.0 - b + b * doc_len / doc_len.mean())
        tf = counts.data
        doc_of = np.repeat(np.arange(n), np.diff(counts.indptr))
        weights = sp.csr_matrix((idf[counts.indices] * tf / (tf + norm[doc_of]), counts.indices, counts.indptr),
                                shape=counts.shape)
        self.weights = weights.T.tocsr()

    def get_scores(self, query: list[str]) -> np.ndarray:
        ids = [self.vocab[w] for w in query if w in self.vocab]
        if not ids:
            return np.zeros(self.weights.shape[1])
        return np.asarray(self.weights[ids].sum(axis=0)).ravel()


def bm25_throughput(split: Any, model: BM25, n_rank_bm25: int, n_scipy: int) -> dict[str, Any]:
    """Index and query throughput of recaug's BM25 and the two references (one core, same scores)."""
    import torch

    torch.set_num_threads(1)
    items = split.train.item_text(model.text_column)
    docs = items.slice(C.N_RESERVED, model.item_space_ - C.N_RESERVED)
    queries = split.test.queries
    out: dict[str, Any] = {"n_items": len(docs), "n_test_queries": len(queries)}
    t0 = time.perf_counter()
    fitted = BM25(text_column=model.text_column).fit(split.train)
    out["recaug_index_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, len(queries), 1024):
        fitted.score(queries.slice(start, 1024))
    seconds = time.perf_counter() - t0
    out["recaug_queries_per_second"] = len(queries) / seconds
    refs = {"rank_bm25_style": (RankBM25Style, n_rank_bm25), "scipy_sparse": (ScipyBM25, n_scipy)}
    for name, (cls, n_q) in refs.items():
        t0 = time.perf_counter()
        ref = cls(tokenize(docs).to_list())
        out[f"{name}_index_seconds"] = time.perf_counter() - t0
        sample = queries.head(n_q)
        t0 = time.perf_counter()
        scores = [ref.get_scores(q) for q in tokenize(sample).to_list()]
        seconds = time.perf_counter() - t0
        out[f"{name}_queries_per_second"] = len(sample) / seconds
        out[f"{name}_queries_timed"] = len(sample)
        ours = fitted.score(sample)[:, C.N_RESERVED : C.N_RESERVED + len(docs)]
        out[f"{name}_max_abs_score_diff"] = float(np.abs(ours - np.stack(scores)).max())
        out[f"query_speedup_vs_{name}"] = out["recaug_queries_per_second"] / out[f"{name}_queries_per_second"]
        out[f"index_speedup_vs_{name}"] = out[f"{name}_index_seconds"] / out["recaug_index_seconds"]
    return out


# -- runs -----------------------------------------------------------------------------------------
def evaluator() -> SearchEvaluator:
    return SearchEvaluator(ks=KS, metrics=METRICS)


def with_event_key(frame: pl.DataFrame) -> pl.DataFrame:
    """Per-event results with an ``event`` key (the evaluator's row order: user, then time)."""
    return frame.with_row_index("event") if "event" not in frame.columns else frame


def paired(control: pl.DataFrame, arm: pl.DataFrame) -> dict[str, Any]:
    """Per-event paired tests (Wilcoxon, paired t) overall and per segment, on the headline metrics."""
    a, b = with_event_key(control), with_event_key(arm)
    if not (a.get_column(C.USER).equals(b.get_column(C.USER)) and a.get_column("target").equals(b.get_column("target"))):
        raise RuntimeError("paired runs must rank the same events in the same order")
    out: dict[str, Any] = {"all": {m: c.to_dict() for m, c in compare(a, b, list(HEADLINE), on="event").items()}}
    for seg in SEGMENTS:
        keep = a.get_column(f"segment:{seg}")
        if int(keep.sum()) < 2:
            out[seg] = {"n_users": int(keep.sum())}
            continue
        tests = compare(a.filter(keep), b.filter(keep), list(HEADLINE), on="event")
        out[seg] = {m: c.to_dict() for m, c in tests.items()}
    return out


def schedule_of(model: Any, cap: int, args: Any) -> dict[str, Any]:
    """The fit's schedule, its best epoch and whether it stopped at the cap while validation still rose."""
    history = model.history_
    validated = [h for h in history if h.get("metric") is not None]
    epochs_run = len(history)
    last_valid = validated[-1]["epoch"] if validated else None
    stale = sum(1 for h in validated if h["epoch"] > (model.best_epoch_ or 0))
    early_stopped = args.patience is not None and stale >= args.patience
    cap_hit = epochs_run >= cap and not early_stopped
    return {
        "valid_metric": "NDCG@10 (split.valid)", "eval_every": args.eval_every, "valid_from": args.valid_from,
        "patience": args.patience, "cap": cap, "epochs_run": epochs_run, "best_epoch": model.best_epoch_,
        "early_stopped": early_stopped, "cap_hit": cap_hit,
        "cap_hit_while_rising": bool(cap_hit and model.best_epoch_ is not None and model.best_epoch_ == last_valid),
        "valid_curve": [[h["epoch"], h["metric"]] for h in validated],
    }


def model_settings(kind: str, args: Any) -> dict[str, Any]:
    settings = {"dim": args.dim, "pooling": args.pooling, "dropout": args.dropout, "max_query_len": 16,
                "text_column": "text", "epochs": args.cap, "batch_size": args.batch_size, "lr": args.lr,
                "patience": args.patience, "eval_every": args.eval_every, "valid_from": args.valid_from,
                "threads": args.threads}
    return {**settings, **PERSONAL} if kind == "personal" else settings


def run_bm25(ctx: dict[str, Any], seed: int, args: Any) -> tuple[dict[str, Any], pl.DataFrame]:
    split = ctx["split"]
    model = BM25(text_column="text").fit(split.train, split.valid)
    t0 = time.perf_counter()
    result = evaluator().evaluate(model, split)
    eval_s = time.perf_counter() - t0
    extra: dict[str, Any] = {"params": model.config()}
    if ctx["measure_throughput"] and not args.no_throughput:
        extra["throughput"] = bm25_throughput(split, model, args.ref_queries_python, args.ref_queries_scipy)
    row = {
        "dataset": ctx["dataset"], "variant": "bm25", "control": None, "seed": seed, "split": ctx["split_name"],
        "metrics": result.summary(), "segments": result.segments_flat(),
        "seconds": {"fit": model.seconds_["index"], "index": model.seconds_["index"], "evaluate": eval_s},
        "peak_memory_mb": peak_memory_mb(), "extra": extra,
    }
    return row, with_event_key(result.per_user)


def run_neural(ctx: dict[str, Any], variant: str, seed: int, args: Any,
               checkpoint: Path | None) -> tuple[dict[str, Any], pl.DataFrame]:
    from recaug.search.dense import DenseSearch
    from recaug.search.personal import PersonalSearch

    kind, augmented = VARIANTS[variant]
    split = ctx["split"]
    train = split.train
    extra: dict[str, Any] = {}
    t0 = time.perf_counter()
    if augmented:
        train, rows, report = augment_search_training(split, args.policy_config, seed=seed, n_views=args.n_views,
                                                      ratio=args.aug_ratio, weight=args.aug_weight)
        extra["augmentation"] = {"policy": args.policy, "config": args.policy_config, "report": report,
                                 "seconds": time.perf_counter() - t0, "train_rows": len(train)}
    cls = DenseSearch if kind == "dense" else PersonalSearch
    resume = {} if checkpoint is None else {"checkpoint": str(checkpoint), "keep_checkpoint": True}
    model = cls(seed=seed, device=args.device, **model_settings(kind, args), **resume)
    t1 = time.perf_counter()
    model.fit(train, split.valid)
    fit_s = time.perf_counter() - t1
    t1 = time.perf_counter()
    result = evaluator().evaluate(model, split)
    eval_s = time.perf_counter() - t1
    t1 = time.perf_counter()
    SearchEvaluator(ks=(10,), metrics=("NDCG",)).evaluate(model, split, "valid")
    valid_s = time.perf_counter() - t1
    timing = epoch_seconds(model.history_)
    row = {
        "dataset": ctx["dataset"], "variant": variant, "control": CONTROL.get(variant), "seed": seed,
        "split": ctx["split_name"], "metrics": result.summary(), "segments": result.segments_flat(),
        "seconds": {"fit": fit_s, "per_epoch": timing["per_epoch"], "epochs_total": timing["epochs_total"],
                    "validation_pass": valid_s,
                    "per_epoch_training": None if timing["per_epoch"] is None else timing["per_epoch"] - valid_s,
                    "evaluate": eval_s, "augment": extra.get("augmentation", {}).get("seconds")},
        "peak_memory_mb": peak_memory_mb(),
        "extra": {
            **extra,
            "params": model.config(),
            "schedule": schedule_of(model, args.cap, args),
            "best_valid": best_valid(model.history_),
            "train_rows": len(train),
            "resumed_epochs": getattr(model, "resumed_epochs_", 0),
        },
    }
    return row, with_event_key(result.per_user)


def run_one(ctx: dict[str, Any], variant: str, seed: int, args: Any) -> tuple[dict[str, Any], pl.DataFrame]:
    """One variant under one seed: from the cache, or fitted (resuming its checkpoint) and cached."""
    kind, augmented = VARIANTS[variant]
    key = {"dataset": ctx["dataset"], "split": ctx["split_name"], "variant": variant, "seed": seed,
           "quick": args.quick, "quick_users": QUICK_USERS if args.quick else None,
           "unseen": ctx["split_protocol"], "device": args.device,
           "settings": None if kind == "bm25" else model_settings(kind, args),
           "augmentation": {"policy": args.policy_config, "n_views": args.n_views, "ratio": args.aug_ratio,
                            "weight": args.aug_weight} if augmented else None}
    entry = None if kind == "bm25" else cache_entry(args, key)
    if entry is not None and (entry / "row.json").is_file():
        print(f"(cached: {entry.name})", flush=True)
        return json.loads((entry / "row.json").read_text()), pl.read_parquet(entry / "per_event.parquet")
    if kind == "bm25":
        return run_bm25(ctx, seed, args)
    checkpoint = None
    if entry is not None:  # keyed without the cap and kept: a later run under a higher cap continues it
        uncapped = {**key, "settings": {k: v for k, v in key["settings"].items() if k != "epochs"}}
        checkpoint = cache_entry(args, uncapped)
        assert checkpoint is not None
        checkpoint = checkpoint.with_name(checkpoint.name + ".ckpt")
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
    row, per_event = run_neural(ctx, variant, seed, args, checkpoint)
    if entry is not None:
        with atomic_dir(entry, force=True) as tmp:
            per_event.write_parquet(tmp / "per_event.parquet")
            (tmp / "row.json").write_text(json.dumps(row, default=str))
    return row, per_event


# -- seeds, targets, table ------------------------------------------------------------------------
def seed_level(ctx: dict[str, Any], variant: str, against: str, seeds: list[int]) -> dict[str, Any]:
    """Seed-level test and joint significance of ``variant`` vs ``against`` on the headline metrics."""
    evals = ctx["evals"]
    both = [s for s in seeds if (variant, s) in evals and (against, s) in evals]
    out: dict[str, Any] = {"seeds": both}
    for seg in ("all", *SEGMENTS):
        def part(frame: pl.DataFrame, seg: str = seg) -> pl.DataFrame:
            return frame if seg == "all" else frame.filter(pl.col(f"segment:{seg}"))
        controls = [part(evals[(against, s)]) for s in both]
        arms = [part(evals[(variant, s)]) for s in both]
        if not both or min(f.height for f in controls) == 0:
            continue
        seg_out = {}
        for m in HEADLINE:
            test = seed_level_test(control=controls, treatment=arms, metric=m)
            per_seed = [compare(c, a, [m], on="event")[m] for c, a in zip(controls, arms, strict=True)]
            sig = joint_significance(test, per_seed=per_seed)
            seg_out[m] = {"seed_level": test.to_dict(), "significant": sig.to_dict()}
        out[seg] = seg_out
    return out


def lift_of(test: dict[str, Any] | None) -> tuple[float | None, float | None]:
    if not test or "relative_lift" not in test:
        return None, None
    return test["relative_lift"], test["wilcoxon_pvalue"]


def targets(results: list[dict[str, Any]], alpha: float = 0.05) -> list[dict[str, Any]]:
    """The issue's targets, per dataset/split/seed row that can answer them."""
    out: list[dict[str, Any]] = []
    rising = {(r["dataset"], r["split"], r["variant"], r["seed"]) for r in results
              if r.get("extra", {}).get("schedule", {}).get("cap_hit_while_rising")}
    for row in results:
        extra = row.get("extra", {})
        here = (row["dataset"], row["split"], row["variant"], row["seed"])
        # converged: neither the row nor its control stopped at the cap while validation still rose
        converged = here not in rising and (row["dataset"], row["split"], CONTROL.get(row["variant"]),
                                            row["seed"]) not in rising
        if row["variant"] == "personal" and row["split"] == "leave_last_out":
            lift, p = lift_of(extra.get("paired_vs_bm25", {}).get("all", {}).get("MRR@10"))
            met = lift is not None and lift >= 0.20 and p is not None and p < alpha
            out.append({"target": "personal beats BM25 by >= 20% MRR@10 on the time split",
                        "dataset": row["dataset"], "split": row["split"], "seed": row["seed"],
                        "lift": lift, "wilcoxon_p": p, "status": "met" if met else "missed",
                        "converged": converged})
        if row["variant"] in CONTROL and "paired_vs_control" in extra:
            pv = extra["paired_vs_control"]
            segs = {}
            for seg in ("unseen_query", "tail_item"):
                test = pv.get(seg, {}).get("MRR@10") or {}
                lift, p = lift_of(test)
                n = (row.get("segments", {}).get(seg) or {}).get("n_users", 0)
                control, arm = test.get("mean_control"), test.get("mean_treatment")
                if not n or not test:
                    status = "not measured"
                elif control == 0 and arm is not None and arm > 0 and p is not None and p < alpha:
                    status = "met (control scores 0: the relative lift is unbounded)"  # JSON has no inf
                else:
                    status = "met" if lift is not None and lift >= 0.15 and p is not None and p < alpha else "missed"
                segs[seg] = {"n_events": n, "lift": lift, "wilcoxon_p": p, "mean_control": control,
                             "mean_arm": arm, "status": status}
            lift, p = lift_of(pv.get("all", {}).get("MRR@10"))
            lost = lift is not None and lift < 0 and p is not None and p < alpha
            states = [s["status"] for s in segs.values()]
            status = ("missed" if "missed" in states or lost else
                      "not measured" if all(x == "not measured" for x in states) else
                      "partly measured: " + ", ".join(f"{k} {v['status']}" for k, v in segs.items())
                      if "not measured" in states else "met")
            out.append({"target": "augmentation lifts unseen-query and tail-item MRR@10 by >= 15% over the "
                                  "same-seed control without losing overall",
                        "dataset": row["dataset"], "split": row["split"], "variant": row["variant"],
                        "seed": row["seed"], "segments": segs,
                        "overall": {"lift": lift, "wilcoxon_p": p, "significant_loss": lost}, "status": status,
                        "vs_bm25": dict(zip(("lift", "wilcoxon_p"),
                                            lift_of(extra.get("paired_vs_bm25", {}).get("all", {}).get("MRR@10")),
                                            strict=True)),
                        "converged": converged})
    return out


def print_row(row: dict[str, Any]) -> None:
    m, seg = row["metrics"], row["segments"]
    sched = row["extra"].get("schedule")
    fit = ""
    if sched:
        flag = " CAP-HIT-RISING" if sched["cap_hit_while_rising"] else (" cap-hit" if sched["cap_hit"] else "")
        fit = (f" ep={sched['epochs_run']}/{sched['cap']} best={sched['best_epoch']}{flag} "
               f"s/ep={row['seconds']['per_epoch'] or 0:.0f}")
    lift = ""
    pv = row["extra"].get("paired_vs_control", {}).get("all", {}).get("MRR@10")
    if pv:
        lift = f" vs {row['control']}: {pv['relative_lift']:+.1%} (p={pv['wilcoxon_pvalue']:.2g})"
    pb = row["extra"].get("paired_vs_bm25", {}).get("all", {}).get("MRR@10")
    if pb:
        lift += f" vs bm25: {pb['relative_lift']:+.1%} (p={pb['wilcoxon_pvalue']:.2g})"
    segs = " ".join(f"{s[:6]}={(seg.get(s) or {}).get('MRR@10') or 0:.4f}" for s in SEGMENTS)
    print(f"{row['dataset']:6s} {row['split']:14s} {row['variant']:12s} s={row['seed']} "
          f"MRR@10={m['MRR@10']:.4f} NDCG@10={m['NDCG@10']:.4f} HR@10={m['HR@10']:.4f} "
          f"R@100={m['Recall@100']:.4f} | MRR@10 {segs} |{fit}{lift}", flush=True)


def ordered(variants: list[str]) -> list[str]:
    """BM25 first, then each requested arm's control before the arm."""
    need = ["bm25"] + [v for name in variants for v in (CONTROL.get(name), name) if v and v != "bm25"]
    return list(dict.fromkeys(need))


def protocol(args: Any) -> dict[str, Any]:
    return {
        "task": "product search, Amazon category-path queries (HEM/TEM protocol)",
        "splits": {"leave_last_out": "per user, time order: last search test, second last valid",
                   "unseen_queries": f"test/valid queries drawn from the distinct queries (seed {args.unseen_seed}, "
                                     f"test {args.test_fraction}, valid {args.valid_fraction}); never in train"},
        "candidates": "all_items", "ties": "pessimistic", "history_masking": "none",
        "metrics": [f"{m}@{k}" for k in KS for m in METRICS], "headline": list(HEADLINE),
        "segments": evaluator().protocol()["segments"],
        "early_stopping": f"valid NDCG@10 every {args.eval_every} epoch(s) from epoch {args.valid_from}, "
                          f"patience {args.patience} validations, cap {args.cap} epochs (same for every neural arm)",
        "loss": "full softmax CE over all items", "batch_size": args.batch_size, "lr": args.lr, "dim": args.dim,
        "threads": args.threads,
        "augmentation": {"policy": args.policy, "config": args.policy_config, "fitted_on": "split.train",
                         "n_views": args.n_views, "ratio": args.aug_ratio, "weight": args.aug_weight,
                         "held_out": "augmented rows with held-out (user, query, item) or held-out queries dropped"},
        "paired_test": "per event (one per user), Wilcoxon signed-rank and paired t vs the same-seed control; "
                       "neural rows also vs BM25 on the same split",
        "quick_users": QUICK_USERS if args.quick else None,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0], default_out="search_accuracy.json")
    p.set_defaults(seeds=[0])
    p.add_argument("--datasets", nargs="+", default=["beauty", "sports"], choices=["beauty", "sports"])
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    p.add_argument("--variants", nargs="+", default=["dense+aug", "personal+aug"], choices=sorted(VARIANTS),
                   help="arms to run (their controls and BM25 are added)")
    p.add_argument("--policy", default="query_mix+pseudo",
                   help=f"augmentation policy: one of {sorted(POLICIES)} or a JSON config")
    p.add_argument("--aug-ratio", type=float, default=0.5, help="at most this many augmented rows per real row")
    p.add_argument("--aug-weight", type=float, default=None, help="loss weight of augmented rows (default 1)")
    p.add_argument("--n-views", type=int, default=1)
    p.add_argument("--epochs", dest="cap", type=int, default=12, help="epoch cap of every neural fit")
    p.add_argument("--patience", type=int, default=3, help="validations without improvement")
    p.add_argument("--eval-every", type=int, default=1)
    p.add_argument("--valid-from", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--pooling", default="mean", choices=["mean", "attention"])
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on the shared 2-core VM)")
    p.add_argument("--test-fraction", type=float, default=0.3, help="unseen_queries: share of queries for test")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="unseen_queries: share for validation")
    p.add_argument("--unseen-seed", type=int, default=0, help="unseen_queries: which queries are held out")
    p.add_argument("--cache-dir", type=Path, default=None, help="finished runs and per-epoch checkpoints (resume)")
    p.add_argument("--no-throughput", action="store_true", help="skip the BM25 throughput comparison")
    p.add_argument("--ref-queries-python", type=int, default=300, help="queries timed for the rank_bm25-style ref")
    p.add_argument("--ref-queries-scipy", type=int, default=3000, help="queries timed for the scipy reference")
    args = p.parse_args()
    if args.quick and args.out == REPO / "benchmarks" / "results" / "search_accuracy.json":
        args.out = REPO / "benchmarks" / "results" / "search_accuracy_quick.json"
    args.policy_config = POLICIES[args.policy] if args.policy in POLICIES else json.loads(args.policy)
    search_augmenter_from_config(args.policy_config)  # a bad policy fails before any fit
    if args.quick:
        args.cap = min(args.cap, 2)
    args.code = code_digest()
    seeds = args.seeds[:1] if args.quick else args.seeds
    datasets = ["beauty"] if args.quick else args.datasets
    for name in datasets:
        folder, stem = DATASETS[name]
        for suffix in (".txt", "_item_meta.tsv", "_item_text.tsv"):
            require(args.data_root / folder / f"{stem}{suffix}")
    variants = ordered(args.variants)
    results: list[dict[str, Any]] = []
    if args.out.exists():  # keep rows of other datasets/splits/variants
        try:
            old = json.loads(args.out.read_text())
            if old.get("quick") == args.quick:
                results = old.get("results", [])
        except (json.JSONDecodeError, OSError):
            results = []
    logs: dict[str, Any] = {}

    def write() -> None:
        write_result(args.out, "search_accuracy", results, quick=args.quick, protocol=protocol(args),
                     device=args.device, extra={"search_logs": logs, "targets": targets(results),
                                                "code_digest": args.code})

    for name in datasets:
        t0 = time.perf_counter()
        search_log = builtin_search_log(name, args.data_root)
        if args.quick:
            search_log = subsample(search_log, QUICK_USERS)
        logs[name] = {"events": len(search_log), "users": search_log.n_users, "items": search_log.vocab.n_items,
                      "distinct_queries": int(search_log.query_keys().n_unique()),
                      "seconds": time.perf_counter() - t0}
        for split_name in args.splits:
            split = make_split(search_log, split_name, args)
            ctx = {"dataset": name, "split_name": split_name, "split": split, "evals": {},
                   "split_protocol": split.protocol.to_dict(),
                   # BM25 throughput: once per dataset, on its first split (the index does not depend on it)
                   "measure_throughput": split_name == args.splits[0]}
            for seed in seeds:
                for variant in variants:
                    row, per_event = run_one(ctx, variant, seed, args)
                    ctx["evals"][(variant, seed)] = per_event
                    if variant in CONTROL and (CONTROL[variant], seed) in ctx["evals"]:
                        row["extra"]["paired_vs_control"] = paired(ctx["evals"][(CONTROL[variant], seed)], per_event)
                    if variant != "bm25" and ("bm25", seed) in ctx["evals"]:
                        row["extra"]["paired_vs_bm25"] = paired(ctx["evals"][("bm25", seed)], per_event)
                    results = [r for r in results if not (r["dataset"] == name and r["split"] == split_name
                                                          and r["variant"] == variant and r["seed"] == seed)]
                    results.append(row)
                    write()
                    print_row(row)
            for variant in variants:  # seed level (two or more seeds), next to every row of the variant
                against = CONTROL.get(variant, "bm25" if variant != "bm25" else None)
                if against is None:
                    continue
                level = seed_level(ctx, variant, against, seeds)
                for r in results:
                    if (r["dataset"], r["split"], r["variant"]) == (name, split_name, variant) and r["seed"] in seeds:
                        r["extra"]["seed_level"] = {"against": against, **level}
            write()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
