"""``recaug demo``: the whole flow on the built-in simulated shop, written into one folder.

The demo is a list of :class:`Stage` objects run in order over a shared :class:`DemoRun`;
later stages (generate, expand, train, evaluate, report) are added by appending to
:data:`STAGES`. Every stage returns rows in/out and the runner times it and prints one line.

Output folder (written atomically)::

    dataset/          the preprocessed dataset (recaug folder format)
    split/            train.parquet, valid.parquet, test.parquet
    protocol.json     the evaluation protocol
    preprocess.json   one report per preprocessing step
    describe.json     statistics of the preprocessed dataset
    manifest.json     versions, settings and per-stage timings
"""

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from recaug import __version__
from recaug.atomic import atomic_dir
from recaug.cli._common import reporting_errors, say
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, OutputExistsError
from recaug.split.base import Split

log = logging.getLogger("recaug.cli.demo")


@dataclass
class DemoRun:
    """State shared by the demo stages; ``folder`` is the (temporary) output folder."""

    folder: Path
    seed: int = 0
    n_users: int = 3000
    raw: Dataset | None = None
    dataset: Dataset | None = None
    split: Split | None = None
    results: dict[str, Any] = field(default_factory=dict)

    def write_json(self, name: str, payload: Any) -> None:
        """Write ``payload`` as ``folder/name`` (pretty JSON)."""
        (self.folder / name).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")


@dataclass(frozen=True)
class StageResult:
    """What a stage reports: rows it received and produced, plus a short note."""

    rows_in: int
    rows_out: int
    note: str = ""


@dataclass(frozen=True)
class Stage:
    """A named step of the demo."""

    name: str
    run: Callable[[DemoRun], StageResult]


def simulate(run: DemoRun) -> StageResult:
    """Simulate the shop log."""
    from recaug.data.demo import simulate_shop

    run.raw = simulate_shop(n_users=run.n_users, n_items=max(run.n_users // 2, 50), seed=run.seed)
    return StageResult(
        0, len(run.raw.interactions), f"{run.raw.vocab.n_users:,} users, {run.raw.vocab.n_items:,} items"
    )


def preprocess(run: DemoRun) -> StageResult:
    """Default preprocessing (dedup, 5-core, remap); writes ``preprocess.json``."""
    from recaug.preprocess import Preprocessor

    assert run.raw is not None
    preprocessor = Preprocessor.default()
    result = preprocessor.run(run.raw)
    run.dataset = result.dataset
    reports = [r.to_dict() for r in result.reports]
    run.write_json("preprocess.json", {"steps": preprocessor.to_config(), "reports": reports})
    dropped: dict[str, int] = {}
    for r in result.reports:
        for why, n in r.dropped.items():
            dropped[why] = dropped.get(why, 0) + int(n)
    note = ", ".join(f"{why} -{n:,}" for why, n in dropped.items() if n) or "nothing dropped"
    return StageResult(len(run.raw.interactions), len(run.dataset.interactions), note)


def split(run: DemoRun) -> StageResult:
    """Leave-last-out split; writes ``split/*.parquet`` and ``protocol.json``."""
    from recaug.split import LeaveLastOut

    assert run.dataset is not None
    run.split = LeaveLastOut().split(run.dataset.interactions)
    parts = run.folder / "split"
    parts.mkdir()
    for name in ("train", "valid", "test"):
        getattr(run.split, name).frame.write_parquet(parts / f"{name}.parquet")
    run.split.protocol.save(run.folder / "protocol.json")
    sizes = {name: len(getattr(run.split, name)) for name in ("train", "valid", "test")}
    note = " / ".join(f"{k} {v:,}" for k, v in sizes.items())
    return StageResult(len(run.dataset.interactions), sum(sizes.values()), note)


def describe(run: DemoRun) -> StageResult:
    """Statistics of the preprocessed dataset; writes ``describe.json``."""
    from recaug.data.describe import describe as describe_dataset

    assert run.dataset is not None
    stats = describe_dataset(run.dataset)
    run.results["describe"] = stats
    run.write_json("describe.json", stats)
    n = len(run.dataset.interactions)
    return StageResult(
        n, n, f"{stats['users']:,} users, {stats['items']:,} items, density {stats['density']:.4f}"
    )


def save(run: DemoRun) -> StageResult:
    """The preprocessed dataset as ``dataset/``."""
    assert run.dataset is not None
    run.dataset.save(run.folder / "dataset")
    n = len(run.dataset.interactions)
    return StageResult(n, n, "dataset/")


#: The demo flow, in order. Append stages here (generate, expand, train, evaluate, report).
STAGES: list[Stage] = [
    Stage("simulate", simulate),
    Stage("preprocess", preprocess),
    Stage("split", split),
    Stage("describe", describe),
    Stage("save", save),
]


def run_stages(run: DemoRun, stages: list[Stage]) -> list[dict[str, Any]]:
    """Run ``stages`` in order, printing one line each; returns their timings for the manifest."""
    width = max(len(s.name) for s in stages)
    timings = []
    for stage in stages:
        t0 = time.perf_counter()
        log.debug("stage %s: start", stage.name)
        result = stage.run(run)
        seconds = time.perf_counter() - t0
        say(
            f"{stage.name:<{width}}  {result.rows_in:>10,} -> {result.rows_out:>10,} rows  {seconds:7.2f} s"
            + (f"  {result.note}" if result.note else "")
        )
        timings.append(
            {
                "stage": stage.name,
                "rows_in": result.rows_in,
                "rows_out": result.rows_out,
                "seconds": round(seconds, 4),
                "note": result.note,
            }
        )
    return timings


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write.", show_default=False)],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output folder.")] = False,
    users: Annotated[int, typer.Option("--users", help="Simulated users.")] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Simulate a shop, preprocess, split and describe it, and write everything to OUT."""
    with reporting_errors():
        if users < 1:
            raise ConfigError(f"--users must be at least 1, got {users}")
        if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
            raise OutputExistsError(f"output {out} already exists; pass --force to replace it")
        t0 = time.perf_counter()
        with atomic_dir(out, force=force) as folder:
            run = DemoRun(folder, seed=seed, n_users=users)
            timings = run_stages(run, STAGES)
            run.write_json("manifest.json", {
                "command": "demo",
                "recaug_version": __version__,
                "python": platform.python_version(),
                "settings": {"users": users, "seed": seed},
                "stages": timings,
                "seconds": round(time.perf_counter() - t0, 4),
            })  # fmt: skip
        say(f"wrote {out} in {time.perf_counter() - t0:.2f} s")
