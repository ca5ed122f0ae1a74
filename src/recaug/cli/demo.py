"""``recaug demo``: the whole flow on the built-in simulated shop, through the pipeline runner.

simulate -> preprocess (dedup + at least 3 interactions, so short-history users stay) ->
leave-last-out split -> expand (one policy, training part only) -> train a small SASRec for
the control and the augmented arm under the same seed -> full-ranking evaluation with
segments -> report with per-user paired tests. Next to it, the product-search arm: the shop's own
searches (views that came with a query), split per user, BM25 as the reference and a small dense
two-tower model trained with and without query augmentation under the same seed, every test
event ranked among all items, paired per-event tests. The config is built in
(:mod:`recaug.pipeline.builtin`), so the demo runs from an installed package;
``recaug config show builtin:demo`` prints it and ``recaug run builtin:demo`` runs it too.

The output folder is a run directory (see :mod:`recaug.pipeline.rundir`): ``report.html``,
``report.md``, ``report.json``, ``results.json``, ``protocol.json``, ``manifest.json``,
``config.resolved.yaml``, ``logs.jsonl`` and ``stages/<stage>/<key>/`` (dataset, split,
expanded sequences, fused training data, models, per-user results).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from recaug.cli._common import ForceOpt, SetOpt, refuse_existing, reporting_errors, say
from recaug.errors import ConfigError


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.", show_default=False)],
    force: ForceOpt = False,
    users: Annotated[int, typer.Option("--users", help="Simulated users (items: half as many).")] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation and of both arms.")] = 0,
    set_: SetOpt = None,
) -> None:
    """Simulate a shop and run the whole flow (control vs augmented SASRec, and the product-search arm); write a report to OUT."""
    with reporting_errors():
        if users < 1:
            raise ConfigError(f"--users must be at least 1, got {users}")
        from recaug.cli._flow import stage_lines
        from recaug.cli.pipeline import print_outcome
        from recaug.pipeline import run_pipeline
        from recaug.pipeline.builtin import demo_config

        config = demo_config(users, seed, list(set_ or []))
        refuse_existing(out, force)
        t0 = time.perf_counter()
        arms = ", ".join(config.variant_names())
        search = ""
        if config.search is not None:
            from recaug.pipeline.search_stages import search_arms

            models = ", ".join(dict.fromkeys(a.model + (" (reference)" if a.reference else "")
                                             for a in search_arms(config.search)))  # fmt: skip
            search = f"; search: {models}" + (f" vs {config.search.augment.name}" if config.search.augment else "")
        say(
            f"recaug demo: {users:,} simulated users, seed {seed}, model {config.train.model}, "
            f"arms {arms}{search} -> {out}"
        )
        with stage_lines(quiet_logs=True):
            result = run_pipeline(config, out, force=force)
        print_outcome(out)
        say(
            f"report: {result.report}  (also report.md, report.json; run folder {out}) in {time.perf_counter() - t0:.1f} s"
        )
