"""Shared plumbing for benchmark scripts: the result JSON of ../shared/BENCHMARKS.md.

Every script: ``--data-root``, ``--out``, ``--seeds``, ``--device``, ``--quick``; exit 2 with a
message when the data is missing; one JSON file written atomically; a short table on stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from recaug.cli._common import configure

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"

DATASETS = {
    "beauty": ("amazon_beauty", "Beauty"),
    "sports": ("amazon_sports_outdoors", "Sports_and_Outdoors"),
    "toys": ("amazon_toys_games", "Toys_and_Games"),
}


class _LogEpochs(argparse.Action):
    """``--log-epochs``: the library's INFO lines (one per epoch) on stderr.

    Background runs (nohup, no terminal) get no progress bar, so without this a run of hours says
    nothing until it ends.
    """

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, True)
        configure(verbose=True, quiet=False)  # the CLI's one stderr handler, with timestamps


def parser(description: str, *, default_out: str) -> argparse.ArgumentParser:
    """The common command-line flags."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / default_out)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="minutes-long smoke version; not for the README table")
    p.add_argument("--log-epochs", action=_LogEpochs, help="log every training epoch to stderr")
    return p


def step_speed_parser(description: str, *, default_out: str, batch_help: str) -> argparse.ArgumentParser:
    """`parser` plus the flags of the per-step timing scripts: ``--datasets --steps --batch``."""
    p = parser(description, default_out=default_out)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--steps", type=int, default=30, help="timed steps per dataset (3 with --quick)")
    p.add_argument("--batch", type=int, default=256, help=batch_help)
    return p


def require(path: Path) -> Path:
    """Exit 2 with a clear message when a data file is missing."""
    if not path.exists():
        print(f"missing benchmark data: {path} (pass --data-root pointing at shared/data)", file=sys.stderr)
        raise SystemExit(2)
    return path


def dataset_file(data_root: Path, name: str) -> Path:
    """The one-line-per-user file of a P1 dataset (beauty, sports, toys)."""
    folder, stem = DATASETS[name]
    return require(data_root / folder / f"{stem}.txt")


def p1_train(data_root: Path, name: str) -> tuple[Any, Any]:
    """A P1 dataset and its training part (leave-last-out: last item test, the one before valid)."""
    from recaug.data.io import read
    from recaug.split import LeaveLastOut

    dataset = read(dataset_file(data_root, name), format="s3rec")
    return dataset, LeaveLastOut(n_valid=1, n_test=1).split(dataset.interactions).train


def git_commit() -> str | None:
    """Short commit of the working tree (``-dirty`` with uncommitted changes), if any."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip() or None
    except OSError:
        return None


#: the commit the benchmark started from: a long run writes its file many times, and commits
#: made meanwhile do not change the code it already imported
STARTED_AT = git_commit()


def machine(device: str = "cpu") -> dict[str, Any]:
    """CPU model, threads, device."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch

        threads = torch.get_num_threads()
        if device != "cpu" and torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        threads = os.cpu_count()
    return {"cpu": cpu, "threads": threads, "device": device, "gpu": gpu}


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def epoch_seconds(history: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Epochs run, mean and summed seconds per epoch, from a model's ``history_``.

    A fit resumed from a checkpoint gets the earlier epochs' history back, so the wall time of
    the process that finished it covers only its last leg; ``epochs_total`` covers every leg.
    """
    epochs = [h for h in (history or []) if "seconds" in h]
    total = float(sum(h["seconds"] for h in epochs)) if epochs else None
    return {"epochs_run": len(epochs), "per_epoch": total / len(epochs) if total is not None else None,
            "epochs_total": total}


def best_valid(history: list[dict[str, Any]] | None) -> float | None:
    """The best validation value of a fit (what early stopping and default choices may read)."""
    values = [h["metric"] for h in (history or []) if isinstance(h.get("metric"), int | float)]
    return max(values) if values else None


def _finite(obj: Any) -> Any:
    """NaN/inf -> None so the file is strict JSON (an empty segment has no mean)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_result(
    out: Path, benchmark: str, results: list[dict[str, Any]], *, quick: bool, protocol: dict | None = None,
    device: str = "cpu", extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the result JSON atomically and return it (``extra``: more top-level fields)."""
    from recaug import __version__

    doc = {
        "benchmark": benchmark,
        "quick": quick,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recaug_version": __version__,
        "git_commit": STARTED_AT,
        "machine": machine(device),
        "protocol": protocol or {},
        "results": results,
        **(extra or {}),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps(_finite(doc), indent=2, allow_nan=False))
    os.replace(tmp, out)
    return doc
