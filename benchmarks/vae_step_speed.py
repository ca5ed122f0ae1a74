"""Seconds per Mult-VAE training step, before and after the sparse input and fused Adam, on one core.

``VAENet`` accepts a dense ``(batch, items)`` matrix or a sparse COO one; training uses the
sparse form (only a user's items are normalised, dropped out and multiplied in the first
layer), and ``recaug.models.training.adam`` uses PyTorch's fused Adam kernel. This times full
steps (forward, backward, Adam) of three variants on the P1 training matrix: ``before`` (dense
input, PyTorch's default Adam), ``sparse`` (sparse input, default Adam) and ``now`` (sparse
input, fused Adam), interleaved so machine noise hits all alike, and reports the median of each.

    python benchmarks/vae_step_speed.py [--data-root ../shared/data] [--datasets beauty sports] [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from recaug.models.inputs import sparse_rows_to_dense, sparse_rows_to_torch, user_item_matrix  # noqa: E402
from recaug.models.nets.vae import VAENet  # noqa: E402
from recaug.models.training import adam  # noqa: E402


def time_steps(matrix: Any, users: np.ndarray, batch: int, steps: int, seed: int) -> dict[str, float]:
    """Median seconds per training step of every variant."""
    variants = {
        "before": (sparse_rows_to_dense, torch.optim.Adam),
        "sparse": (sparse_rows_to_torch, torch.optim.Adam),
        "now": (sparse_rows_to_torch, adam),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    nets, optimizers = {}, {}
    for name, (_, make_optimizer) in variants.items():
        torch.manual_seed(seed)
        nets[name] = VAENet(matrix.shape[1], [600], 200, 0.5).train()
        optimizers[name] = make_optimizer(nets[name].parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        rows = users[rng.choice(len(users), size=batch, replace=False)]
        for name, (to_tensor, _) in variants.items():
            t0 = time.perf_counter()
            x = to_tensor(matrix, rows)
            logits, mu, logvar = nets[name](x)
            loss = VAENet.loss(logits, x, mu, logvar, 0.2)
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def main() -> int:
    p = _common.step_speed_parser(__doc__.splitlines()[0], default_out="vae_step_speed.json",
                                  batch_help="the VAE synthesizer's batch size")
    args = p.parse_args()
    torch.set_num_threads(1)
    steps = 3 if args.quick else args.steps
    results = []
    for name in args.datasets:
        ds, train = _common.p1_train(args.data_root, name)
        n_users = int(train.users.max()) + 1
        matrix = user_item_matrix(train, n_users, ds.vocab.item_space)
        users = np.flatnonzero(np.diff(matrix.indptr) > 0)
        median = time_steps(matrix, users, args.batch, steps, args.seeds[0])
        per_epoch = -(-len(users) // args.batch)
        row = {
            "dataset": name,
            "item_space": int(matrix.shape[1]),
            "users": len(users),
            "batch": args.batch,
            "steps": steps,
            **{f"{k}_s_per_step": round(v, 4) for k, v in median.items()},
            "speedup": round(median["before"] / median["now"], 2),
            "now_s_per_epoch": round(median["now"] * per_epoch, 1),
        }
        print(row, flush=True)
        results.append(row)
    protocol = {"threads": 1, "net": "600-200-600, dropout 0.5", "step": "forward + backward + Adam", "statistic": "median"}
    _common.write_result(args.out, "vae_step_speed", results, quick=args.quick, protocol=protocol)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
