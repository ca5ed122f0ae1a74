"""Sequences per second of every expand operation on Beauty training sequences, on one core.

Compares Crop / Mask / Reorder with a plain per-sequence Python reference (lists + ``random``,
written below, CoSeRec-style), and times correlated Insert / Substitute plus the item-similarity
fit. Training sequences: Beauty.txt with the last two items of every user dropped (P1 train).

    python benchmarks/expand_throughput.py [--data-root ../shared/data] [--quick]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before NumPy / SciPy load their thread pools

import copy  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from recaug.data import Sequences  # noqa: E402
from recaug.data.io import read  # noqa: E402
from recaug.expand import (  # noqa: E402
    Crop,
    Insert,
    ItemSimilarity,
    LengthAwarePolicy,
    Mask,
    Noise,
    Reorder,
    RepeatPad,
    Slice,
    Substitute,
    augment_padded,
)

# CoSeRec defaults (tao, gamma, beta, insert_rate, substitute_rate)
ETA, GAMMA, BETA, INSERT_RATE, SUBSTITUTE_RATE = 0.2, 0.7, 0.2, 0.4, 0.1


def pin_one_core() -> None:
    """Run on a single CPU so ``sequences/s`` is a one-core figure."""
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass


def load_train(path: Path, limit: int | None = None) -> Sequences:
    """P1 training sequences: every user's items except the last two; item codes shifted to >= 2."""
    dataset = read(path, format="s3rec")
    seqs = Sequences.from_interactions(dataset.interactions)
    if limit is not None:
        seqs = seqs.take(np.arange(min(limit, len(seqs))))
    keep = np.maximum(seqs.lengths - 2, 0)
    starts = seqs.offsets[:-1]
    off = np.r_[0, np.cumsum(keep)].astype(np.int64)
    idx = np.arange(off[-1]) + np.repeat(starts - off[:-1], keep)
    ts = None if seqs.timestamps is None else seqs.timestamps[idx]
    return Sequences(off, seqs.items[idx], seqs.users, ts)


# -- the plain per-sequence Python reference (what the ratio is measured against) ---------------
def py_crop(seq: list[int], eta: float, rng: random.Random) -> list[int]:
    n = max(1, int(eta * len(seq)))
    start = rng.randint(0, len(seq) - n)
    return seq[start : start + n]


def py_mask(seq: list[int], gamma: float, rng: random.Random) -> list[int]:
    out = seq.copy()
    for i in rng.sample(range(len(seq)), int(gamma * len(seq))):
        out[i] = 1
    return out


def py_reorder(seq: list[int], beta: float, rng: random.Random) -> list[int]:
    n = int(beta * len(seq))
    start = rng.randint(0, len(seq) - n)
    window = seq[start : start + n]
    rng.shuffle(window)
    return seq[:start] + window + seq[start + n :]


def best_time(fn, repeats: int) -> tuple[float, float]:
    """(best, median) seconds of ``repeats`` calls of ``fn(r)``."""
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        fn(r)
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times))


def paired_best(fn_a, fn_b, repeats: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """``best_time`` of two functions run alternately."""
    ta, tb = [], []
    for r in range(repeats):
        for fn, acc in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn(r)
            acc.append(time.perf_counter() - t0)
    return (min(ta), float(np.median(ta))), (min(tb), float(np.median(tb)))


def main() -> int:
    p = _common.parser(__doc__.splitlines()[0], default_out="expand_throughput.json")
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    path = _common.dataset_file(args.data_root, "beauty")
    pin_one_core()
    repeats = 3 if args.quick else args.repeats

    t0 = time.perf_counter()
    train = load_train(path, limit=4000 if args.quick else None)
    load_s = time.perf_counter() - t0
    n = len(train)
    lists = train.to_lists()
    print(
        f"beauty train: {n} sequences, {len(train.items)} items, mean length {train.lengths.mean():.2f} "
        f"(loaded in {load_s:.2f}s)"
    )

    sim = ItemSimilarity("iuf", k=20)
    fit_s, _ = best_time(lambda r: ItemSimilarity("iuf", k=20).fit(train), 1 if args.quick else 3)
    sim.fit(train)
    sim_cos_s, _ = best_time(lambda r: ItemSimilarity("cosine", k=20).fit(train), 1)

    ops = {
        "crop": Crop(ETA),
        "mask": Mask(GAMMA),
        "reorder": Reorder(BETA),
        "insert-correlated": Insert(INSERT_RATE, similarity=sim),
        "substitute-correlated": Substitute(SUBSTITUTE_RATE, similarity=sim),
        "insert-random": Insert(INSERT_RATE, mode="random"),
        "substitute-random": Substitute(SUBSTITUTE_RATE, mode="random"),
        "noise-replace": Noise(0.1),
        "slice-prefix-50": Slice("prefix", min_len=2, max_len=50),
        "repeat-pad-50": RepeatPad(50),
        "coserec-policy": LengthAwarePolicy(
            short=[Insert(INSERT_RATE, similarity=sim), Substitute(SUBSTITUTE_RATE, similarity=sim)],
            long=[
                Insert(INSERT_RATE, similarity=sim),
                Crop(ETA),
                Mask(GAMMA),
                Reorder(BETA),
                Substitute(SUBSTITUTE_RATE, similarity=sim),
            ],
            threshold=4,
        ),
    }
    reference = {"crop": (py_crop, ETA), "mask": (py_mask, GAMMA), "reorder": (py_reorder, BETA)}

    results, table = [], []
    for name, op in ops.items():
        op.fit(train)
        op.augment(train, seed=999)  # warm-up
        out_rows = len(op.augment(train, seed=0))
        control = None
        extra = {"output_rows": out_rows, "config": op.config()}
        if name in reference:
            fn, q = reference[name]

            def run_ref(r: int, fn=fn, q=q) -> None:
                rng = random.Random(r)
                [fn(s, q, rng) for s in lists]

            # interleaved, so machine-speed drift hits both sides of the ratio alike
            (best, med), (ref_best, _) = paired_best(lambda r, op=op: op.augment(train, seed=r), run_ref, repeats)
            ref_sps = n / ref_best
            extra |= {"python_reference_sequences_per_second": ref_sps, "speedup_vs_python": n / best / ref_sps}
            control = f"python-reference-{name}"
            results.append(
                _result(f"python-reference-{name}", None, ref_best, {"sequences_per_second": ref_sps})
            )
        else:
            best, med = best_time(lambda r, op=op: op.augment(train, seed=r), repeats)
        sps = n / best
        extra |= {"sequences_per_second": sps, "median_sequences_per_second": n / med}
        if name in ("insert-correlated", "substitute-correlated", "coserec-policy"):
            extra["similarity_fit_seconds"] = fit_s
        results.append(_result(name, control, best, extra))
        table.append(
            (name, sps, extra.get("python_reference_sequences_per_second"), extra.get("speedup_vs_python"))
        )

    # online use: a SASRec-sized left-padded batch through crop, per batch
    batch = train.to_padded(50)[:256]
    ob, _ = best_time(lambda r: augment_padded(Crop(ETA), batch, seed=r), repeats * 10)
    results.append(
        _result(
            "online-crop-batch256-maxlen50",
            None,
            ob,
            {"sequences_per_second": 256 / ob, "seconds_per_batch": ob},
        )
    )
    table.append(("online crop, batch 256 x 50", 256 / ob, None, None))

    doc = _common.write_result(
        args.out,
        "expand_throughput",
        results,
        quick=args.quick,
        device="cpu",
        protocol={
            "split": "leave_last_out",
            "train": "drop last 2 items per user",
            "threads": 1,
            "timing": f"best of {repeats}",
            "similarity": "iuf, k=20",
            "similarity_fit_seconds": {"iuf": fit_s, "cosine": sim_cos_s},
        },
    )
    doc_threads = doc["machine"]
    print(
        f"\nmachine: {doc_threads['cpu']}, 1 core; similarity fit (iuf, k=20): {fit_s:.2f}s, cosine {sim_cos_s:.2f}s"
    )
    print(f"{'op':32s} {'seq/s':>12s} {'python seq/s':>13s} {'ratio':>7s}")
    for name, sps, ref, ratio in table:
        ref_s = f"{ref:13,.0f}" if ref else f"{'':13s}"
        ratio_s = f"{ratio:6.1f}x" if ratio else ""
        print(f"{name:32s} {sps:12,.0f} {ref_s} {ratio_s}")
    print(f"\nwrote {args.out}")
    return 0


def _result(variant: str, control: str | None, seconds: float, extra: dict) -> dict:
    return {
        "dataset": "beauty",
        "variant": variant,
        "control": control,
        "seed": 0,
        "metrics": {},
        "segments": {},
        "seconds": {"augment": seconds},
        "peak_memory_mb": _common.peak_memory_mb(),
        "extra": copy.deepcopy(extra),
    }


if __name__ == "__main__":
    raise SystemExit(main())
