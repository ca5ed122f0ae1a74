"""How sure is a synthesizer of its completions? Validation hits per probability gate.

    python benchmarks/completion_gate.py --dataset beauty --synthesizers vae gan --seeds 0 --cache /tmp/gucache

Fits (or loads from ``--cache``, with the same key as ``generate_utility.py``) each synthesizer on
the training rows, completes the users with at most ``--short`` training items with ``k`` greedy
items under each gate ``complete_min_prob`` in ``--gates``, and reports the rows kept, the users
who still get an item, and how many completion rows are the user's **validation** item
(precision, hit users). Completions help the users whose next item the synthesizer already
predicts and hurt the others (``README.md``), so a gate that keeps the hits while
dropping most rows is the one to try in ``generate_utility.py --complete-min-prob``. The test
items are never read: a gate picked from this table is picked without test data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from _cache import code_version, file_digest
from _common import REPO, dataset_file, parser, write_result
from generate_utility import SYNTHS, fitted_synthesizer, synth_epochs
from recaug import columns as C
from recaug.data.io import read
from recaug.generate import short_histories
from recaug.generate.gate import DEFAULT_GATES, gate_table
from recaug.split import LeaveLastOut

GATES = list(DEFAULT_GATES)


def main() -> None:
    """Run the gates for every requested synthesizer and seed; write JSON."""
    p = parser(__doc__.splitlines()[0], default_out="completion_gate.json")
    p.add_argument("--dataset", default="beauty", choices=["beauty", "sports", "toys"])
    p.add_argument("--synthesizers", nargs="+", default=["vae", "gan"], choices=["vae", "gan"])
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--short", type=int, default=5, help="complete users with at most this many training items")
    p.add_argument("--gates", type=float, nargs="+", default=GATES)
    p.add_argument("--synth-epochs", nargs="+", default=["30", "gan=5"], metavar="[NAME=]N")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick-users", type=int, default=2000, help="--quick: users kept (lowest codes)")
    p.add_argument("--cache", type=Path, default=None, help="fitted synthesizers, shared with generate_utility.py")
    args = p.parse_args()
    if not all(0.0 <= g < 1.0 for g in args.gates):
        raise SystemExit(f"--gates: every gate must be in [0, 1), got {args.gates}")
    args.epochs = args.patience = args.eval_every = None  # recommender settings: not in a synthesizer's key
    seeds = args.seeds[:1] if args.quick else args.seeds
    epochs = synth_epochs(args.synth_epochs, args.synthesizers, cap=3 if args.quick else None)
    data_path = dataset_file(args.data_root, args.dataset)
    args.data_digest = file_digest(data_path)
    code = code_version(REPO) if args.cache else None
    dataset = read(data_path, format="s3rec")
    inter = dataset.interactions
    if args.quick:
        inter = inter.filter(pl.col(C.USER) < args.quick_users)
    split = LeaveLastOut(n_valid=1, n_test=1).split(inter)
    short_hist = short_histories(split.train, args.short)
    valid = split.valid.frame.select(C.USER, C.ITEM)
    print(f"{args.dataset}: {short_hist.n_users} users with <= {args.short} training items", flush=True)
    results: list[dict[str, Any]] = []
    for seed in seeds:
        for s_name in args.synthesizers:
            cfg = {**SYNTHS[s_name], "epochs": epochs[s_name], "seed": seed, "device": args.device,
                   "threads": args.threads, "progress": False, "complete_temperature": 0.0}  # fmt: skip

            synth, meta, hit = fitted_synthesizer(args, cfg, seed, split.train, dataset, code)
            for row in gate_table(synth, short_hist, valid, args.k, seed=seed, gates=args.gates):
                results.append({"dataset": args.dataset, "variant": f"{s_name}-p{row['gate']:g}", "seed": seed,
                                "extra": {**row, "fit": meta["fit"], "from_cache": hit}})  # fmt: skip
                print(f"{s_name} seed={seed} gate {row['gate']:g}: {row['rows']} rows, {row['users']} users, "
                      f"{row['valid_hit_rows']} validation hits", flush=True)
    protocol = {"k": args.k, "short_users": f"<= {args.short} training interactions", "completion": "greedy",
                "hits": "validation items only (never test)"}  # fmt: skip
    write_result(args.out, "completion_gate", results, quick=args.quick, protocol=protocol, device=args.device)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
