"""CPU seconds of one full-ranking evaluation pass over every Beauty test user, on one core.

Test-time views multiply the cost of a full-ranking pass, so one pass should stay cheap: the
target is <= 1.5 s of CPU on one core for Beauty's 22,363 users x 12,103 items
(``../shared/BENCHMARKS.md``: 10x the 15.9 s of the S3Rec code). Scorers, all through the same
public ``Evaluator().evaluate(model, split)`` call (leave-last-out test targets, all items,
history masked with -inf, pessimistic ties, default segments):

* ``vectors-numpy``: fixed random user vectors (users x 64) and item embeddings (items x 64), the
  scores one NumPy matrix product per chunk (NumPy's BLAS, one thread);
* ``vectors-torch``: the same vectors and product in torch (its BLAS, one thread), as recaug's
  models compute their final scores;
* ``sasrec``: an untrained ``recaug.models.SASRec`` with default settings (``epochs=0``: the
  timing does not depend on the weights); its ``score`` runs the transformer over the histories.

Every pass is timed in CPU seconds of this process (``time.process_time``; wall seconds are
recorded too, but the machine is shared) and split into the model's ``score`` calls and the
rest; a second call of ``rank_target_sets`` and ``multi_target_metrics`` on the same scorer
splits the rest into masking + ranking, metrics, and the evaluator's own work (held-out
histories, the per-user table, segments). Repeats are interleaved over scorers and chunk sizes,
so machine noise hits all alike, and the medians are reported.

    python benchmarks/eval_speed.py [--data-root ../shared/data] [--repeats 5] [--chunk-sizes 256 2048] [--quick]
"""

from __future__ import annotations

import os

# one core: BLAS pools are sized when NumPy / torch load, so this precedes their imports
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from recaug import columns as C  # noqa: E402
from recaug.data import Interactions  # noqa: E402
from recaug.data.io import read  # noqa: E402
from recaug.data.sequences import Sequences  # noqa: E402
from recaug.evaluate import Evaluator, held_out_histories, multi_target_metrics  # noqa: E402
from recaug.evaluate.ranking import rank_target_sets  # noqa: E402
from recaug.models import SASRec  # noqa: E402
from recaug.split import LeaveLastOut  # noqa: E402

BUDGET_S = 1.5
DIM = 64


class VectorScorer:
    """Scores ``user_vectors[user] @ item_vectors.T`` (PAD and MASK ``-inf``), in NumPy or torch."""

    def __init__(self, user_vectors: np.ndarray, item_vectors: np.ndarray, backend: str) -> None:
        self.backend = backend
        self.item_space_ = len(item_vectors)
        if backend == "torch":
            self.users, self.items_t = torch.from_numpy(user_vectors), torch.from_numpy(item_vectors).T
        else:
            self.users, self.items_t = user_vectors, np.ascontiguousarray(item_vectors.T)

    def score(self, histories: Sequences) -> Any:
        """``(rows, item_space)`` float32 scores of the rows' users."""
        rows = histories.users.astype(np.int64)
        if self.backend == "torch":
            scores = self.users[torch.from_numpy(rows)] @ self.items_t
        else:
            scores = self.users[rows] @ self.items_t
        scores[:, : C.N_RESERVED] = -np.inf
        return scores


class Timed:
    """Wraps a scorer and adds up the CPU and wall seconds spent in its ``score``."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.item_space_ = model.item_space_
        self.cpu = self.wall = 0.0

    def score(self, histories: Sequences) -> Any:
        """The wrapped model's scores."""
        c, w = time.process_time(), time.perf_counter()
        out = self.model.score(histories)
        self.cpu += time.process_time() - c
        self.wall += time.perf_counter() - w
        return out


def one_pass(model: Any, split: Any, chunk: int) -> dict[str, Any]:
    """One timed ``Evaluator.evaluate`` pass plus a timed ranking + metrics pass for the breakdown."""
    timed = Timed(model)
    c, w = time.process_time(), time.perf_counter()
    result = Evaluator(chunk_size=chunk).evaluate(timed, split, "test")
    total, wall = time.process_time() - c, time.perf_counter() - w

    hist, offsets, items = held_out_histories(split, "test")
    timed_r = Timed(model)
    c = time.process_time()
    ranks = rank_target_sets(timed_r, hist, offsets, items, chunk_size=chunk)
    ranking = time.process_time() - c - timed_r.cpu
    c = time.process_time()
    multi_target_metrics(ranks, offsets)
    metrics = time.process_time() - c
    summary = result.summary()
    return {
        "cpu_s": {
            "total": total,
            "score": timed.cpu,
            "rest": total - timed.cpu,
            "masking_ranking": ranking,
            "metrics": metrics,
            "evaluator_other": total - timed.cpu - ranking - metrics,
        },
        "wall_s": {"total": wall, "score": timed.wall},
        "metrics": {k: summary[k] for k in ("HR@10", "NDCG@10")},
        "ranks": ranks,
    }


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0], default_out="eval_speed.json")
    p.set_defaults(seeds=[0])
    p.add_argument(
        "--repeats", type=int, default=5, help="timed passes per scorer and chunk size (1 with --quick)"
    )
    p.add_argument(
        "--chunk-sizes", type=int, nargs="+", default=[256, 2048], help="Evaluator chunk sizes to time"
    )
    p.add_argument("--scorers", nargs="+", default=["vectors-numpy", "vectors-torch", "sasrec"],
                   choices=["vectors-numpy", "vectors-torch", "sasrec"])  # fmt: skip
    p.add_argument(
        "--users", type=int, default=None, help="evaluate only the first N test users (4000 with --quick)"
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    repeats = 1 if args.quick else args.repeats
    n_users = 4000 if args.quick and args.users is None else args.users

    t0 = time.perf_counter()
    dataset = read(_common.dataset_file(args.data_root, "beauty"), format="s3rec")
    split = LeaveLastOut(n_valid=1, n_test=1).split(dataset.interactions)
    if n_users is not None:
        split = _first_users(split, n_users)
    load_s = time.perf_counter() - t0
    item_space = int(dataset.vocab.item_space)
    hist, offsets, _ = held_out_histories(split, "test")
    print(f"beauty: {len(hist)} test users, {item_space - C.N_RESERVED} items, "
          f"mean history {hist.lengths.mean():.1f}; loaded and split in {load_s:.1f}s", flush=True)  # fmt: skip

    results = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        user_vectors = rng.standard_normal((int(dataset.interactions.users.max()) + 1, DIM), dtype=np.float32)
        item_vectors = rng.standard_normal((item_space, DIM), dtype=np.float32)
        scorers: dict[str, Any] = {}
        for name in args.scorers:
            if name == "sasrec":
                scorers[name] = SASRec(epochs=0, seed=seed, threads=1).fit(split.train, item_space=item_space)
            else:
                scorers[name] = VectorScorer(user_vectors, item_vectors, name.split("-")[1])
        for model in scorers.values():  # warm-up: first-call costs (allocator, lazy imports) are not timed
            Evaluator().evaluate(model, _first_users(split, 500), "test")
        runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for rep in range(repeats):
            for name, model in scorers.items():
                for chunk in args.chunk_sizes:
                    run = one_pass(model, split, chunk)
                    runs.setdefault((name, chunk), []).append(run)
                    cpu = run["cpu_s"]
                    print(f"  repeat {rep} {name:14s} chunk {chunk:5d}: total {cpu['total']:.2f}s CPU "
                          f"(score {cpu['score']:.2f}, masking+ranking {cpu['masking_ranking']:.2f}, "
                          f"metrics {cpu['metrics']:.3f}, evaluator other {cpu['evaluator_other']:.2f}); "
                          f"wall {run['wall_s']['total']:.2f}s", flush=True)  # fmt: skip
        for (name, chunk), rs in runs.items():
            # the ranks must not depend on the chunk size (nor on the repeat)
            same = all(np.array_equal(r["ranks"], runs[(name, args.chunk_sizes[0])][0]["ranks"]) for r in rs)
            med_cpu = {k: float(np.median([r["cpu_s"][k] for r in rs])) for k in rs[0]["cpu_s"]}
            med_wall = {k: float(np.median([r["wall_s"][k] for r in rs])) for k in rs[0]["wall_s"]}
            results.append({
                "dataset": "beauty",
                "variant": f"{name}/chunk{chunk}",
                "control": None,
                "seed": seed,
                "metrics": rs[0]["metrics"],
                "segments": {},
                "seconds": {"evaluate": med_cpu["total"]},
                "peak_memory_mb": _common.peak_memory_mb(),
                "extra": {
                    "scorer": name,
                    "chunk_size": chunk,
                    "users": len(hist),
                    "items": item_space - C.N_RESERVED,
                    "repeats": len(rs),
                    "cpu_s_median": med_cpu,
                    "wall_s_median": med_wall,
                    "cpu_s_total_all": [r["cpu_s"]["total"] for r in rs],
                    "rest_per_1k_users_s": med_cpu["rest"] * 1000 / max(len(hist), 1),
                    "within_budget": med_cpu["total"] <= BUDGET_S,
                    "evaluate_side_within_budget": med_cpu["rest"] <= BUDGET_S,
                    "ranks_identical_across_chunk_sizes": same,
                },
            })  # fmt: skip

    protocol = {
        "split": "leave_last_out", "target": "test", "candidates": "all_items", "history_masking": "-inf",
        "repeats": "unreachable", "ties": "pessimistic", "metrics": "HR/NDCG/MRR/Recall@5/10/20",
        "segments": "default", "threads": 1, "dim": DIM, "budget_cpu_s": BUDGET_S,
        "statistic": "median over interleaved repeats of CPU seconds (time.process_time) of one pass",
        "models": "untrained (timing only); vectors are standard normal",
    }  # fmt: skip
    _common.write_result(args.out, "eval_speed", results, quick=args.quick, protocol=protocol)
    print()
    print(f"{'scorer':14s} {'chunk':>5s} {'total':>6s} {'score':>6s} {'rest':>6s} {'mask+rank':>9s} "
          f"{'metrics':>7s} {'other':>6s}  (median CPU s, {repeats} repeats, budget {BUDGET_S}s)")  # fmt: skip
    for row in results:
        m = row["extra"]["cpu_s_median"]
        print(f"{row['extra']['scorer']:14s} {row['extra']['chunk_size']:5d} {m['total']:6.2f} {m['score']:6.2f} "
              f"{m['rest']:6.2f} {m['masking_ranking']:9.2f} {m['metrics']:7.3f} {m['evaluator_other']:6.2f}")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


def _first_users(split: Any, n_users: int) -> Any:
    """The split restricted to users with codes below ``n_users`` (for ``--quick``)."""
    from recaug.split import Split

    def keep(part: Interactions) -> Interactions:
        return Interactions(part.frame.filter(pl.col(C.USER) < n_users))

    return Split(keep(split.train), keep(split.valid), keep(split.test), split.protocol)


if __name__ == "__main__":
    raise SystemExit(main())
