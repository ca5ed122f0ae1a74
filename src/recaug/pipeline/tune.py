"""``tune``: search the augmentation policy with Optuna on the **validation** metric, then test once.

Search space (``config.tune``): for each op in ``tune.ops`` whether to use it and its intensity
(crop keeps ``1 - intensity`` of a sequence; mask/reorder/insert/substitute/noise use it as their
rate), the number of augmented views, and optionally the synthetic share (``fuse.ratio``). Several
chosen ops are combined with ``one_of``. Each trial trains under the first seed and is evaluated
on the validation target only; test data is never looked at during the search. The best policy
then runs as variant ``tuned`` against the control under every seed with the usual
valid + test evaluation, in the same run directory (so its report shows the search).

Writes ``OUT/tune/study.json`` (every trial), ``OUT/tune/trials.csv`` and
``OUT/tune/best_policy.yaml`` (the variant override to paste into a config). Optuna is the
optional ``tune`` extra and is imported only here.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recaug.atomic import write_json, write_text
from recaug.errors import ConfigError
from recaug.pipeline.config import Config, check_model, dump_config
from recaug.pipeline.registry import index
from recaug.pipeline.rundir import Manifest, attach_json_log, prepare_run_dir
from recaug.pipeline.runner import Runner, RunResult, resolve_device, run_pipeline

log = logging.getLogger("recaug.pipeline.tune")

#: How an op's intensity in [0, 1] maps to its setting.
INTENSITY = {
    "crop": lambda x: {"eta": round(max(0.05, 1.0 - x), 4)},
    "mask": lambda x: {"gamma": round(x, 4)},
    "reorder": lambda x: {"beta": round(x, 4)},
    "insert": lambda x: {"rate": round(x, 4)},
    "substitute": lambda x: {"rate": round(x, 4)},
    "noise": lambda x: {"rate": round(x, 4)},
}


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError("tuning needs optuna, an optional extra: pip install 'recaug[tune]'") from None
    return optuna


@dataclass
class TuneResult:
    """The search: every trial, the best policy (a variant override) and the final run."""

    out_dir: Path
    best_policy: dict[str, Any]
    best_value: float
    trials: list[dict[str, Any]]
    run: RunResult


def policy_from_params(params: dict[str, Any]) -> dict[str, Any]:
    """Trial parameters -> a variant override ``{"expand": {...}, "fuse": {...}}``."""
    ops = []
    for key, used in sorted(params.items()):
        if key.startswith("use_") and used:
            op = key[4:]
            setting = INTENSITY.get(op, lambda _x: {})(params.get(f"intensity_{op}", 0.0))
            ops.append({"op": op, **setting})
    override: dict[str, Any] = {}
    if ops:
        policy = ops[0] if len(ops) == 1 else {"op": "one_of", "ops": ops}
        override["expand"] = {"policy": policy, "n_views": int(params.get("n_views", 1))}
    else:
        override["expand"] = {"policy": None}
    if "synthetic_share" in params:
        override["fuse"] = {"ratio": round(float(params["synthetic_share"]), 4)}
    return override


def suggest(trial: Any, config: Config) -> dict[str, Any]:
    """Ask the trial for one point of the search space; returns its variant override."""
    t = config.tune
    params: dict[str, Any] = {}
    for op in t.ops:
        params[f"use_{op}"] = trial.suggest_categorical(f"use_{op}", [True, False])
        if params[f"use_{op}"] and op in INTENSITY:
            params[f"intensity_{op}"] = trial.suggest_float(f"intensity_{op}", *t.intensity)
    if any(params.get(f"use_{op}") for op in t.ops):
        lo, hi = t.n_views
        params["n_views"] = trial.suggest_int("n_views", lo, hi) if hi > lo else lo
    if t.synthetic_share is not None:
        params["synthetic_share"] = trial.suggest_float("synthetic_share", *t.synthetic_share)
    return policy_from_params(params)


def _with_variants(config: Config, variants: dict[str, Any], targets: list[str]) -> Config:
    raw = config.model_dump(mode="json")
    raw["variants"] = variants
    raw["evaluate"]["targets"] = targets
    return Config.model_validate(raw)


def tune(
    config: Config, trials: int, out_dir: str | Path, *, resume: bool = False, force: bool = False
) -> TuneResult:
    """Search ``trials`` augmentation policies on validation, then run the best against the control."""
    optuna = _optuna()
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    out = Path(out_dir)
    check_model(config)
    metric = config.tune.metric
    prepare_run_dir(out, resume=resume, force=force)
    write_text(out / "config.resolved.yaml", dump_config(config))
    manifest = Manifest(out / "manifest.json")
    manifest.start(
        config_hash="tune",
        seeds=[config.seeds[0]],
        device=resolve_device(config.train.device),
        resume=resume,
        only=None,
    )
    runner = Runner(out, manifest)
    seed = config.seeds[0]
    last = index("evaluate")  # the search trains and validates; the report comes with the final run
    records: list[dict[str, Any]] = []
    started = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.tune.seed)
    )

    with attach_json_log(out / "logs.jsonl"):
        shared = runner.shared(config, last)

        def objective(trial: Any) -> float:
            override = suggest(trial, config)
            arm = _with_variants(config, {"trial": override}, ["valid"]).for_variant("trial")
            entries = runner.arm(arm, f"trial{trial.number}", seed, shared, last)
            value = float(entries["evaluate"].info["summary"]["valid"][metric])
            records.append(
                {"number": trial.number, "value": value, "params": dict(trial.params), "policy": override}
            )
            log.info(
                "trial %d: validation %s = %.4f with %s",
                trial.number,
                metric,
                value,
                override,
                extra={"trial": trial.number, "value": value},
            )
            return value

        study.optimize(objective, n_trials=trials)
    manifest.finish("ok", time.perf_counter() - started)

    best = study.best_trial
    best_policy = next(r["policy"] for r in records if r["number"] == best.number)
    final = _with_variants(
        config, {"tuned": {"description": f"best of {trials} trials", **best_policy}}, ["valid", "test"]
    )
    tune_dir = out / "tune"
    tune_dir.mkdir(exist_ok=True)
    best_yaml = yaml.safe_dump({"variants": {"tuned": best_policy}}, sort_keys=False)
    write_text(tune_dir / "best_policy.yaml", best_yaml)
    trial_rows = [
        {**r, "params_text": ", ".join(f"{k}={_short(v)}" for k, v in sorted(r["params"].items()))}
        for r in sorted(records, key=lambda r: r["number"])
    ]
    write_text(tune_dir / "trials.csv", _csv(trial_rows))
    study_doc = {
        "metric": metric, "target": "valid", "sampler": "TPE", "seed": config.tune.seed, "n_trials": trials,
        "train_seed": seed, "best_trial": best.number, "best_value": best.value, "best_policy": best_policy,
        "best_policy_yaml": best_yaml, "trials": trial_rows,
    }  # fmt: skip
    write_json(tune_dir / "study.json", study_doc)
    # write the test number into the study before the report is rendered
    run = run_pipeline(final, out, resume=True, only=["evaluate"])
    tests = [
        s.get(metric) for s in run.summary("test").get("tuned", {}).values() if s.get(metric) is not None
    ]
    study_doc["best_test"] = sum(tests) / len(tests) if tests else None
    write_json(tune_dir / "study.json", study_doc)
    if final.report.enabled:
        run = run_pipeline(final, out, resume=True)
    return TuneResult(out, best_policy, float(best.value), trial_rows, run)


def _short(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["trial", "value", "params"])
    for r in rows:
        w.writerow([r["number"], r["value"], r["params_text"]])
    return buf.getvalue()
