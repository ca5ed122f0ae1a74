"""Data pipeline throughput: read Parquet -> preprocess (dedup + 5-core + remap) -> leave-last-out -> Sequences.

Generates a simulated e-commerce log (``recaug.data.demo.simulate_shop``) of about
``--n-interactions`` rows, saves it as a recaug dataset folder (Parquet), then times each
step of the chain in one process and records its peak resident memory (the kernel's
``VmHWM``, reset before every step through ``/proc/self/clear_refs``).

    python benchmarks/data_pipeline.py [--n-interactions 10000000] [--out ...] [--quick]

Target: the whole chain under 10 s and 4 GiB on a 2-core machine.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, write_result  # noqa: E402
from recaug.data import Dataset, Sequences  # noqa: E402
from recaug.data.demo import simulate_shop  # noqa: E402
from recaug.preprocess import Deduplicate, KCore, Preprocessor, RemapIds  # noqa: E402
from recaug.split import LeaveLastOut  # noqa: E402

MEAN_LENGTH = 20.0


def _status_kb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return float("nan")


def reset_peak() -> bool:
    """Reset the peak-RSS high-water mark (Linux >= 4.0); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024.0


def peak_mb() -> float:
    return _status_kb("VmHWM") / 1024.0


class Meter:
    """Times one step and records its peak RSS and the RSS it started from."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def run(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        gc.collect()
        reset_peak()
        start_rss = rss_mb()
        t0 = time.perf_counter()
        out = fn(*args)
        seconds = time.perf_counter() - t0
        self.rows.append({"step": name, "seconds": seconds, "peak_rss_mb": peak_mb(), "start_rss_mb": start_rss})
        return out


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0], default_out="data_pipeline.json")
    p.add_argument("--n-interactions", type=int, default=10_000_000)
    p.add_argument("--n-items", type=int, default=None, help="catalogue size (default n_interactions / 100)")
    p.add_argument("--keep-data", type=Path, default=None, help="write the generated dataset here and keep it")
    args = p.parse_args(argv)
    n_target = 1_000_000 if args.quick else args.n_interactions
    seed = args.seeds[0]
    n_users = max(1, round(n_target / MEAN_LENGTH))
    n_items = args.n_items or max(100, n_target // 100)

    t0 = time.perf_counter()
    ds = simulate_shop(n_users=n_users, n_items=n_items, seed=seed, mean_length=MEAN_LENGTH)
    gen_seconds = time.perf_counter() - t0
    n_rows = len(ds.interactions)
    print(f"generated {n_rows:,} interactions, {ds.vocab.n_users:,} users, {ds.vocab.n_items:,} items "
          f"in {gen_seconds:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep_data or Path(tmp) / "shop"
        t0 = time.perf_counter()
        ds.save(folder, force=True)
        save_seconds = time.perf_counter() - t0
        del ds
        gc.collect()

        meter = Meter()
        base_rss = rss_mb()
        chain_peak_reset = reset_peak()
        loaded = meter.run("read_parquet", Dataset.load, folder)
        pre = Preprocessor([Deduplicate(mode="consecutive"), KCore(user_k=5, item_k=5), RemapIds()])
        result = meter.run("preprocess", pre.run, loaded)
        del loaded
        clean = result.dataset
        split = meter.run("split_leave_last_out", LeaveLastOut().split, clean.interactions)
        seqs = meter.run("build_sequences", Sequences.from_interactions, split.train)
        chain_peak = peak_mb() if not chain_peak_reset else max(r["peak_rss_mb"] for r in meter.rows)

    total = sum(r["seconds"] for r in meter.rows)
    sub = [{"step": f"  {r.step}", "seconds": r.seconds, "rows_in": r.rows_in, "rows_out": r.rows_out,
            "dropped": r.dropped, "info": r.info} for r in result.reports]
    print(f"\n{'step':<24}{'seconds':>9}{'peak RSS MiB':>14}{'rows out':>14}")
    outs = {"read_parquet": result.reports[0].rows_in,
            "preprocess": result.reports[-1].rows_out, "split_leave_last_out": len(split.train),
            "build_sequences": len(seqs)}
    for r in meter.rows:
        print(f"{r['step']:<24}{r['seconds']:>9.2f}{r['peak_rss_mb']:>14.0f}{outs[r['step']]:>14,}")
        if r["step"] == "preprocess":
            for s in sub:
                print(f"{s['step']:<24}{s['seconds']:>9.2f}{'':>14}{s['rows_out']:>14,}")
    print(f"{'total':<24}{total:>9.2f}{chain_peak:>14.0f}")
    ok = total < 10.0 and chain_peak < 4096
    print(f"target (< 10 s, < 4096 MiB peak): {'met' if ok else 'NOT met'}"
          + ("  [quick run: numbers are smoke checks only]" if args.quick else ""))

    results = [{
        "dataset": f"simulate_shop(n_users={n_users}, n_items={n_items}, seed={seed})",
        "variant": "read->dedup(consecutive)+kcore(5,5)+remap->leave_last_out->sequences",
        "control": None,
        "seed": seed,
        "metrics": {},
        "segments": {},
        "seconds": {**{r["step"]: r["seconds"] for r in meter.rows}, "total": total},
        "peak_memory_mb": chain_peak,
        "extra": {
            "n_interactions": n_rows,
            "rows_after_preprocess": result.reports[-1].rows_out,
            "users_after_preprocess": clean.vocab.n_users,
            "items_after_preprocess": clean.vocab.n_items,
            "split_sizes": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
            "n_sequences": len(seqs),
            "steps": meter.rows,
            "preprocess_steps": sub,
            "generate_seconds": gen_seconds,
            "save_parquet_seconds": save_seconds,
            "baseline_rss_mb": base_rss,
            "peak_measure": "VmHWM reset per step via /proc/self/clear_refs" if chain_peak_reset else "ru_maxrss",
            "interactions_per_second": n_rows / total if total else None,
            "target_met": ok,
        },
    }]
    protocol = {"split": "leave_last_out", "n_valid": 1, "n_test": 1, "preprocess": pre.to_config()}
    write_result(args.out, "data_pipeline", results, quick=args.quick, protocol=protocol)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
