"""``recaug run``, ``recaug report``, ``recaug config show|validate|schema`` and ``recaug tune``.

Thin wrappers over :mod:`recaug.pipeline` and :mod:`recaug.report`. CONFIG is a YAML file, or
``builtin:demo`` for the config ``recaug demo`` runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recaug.cli._common import (
    ForceOpt,
    JsonOpt,
    SetOpt,
    out,
    print_json,
    reporting_errors,
    say,
    split_list,
    state,
    terminate_as_interrupt,
)
from recaug.errors import DataError

BUILTIN = "builtin:"

ConfigArg = Annotated[
    str, typer.Argument(help="Pipeline config YAML file (or builtin:demo).", show_default=False)
]
OutDirOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Run directory (default: runs/<config name>).")
]


def load(config: str, overrides: list[str] | None, *, check_files: bool = True) -> Any:
    """A validated :class:`recaug.pipeline.Config` from a file or ``builtin:NAME``."""
    from recaug.errors import ConfigError
    from recaug.pipeline import load_config

    if config.startswith(BUILTIN):
        from recaug.pipeline.builtin import demo_config

        name = config[len(BUILTIN) :]
        if name != "demo":
            raise ConfigError(f"unknown built-in config {config!r}; have builtin:demo")
        return demo_config(overrides=list(overrides or []))
    path = Path(config)
    if not path.exists():
        raise DataError("no such config file", file=path, expected="a pipeline config YAML (or builtin:demo)")
    return load_config(path, list(overrides or []), check_files=check_files)


def config_inputs(config: str, cfg: Any) -> list[Path]:
    """The files a run reads: the config file (unless built in), ``data.path`` and ``data.item_side``."""
    found = [] if config.startswith(BUILTIN) else [Path(config)]
    return found + [Path(p) for p in (cfg.data.path, cfg.data.item_side) if p]


def print_outcome(run_dir: Path, *, segments: bool = True) -> None:
    """The headline of ``run_dir/report.json``: primary metric per variant and segment, lift, p-value;
    then the product-search results (all test events) when the run has them."""
    doc_file = run_dir / "report.json"
    if state.quiet or not doc_file.is_file():
        return
    doc = json.loads(doc_file.read_text(encoding="utf-8"))
    _print_headline(doc, segments)
    if doc.get("search"):
        print_search(doc["search"])


def print_search(search: dict[str, Any]) -> None:
    """One row per search model and arm (all test events): the search metrics, the lift of the
    primary metric over the same model's control and its per-event Wilcoxon p-value."""
    metrics = list(search.get("metrics") or [])
    pm = search.get("primary_metric")
    table = Table(title="Product search on test (full ranking, all events)", title_justify="left")
    for name in ("model", "arm", "events", *metrics, f"lift {pm}", "p"):
        table.add_column(name, justify="left" if name in ("model", "arm") else "right")
    rows = [r for t in search.get("tables", []) for r in t["rows"] if r["segment"] == "all"]
    reference = [r for r in rows if r["is_reference"]][:1]  # the same row in every model's table
    for r in [r for r in rows if not r["is_reference"]] + reference:
        cells = [_num(r["cells"].get(m, {}).get("mean")) for m in metrics]
        c = r["cells"].get(pm, {}) if pm else {}
        lift = "" if r["is_control"] or c.get("lift") is None else f"{c['lift']:+.1%}"
        p = "" if r["is_control"] else _p(c.get("wilcoxon_pvalue"))
        model = f"{r['model']} (reference)" if r["is_reference"] else r["model"]
        table.add_row(model, r["arm"], f"{r['n_events']:,}", *cells, lift, p)
    out.print(table)


def _print_headline(doc: dict[str, Any], segments: bool) -> None:
    metric, control = doc.get("primary_metric"), doc.get("control")
    rows = [r for r in doc.get("headline", {}).get("rows", []) if r.get("metric") == metric]
    if not rows:
        return
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    table = Table(
        title=f"{metric} on {doc.get('target')} (full ranking, per-user paired t-test)", title_justify="left"
    )
    table.add_column("segment")
    table.add_column("users", justify="right")
    for v in variants:
        table.add_column(v, justify="right")
    others = [v for v in variants if v != control]
    for v in others:
        table.add_column(f"lift {v}", justify="right")
        table.add_column("p", justify="right")
    shown = doc["headline"]["segments"] if segments else ["all"]
    for seg in shown:
        by_v = {r["variant"]: r for r in rows if r["segment"] == seg}
        if control not in by_v:
            continue
        cells = [_num(by_v.get(v, {}).get("mean")) for v in variants]
        for v in others:
            r = by_v.get(v, {})
            lift = r.get("lift")
            cells += ["–" if lift is None else f"{lift:+.1%}", _p(r.get("t_pvalue"))]
        table.add_row(seg, f"{by_v[control]['n_users']:,}", *cells)
    out.print(table)


def _num(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _p(x: Any) -> str:
    if x is None:
        return "–"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def run(
    config: ConfigArg,
    out_dir: OutDirOpt = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a run: unchanged stages are reused (a raised train.params.epochs continues the earlier fit).",
        ),
    ] = False,
    force: ForceOpt = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Stop after these stages (comma-separated or repeated), e.g. --only split; "
            "an unknown name lists the stages.",
        ),
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Run a pipeline config (every variant and seed) into a run directory and write its report."""
    with reporting_errors():
        from recaug.atomic import check_inputs
        from recaug.cli._flow import stage_lines
        from recaug.pipeline import run_pipeline

        cfg = load(config, set_)
        run_dir = out_dir or Path("runs") / cfg.name
        if force:  # only --force deletes; --resume writes next to what is there
            check_inputs(run_dir, config_inputs(config, cfg))
        with stage_lines(quiet_logs=False), terminate_as_interrupt():
            result = run_pipeline(cfg, run_dir, resume=resume, force=force, only=split_list(only) or None)
        print_outcome(run_dir)
        where = result.report if result.report is not None else run_dir
        say(
            f"done in {result.seconds:.1f} s: {len(result.ran)} stage(s) ran, {len(result.cached)} cached -> {where}"
        )


def report(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory (recaug run / recaug demo).", show_default=False)
    ],
) -> None:
    """(Re)write report.html, report.md and report.json of a run directory."""
    with reporting_errors():
        from recaug.report import write_report

        if not run_dir.is_dir():
            raise DataError("no such run directory", file=run_dir, expected="a folder written by recaug run")
        path = write_report(run_dir)
        print_outcome(run_dir)
        say(f"wrote {path} (+ report.md, report.json)")


config_app = typer.Typer(
    help="Show, validate or describe pipeline configs.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@config_app.command("show")
def config_show(config: ConfigArg, set_: SetOpt = None, as_json: JsonOpt = False) -> None:
    """Print the resolved config (every default filled in, overrides applied)."""
    with reporting_errors():
        from recaug.pipeline.config import dump_config

        cfg = load(config, set_, check_files=False)
        if as_json:
            print_json(cfg.model_dump(mode="json"))
        else:
            typer.echo(dump_config(cfg), nl=False)


@config_app.command("validate")
def config_validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check a config (keys, values, input files, ops, model names); exit 2 naming each problem."""
    with reporting_errors():
        from recaug.pipeline.config import check_model

        cfg = load(config, set_)
        check_model(cfg)
        say(f"ok: {config}: {len(cfg.variant_names())} variant(s) {cfg.variant_names()}, seeds {cfg.seeds}")


@config_app.command("schema")
def config_schema_cmd() -> None:
    """Print the JSON schema of the config file (for editors)."""
    with reporting_errors():
        from recaug.pipeline import config_schema

        print_json(config_schema())


def tune(
    config: ConfigArg,
    trials: Annotated[
        int, typer.Option("--trials", "-n", help="Policies to try (on the validation metric).")
    ],
    out_dir: OutDirOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Reuse the stages of an earlier search.")] = False,
    force: ForceOpt = False,
    set_: SetOpt = None,
) -> None:
    """Search the augmentation policy on validation (Optuna), then run the best against the control."""
    with reporting_errors():
        from recaug.atomic import check_inputs
        from recaug.cli._flow import stage_lines
        from recaug.errors import ConfigError
        from recaug.pipeline import tune as tune_pipeline

        if trials < 1:
            raise ConfigError(f"--trials must be >= 1, got {trials}")
        cfg = load(config, set_)
        run_dir = out_dir or Path("runs") / f"{cfg.name}-tune"
        if force:  # only --force deletes; --resume writes next to what is there
            check_inputs(run_dir, config_inputs(config, cfg))
        with stage_lines(quiet_logs=False):
            result = tune_pipeline(cfg, trials, run_dir, resume=resume, force=force)
        metric = cfg.tune.metric
        say(f"best valid {metric} = {result.best_value:.4f} with policy {json.dumps(result.best_policy)}")
        print_outcome(run_dir)
        where = result.run.report if result.run.report is not None else run_dir
        say(f"wrote {run_dir}/tune/ (study.json, trials.csv, best_policy.yaml) and {where}")
