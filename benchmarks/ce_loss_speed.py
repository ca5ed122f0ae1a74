"""Seconds per full-softmax CE step (SASRec ``loss="ce"``), plain vs chunked, on one core.

SASRec's CE loss scores every training position against every item. Written plainly
(``F.cross_entropy(hidden @ items.T)``) each step allocates the (positions × items) logits and
their gradient afresh; on CPU those are fresh memory maps whose page faults cost as much system
time as the products cost arithmetic. ``recaug.models.losses.softmax_ce`` (what SASRec uses on
CPU) computes the loss over chunks of rows and recomputes each chunk's logits in the backward
pass. This times forward + backward of both on the batches SASRec trains on (256 random training
users, their positions up to ``max_len``, hidden size 64), interleaved so machine noise hits both
alike, and reports the median wall time and the user/system CPU time per step.

    python benchmarks/ce_loss_speed.py [--data-root ../shared/data] [--datasets beauty sports toys] [--quick]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from recaug import columns as C  # noqa: E402
from recaug.models.losses import softmax_ce  # noqa: E402


def plain(hidden: torch.Tensor, items: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The straightforward form: the whole logits matrix at once."""
    return F.cross_entropy(hidden @ items.T, targets, reduction="none")


def time_steps(
    positions: np.ndarray, n_items: int, batch: int, steps: int, seed: int
) -> tuple[dict[str, dict[str, float]], float]:
    """Median wall seconds and mean user/system CPU seconds per step of both forms, and the
    largest difference between their per-position losses."""
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    items = (torch.randn(n_items, 64, generator=gen) * 0.1).requires_grad_()
    forms = {"plain": plain, "chunked": softmax_ce}
    wall: dict[str, list[float]] = {k: [] for k in forms}
    cpu = {k: {"user": 0.0, "sys": 0.0} for k in forms}
    worst = 0.0
    for _ in range(steps):
        n = int(positions[rng.choice(len(positions), size=batch, replace=False)].sum())
        hidden = torch.randn(n, 64, generator=gen).requires_grad_()
        targets = torch.randint(0, n_items, (n,), generator=gen)
        losses = {}
        for name, form in forms.items():
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            loss = form(hidden, items, targets)
            loss.mean().backward()
            wall[name].append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu[name]["user"] += (r1.ru_utime - r0.ru_utime) / steps
            cpu[name]["sys"] += (r1.ru_stime - r0.ru_stime) / steps
            losses[name] = loss.detach()
            hidden.grad = items.grad = None
        worst = max(worst, float((losses["plain"] - losses["chunked"]).abs().max()))
    out = {k: {"wall_s": float(np.median(wall[k])), "user_s": cpu[k]["user"], "sys_s": cpu[k]["sys"]} for k in forms}
    return out, worst


def main() -> int:
    p = _common.step_speed_parser(__doc__.splitlines()[0], default_out="ce_loss_speed.json",
                                  batch_help="SASRec's batch size (users)")
    p.add_argument("--max-len", type=int, default=50)
    args = p.parse_args()
    torch.set_num_threads(1)
    steps = 3 if args.quick else args.steps
    results = []
    for name in args.datasets:
        ds, train = _common.p1_train(args.data_root, name)
        lengths = np.bincount(train.users)
        positions = np.minimum(lengths[lengths > 0] - 1, args.max_len)  # next-item targets per user
        n_items = int(ds.vocab.item_space) - C.N_RESERVED
        t, worst = time_steps(positions, n_items, args.batch, steps, args.seeds[0])
        row = {
            "dataset": name,
            "items": n_items,
            "mean_positions_per_batch": round(float(positions.mean()) * args.batch, 1),
            "steps": steps,
            **{f"{form}_{k}": round(v, 4) for form in ("plain", "chunked") for k, v in t[form].items()},
            "speedup_wall": round(t["plain"]["wall_s"] / t["chunked"]["wall_s"], 2),
            "speedup_cpu": round((t["plain"]["user_s"] + t["plain"]["sys_s"])
                                 / (t["chunked"]["user_s"] + t["chunked"]["sys_s"]), 2),  # fmt: skip
            "max_abs_loss_difference": worst,
        }
        print(row, flush=True)
        results.append(row)
    protocol = {"threads": 1, "hidden": 64, "batch_users": args.batch, "max_len": args.max_len,
                "step": "forward + backward of the per-position loss's mean", "statistic": "median wall, mean CPU"}
    _common.write_result(args.out, "ce_loss_speed", results, quick=args.quick, protocol=protocol)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
