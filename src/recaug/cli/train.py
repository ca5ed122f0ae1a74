"""``recaug train`` and ``recaug evaluate``: fit one model on a split, evaluate it with full ranking.

``train`` writes::

    OUT/model/          config.json + state.pt (Recommender.save)
    OUT/protocol.json   the evaluation protocol (split + ranking defaults)
    OUT/history.json    per-epoch training curves (neural models)
    OUT/train.json      model, settings, seed, device, data fingerprint, split sizes, timings

``evaluate`` re-splits DATA with the protocol saved in the model folder and writes
``per_user.parquet`` + ``summary.json`` (``recaug.evaluate.EvalResult.save``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recaug.cli._common import (
    ForceOpt,
    FormatOpt,
    JsonOpt,
    OutOpt,
    SeedOpt,
    SetOpt,
    SplitOpt,
    out,
    parse_ks,
    parse_params,
    print_json,
    refuse_existing,
    reporting_errors,
    say,
    state,
)
from recaug.errors import ConfigError, DataError
from recaug.split.repeats import DEFAULT_REPEATS

DEVICES = ("auto", "cpu", "cuda")


def _fingerprint(path: Path) -> str:
    from recaug.pipeline.cache import path_fingerprint

    return path_fingerprint(path)


def train(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="Dataset folder (recaug data import) or a raw file with --format.", show_default=False
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="pop, itemknn, bpr, multvae, gru4rec, sasrec.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Model setting KEY=VALUE (repeatable).")
    ] = None,
    split: SplitOpt = "leave_last_out",
    epochs: Annotated[int | None, typer.Option("--epochs", help="Training epochs (neural models).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    seed: SeedOpt = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output folder to write.", show_default=False)
    ] = None,
    force: ForceOpt = False,
    format: FormatOpt = "auto",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Train every variant of a pipeline config instead (recaug run --only train).",
        ),
    ] = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Split DATA, fit a model on the training part (valid for early stopping), save it to OUT."""
    with reporting_errors():
        if config is not None:
            _train_config(config, output, force, list(set_ or []), as_json)
            return
        if data is None or model is None or output is None:
            raise ConfigError("train needs DATA, --model and -o/--output (or --config CFG.yaml)")
        if set_:
            raise ConfigError("--set needs --config")
        if device not in DEVICES:
            raise ConfigError(f"--device {device!r}: choose one of {', '.join(DEVICES)}")
        if epochs is not None and epochs < 0:
            raise ConfigError(f"--epochs must be >= 0, got {epochs}")
        from recaug.cli._flow import load_data, make_split, split_settings
        from recaug.models.base import build_model
        from recaug.pipeline.runner import resolve_device

        settings = split_settings(split)
        params = parse_params(param)
        if epochs is not None:
            params["epochs"] = epochs
        recommender = build_model(model, params, seed=seed, device=device, where="--param")
        refuse_existing(output, force, inputs=(data,))
        t0 = time.perf_counter()
        dataset = load_data(data, format)
        parts = make_split(dataset.interactions, settings)
        t_fit = time.perf_counter()
        recommender.fit(parts.train, parts.valid, item_space=dataset.vocab.item_space)
        fit_seconds = time.perf_counter() - t_fit
        from recaug.atomic import atomic_dir, write_json

        history = [dict(h) for h in getattr(recommender, "history_", []) or []]
        doc: dict[str, Any] = {
            "command": "train",
            "model": model,
            "params": params,
            "seed": seed,
            "device": str(getattr(recommender, "torch_device", None) or resolve_device(device)),
            "data": {"path": str(data), "format": format, "fingerprint": _fingerprint(data)},
            "split": settings,
            "rows": {p: len(getattr(parts, p)) for p in ("train", "valid", "test")},
            "users": dataset.vocab.n_users,
            "items": dataset.vocab.n_items,
            "epochs": len(history),
            "best_epoch": getattr(recommender, "best_epoch_", None),
            "fit_seconds": round(fit_seconds, 4),
        }
        with atomic_dir(output, force=force) as folder:
            recommender.save(folder / "model")
            protocol_doc = {**parts.protocol.to_dict(), "model": model, "seed": seed}
            write_json(folder / "protocol.json", protocol_doc, finite=True)
            history_doc = {"model": model, "history": history, "best_epoch": doc["best_epoch"]}
            write_json(folder / "history.json", history_doc, finite=True)
            doc["seconds"] = round(time.perf_counter() - t0, 4)
            write_json(folder / "train.json", doc, finite=True)
        if as_json:
            print_json(doc)
            return
        scores = [h["metric"] for h in history if isinstance(h.get("metric"), int | float)]
        tc = getattr(recommender, "train_config", None)
        valid = f", best valid {getattr(tc, 'valid_metric', 'metric')} {max(scores):.4f}" if scores else ""
        say(
            f"wrote {output}: {model} on {doc['rows']['train']:,} training rows, "
            f"{doc['epochs']} epoch(s){valid} in {doc['seconds']:.2f} s"
        )


def _train_config(
    config: Path, output: Path | None, force: bool, overrides: list[str], as_json: bool
) -> None:
    """``train --config``: the pipeline up to ``train`` for every variant and seed."""
    from recaug.cli._flow import stage_lines
    from recaug.pipeline import load_config, run_pipeline

    cfg = load_config(config, overrides)
    run_dir = output or Path("runs") / cfg.name
    if force:  # --force deletes a recaug output: never one that holds the config or its data
        from recaug.atomic import check_inputs
        from recaug.cli.pipeline import config_inputs

        check_inputs(run_dir, config_inputs(str(config), cfg))
    import contextlib

    lines = contextlib.nullcontext() if as_json else stage_lines(quiet_logs=False)
    with lines:
        result = run_pipeline(cfg, run_dir, force=force, resume=not force, only=["train"])
    models = {
        f"{v}/{s}": str(run_dir / rec["stages"]["train"] / "model")
        for v, seeds in result.arms.items()
        for s, rec in seeds.items()
        if "train" in rec["stages"]
    }
    if as_json:
        print_json({"run_dir": str(run_dir), "models": models})
        return
    for name, path in models.items():
        say(f"model {name}: {path}")


def evaluate(
    data: Annotated[
        Path,
        typer.Argument(help="The dataset the model was trained on (folder or raw file).", show_default=False),
    ],
    model_dir: Annotated[
        Path, typer.Option("--model-dir", "-m", help="Folder written by recaug train.", show_default=False)
    ],
    output: OutOpt,
    ks: Annotated[
        list[str] | None,
        typer.Option("--ks", help="Cut-offs, comma-separated or repeated (default 5,10,20)."),
    ] = None,
    target: Annotated[str, typer.Option("--target", help="test or valid.")] = "test",
    sampled: Annotated[
        int | None,
        typer.Option(
            "--sampled", help="Rank against N sampled negatives instead of all items (labelled as such)."
        ),
    ] = None,
    repeats: Annotated[
        str,
        typer.Option(
            "--repeats",
            help="A target the user already had: 'unreachable' (masked with the history, P1) "
            "or 'rankable' (ranked by its score).",
        ),
    ] = DEFAULT_REPEATS,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    format: FormatOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Full-ranking evaluation of a trained model: per-user Parquet, summary JSON, a table per segment."""
    with reporting_errors():
        if target not in ("test", "valid"):
            raise ConfigError(f"--target {target!r}: choose test or valid")
        if sampled is not None and sampled < 1:
            raise ConfigError(f"--sampled must be a positive number of negatives, got {sampled}")
        from recaug.cli._flow import load_data, make_split
        from recaug.evaluate import Evaluator
        from recaug.models.base import Recommender

        evaluator = Evaluator(ks=parse_ks(ks), candidates=sampled or "all", seed=seed, repeats=repeats)
        refuse_existing(output, force, inputs=(data, model_dir))
        info = _read_train_json(model_dir)
        dataset = load_data(data, format)
        parts = make_split(dataset.interactions, info["split"])
        if parts.train.frame.height != info.get("rows", {}).get("train", parts.train.frame.height):
            raise DataError(
                f"DATA does not split into the {info['rows']['train']:,} training rows the model saw",
                file=data,
                expected="the dataset the model in " + str(model_dir) + " was trained on",
            )
        model = Recommender.load(model_dir / "model")
        result = evaluator.evaluate(model, parts, target, item_categories=dataset)
        result.protocol = {**result.protocol, "model": info.get("model"), "model_dir": str(model_dir)}
        show_result(result, output, force=force, as_json=as_json)


def _read_train_json(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "train.json"
    if not model_dir.is_dir():
        raise DataError("no such model folder", file=model_dir, expected="a folder written by recaug train")
    if not path.is_file() or not (model_dir / "model" / "config.json").is_file():
        raise DataError(
            "not a model folder", file=model_dir, expected="train.json and model/ from recaug train"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"unreadable train.json: {exc}", file=path) from None


def show_result(result: Any, output: Path, *, force: bool, as_json: bool) -> None:
    """Save an evaluation result to ``output`` and show it: its summary JSON, or the table and segments."""
    result.save(output, force=force)
    if as_json:
        print_json(json.loads((output / "summary.json").read_text(encoding="utf-8")))
    elif not state.quiet:
        say(result.describe())
        render_segments(result.by_segment(), result.metric_names)
        say(f"wrote {output}")


def render_segments(segments: dict[str, dict[str, Any]], metrics: list[str]) -> None:
    """One row per segment (users + every metric) as a rich table."""
    table = Table(title="per segment", title_justify="left")
    table.add_column("segment")
    table.add_column("users", justify="right")
    metrics = [m for m in metrics if m.startswith(("HR@", "NDCG@"))] or metrics
    for m in metrics:
        table.add_column(m, justify="right")
    for name, seg in segments.items():
        cells = [f"{seg['metrics'].get(m, float('nan')):.4f}" for m in metrics]
        table.add_row(name, f"{seg['n_users']:,}", *cells)
    out.print(table)
