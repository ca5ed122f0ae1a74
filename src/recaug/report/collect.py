"""Gather every number the report shows from a run directory (no figures, no formatting).

Per-user metrics are the primary result: for each variant a user's metric is averaged over the
seeds, then each segment gets the mean with a bootstrap CI, and each augmented variant is compared
with the control on the same users (paired t-test and Wilcoxon signed-rank, relative lift). With
two or more seeds the seed-level paired comparison is added, and the seed-level test of the
per-seed lifts: a lift is ``significant`` only when the per-user and the seed-level test both hold
(:func:`significance`). :func:`training` lists the epochs each model ran, its best epoch, and
flags a model whose validation metric was still rising when training hit the epoch cap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.errors import DataError
from recaug.evaluate.segments import ALL, PREFIX

#: Significance level of the headline's paired tests (a lift is coloured only when significant).
ALPHA = 0.05

#: Segment order of the headline table (others follow in stored order).
SEGMENT_ORDER = ("all", "new_users", "history<=3", "cross_category", "same_category")


def _read(path: Path, default: Any = None) -> Any:
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def headline_metrics(primary: str, available: list[str]) -> list[str]:
    """The primary metric plus HR at the same cut-off (when evaluated)."""
    out = [primary] if primary in available else available[:1]
    k = primary.partition("@")[2]
    hr = f"HR@{k}"
    if hr in available and hr not in out:
        out.append(hr)
    return out


def per_user_frames(run_dir: Path, arm: dict[str, dict[str, Any]], target: str) -> dict[str, pl.DataFrame]:
    """``{seed: per-user results}`` of every evaluated seed of one arm."""
    out = {}
    for seed, rec in arm.items():
        ev = rec["stages"].get("evaluate")
        f = run_dir / ev / target / "per_user.parquet" if ev else None
        if f is not None and f.is_file():
            out[seed] = pl.read_parquet(f)
    return out


def per_user_mean(run_dir: Path, arm: dict[str, dict[str, Any]], target: str) -> pl.DataFrame | None:
    """One row per user: metrics averaged over seeds; segment memberships from the first seed."""
    frames = []
    for seed, rec in arm.items():
        ev = rec["stages"].get("evaluate")
        if not ev:
            continue
        f = run_dir / ev / target / "per_user.parquet"
        if f.is_file():
            frames.append((seed, pl.read_parquet(f)))
    if not frames:
        return None
    base = frames[0][1]
    metrics = [c for c in base.columns if "@" in c]
    segs = [c for c in base.columns if c.startswith(PREFIX)]
    stacked = pl.concat([f.select(C.USER, *metrics) for _, f in frames])
    mean = stacked.group_by(C.USER).agg(pl.col(metrics).mean()).sort(C.USER)
    return mean.join(base.select(C.USER, "n_history", *segs), on=C.USER, how="left")


def _segments(frame: pl.DataFrame) -> list[str]:
    stored = [c[len(PREFIX) :] for c in frame.columns if c.startswith(PREFIX)]
    names = [ALL] + stored
    ordered = [s for s in SEGMENT_ORDER if s in names]
    return ordered + [s for s in names if s not in ordered]


def _members(frame: pl.DataFrame, segment: str) -> pl.DataFrame:
    return frame if segment == ALL else frame.filter(pl.col(PREFIX + segment))


def _seed_means(frames: dict[str, pl.DataFrame], seeds: list[str], segment: str, metric: str) -> list[float] | None:
    """Each seed's mean of ``metric`` over the members of ``segment`` (None when one has none)."""
    out = []
    for seed in seeds:
        f = frames[seed]
        if metric not in f.columns or (segment != ALL and PREFIX + segment not in f.columns):
            return None
        m = _members(f, segment).get_column(metric).mean()
        if m is None:
            return None
        out.append(float(m))  # type: ignore[arg-type]
    return out


def significance(
    cmp: Any, control_means: list[float] | None, variant_means: list[float] | None, alpha: float
) -> dict[str, Any]:
    """Whether a lift is significant, and why.

    With two or more seeds both tests must hold at ``alpha``: the per-user paired Wilcoxon test
    on the seed-averaged users (``cmp``) and the seed-level t-test of the per-seed relative lifts
    (:func:`recaug.evaluate.stats.joint_significance`). With one seed, the per-user test alone.
    """
    from recaug.evaluate.stats import joint_significance, seed_level_test

    if control_means is not None and variant_means is not None and len(control_means) >= 2:
        seed = seed_level_test(control=control_means, treatment=variant_means, metric=cmp.metric)
        joint = joint_significance(seed, pooled=cmp, alpha=alpha)
        return {
            "significant": joint.significant, "significance": joint.reason, "n_seeds": seed.n_seeds,
            "seed_mean_lift": seed.mean_lift, "seed_pvalue": seed.pvalue,
        }  # fmt: skip
    p = cmp.wilcoxon_pvalue
    ok = p is not None and math.isfinite(p) and p < alpha
    reason = f"one seed: per-user Wilcoxon p {'<' if ok else '>='} {alpha:g}"
    return {"significant": bool(ok), "significance": reason, "n_seeds": 1}


def headline(
    run_dir: Path,
    results: dict[str, Any],
    target: str,
    metrics: list[str],
    *,
    n_resamples: int,
    confidence: float,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """``{segments: [...], rows: [...]}``: one row per (segment, variant, metric).

    Every augmented row says whether its lift is ``significant`` at ``alpha`` (:func:`significance`).
    """
    from recaug.evaluate.stats import bootstrap_ci, paired_seeds, paired_stats

    control = results["control"]
    arms = results["arms"]
    means = {v: per_user_mean(run_dir, arm, target) for v, arm in arms.items()}
    by_seed = {v: per_user_frames(run_dir, arm, target) for v, arm in arms.items()}
    if means.get(control) is None:
        return {"segments": [], "rows": []}
    ctrl = means[control]
    segments = _segments(ctrl)
    rows: list[dict[str, Any]] = []
    for segment in segments:
        c_seg = _members(ctrl, segment)
        if c_seg.height == 0:  # an empty segment has nothing to show
            continue
        for variant, frame in means.items():
            if frame is None:
                continue
            v_seg = _members(frame, segment)
            for metric in metrics:
                if metric not in frame.columns:
                    continue
                ci = bootstrap_ci(
                    v_seg.get_column(metric).to_numpy(),
                    n_resamples=n_resamples,
                    confidence=confidence,
                    seed=0,
                )
                row: dict[str, Any] = {
                    "segment": segment, "variant": variant, "metric": metric, "n_users": v_seg.height,
                    "mean": ci.mean, "ci_low": ci.low, "ci_high": ci.high, "is_control": variant == control,
                }  # fmt: skip
                if variant != control:
                    joined = c_seg.select(C.USER, metric).join(
                        v_seg.select(C.USER, metric), on=C.USER, how="inner", suffix="__v"
                    )
                    cmp = paired_stats(
                        joined.get_column(metric).to_numpy(),
                        joined.get_column(metric + "__v").to_numpy(),
                        metric,
                    )
                    row.update(
                        lift=cmp.relative_lift,
                        diff=cmp.mean_diff,
                        t_pvalue=cmp.t_pvalue,
                        wilcoxon_pvalue=cmp.wilcoxon_pvalue,
                        cohens_d=cmp.cohens_d,
                    )
                    seeds = [s for s in by_seed[control] if s in by_seed[variant]]
                    row.update(
                        significance(
                            cmp,
                            _seed_means(by_seed[control], seeds, segment, metric),
                            _seed_means(by_seed[variant], seeds, segment, metric),
                            alpha,
                        )
                    )
                    if segment == ALL and len(results["seeds"]) > 1:
                        a = [rec["summary"].get(target, {}) for rec in arms[control].values()]
                        b = [rec["summary"].get(target, {}) for rec in arms[variant].values()]
                        if all(metric in s for s in a + b) and len(a) == len(b):
                            seeds_cmp = paired_seeds(a, b, metric)
                            row["seeds_t_pvalue"] = seeds_cmp.t_pvalue
                rows.append(row)
    shown = [s for s in segments if any(r["segment"] == s for r in rows)]
    return {"segments": shown, "rows": rows}


def costs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per variant: mean seconds per stage over seeds, rows added, synthetic share, peak memory."""
    out = []
    for variant, arm in results["arms"].items():
        stage_secs: dict[str, list[float]] = {}
        peak = 0.0
        for rec in arm.values():
            for stage, c in rec.get("cost", {}).items():
                if c.get("seconds") is not None:
                    stage_secs.setdefault(stage, []).append(float(c["seconds"]))
                if c.get("peak_rss_mb") is not None:
                    peak = max(peak, float(c["peak_rss_mb"]))
        seeds = list(arm.values())
        out.append({
            "variant": variant,
            "seconds": {k: float(np.mean(v)) for k, v in stage_secs.items()},
            "total_seconds": float(sum(np.mean(v) for v in stage_secs.values())),
            "rows_added": float(np.mean([r.get("rows_added", 0) for r in seeds])) if seeds else 0.0,
            "synthetic_share": float(np.mean([r.get("synthetic_share", 0.0) for r in seeds])) if seeds else 0.0,
            "peak_rss_mb": peak or None,
        })  # fmt: skip
    return out


def amounts(results: dict[str, Any], target: str, metric: str) -> list[dict[str, Any]]:
    """Per variant: synthetic share (rows added / real rows) and the metric (mean over seeds)."""
    out = []
    for variant, arm in results["arms"].items():
        vals = [rec["summary"].get(target, {}).get(metric) for rec in arm.values()]
        vals = [v for v in vals if v is not None]
        shares = [rec.get("synthetic_share", 0.0) for rec in arm.values()]
        if vals:
            out.append(
                {"variant": variant, "synthetic_share": float(np.mean(shares)), "value": float(np.mean(vals))}
            )
    return out


def quality(run_dir: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Per variant (first seed with one): quality scores and the distributions behind them."""
    out = {}
    for variant, arm in results["arms"].items():
        for rec in arm.values():
            fuse = rec["stages"].get("fuse")
            if not fuse or not rec.get("quality"):
                continue
            plot = _read(run_dir / fuse / "quality" / "plot_data.json", {}) or {}
            out[variant] = {**rec["quality"], "plot": plot}
            break
    return out


def curves(run_dir: Path, results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per variant (first seed): the model's per-epoch loss and validation metric."""
    out = {}
    for variant, arm in results["arms"].items():
        for rec in arm.values():
            train = rec["stages"].get("train")
            doc = _read(run_dir / train / "history.json", {}) if train else {}
            if doc and doc.get("history"):
                out[variant] = doc["history"]
                break
    return out


def held_out_diagnostics(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per variant fused with ``held_out_hits: drop``: its keep twin and the rows it dropped using held-out labels.

    ``rows_dropped`` / ``twin_hits_kept`` are means over seeds: the synthetic rows the drop arm
    removed because they equal a validation/test item, and how many such rows its keep twin
    trained on (counted after fusion).
    """
    out: dict[str, dict[str, Any]] = {}
    arms = results["arms"]
    twins = dict(results.get("keep_twins") or {})
    for variant, arm in arms.items():
        if variant == results["control"] or variant in twins:
            continue
        dropped = [rec.get("held_out_hits_dropped") or 0 for rec in arm.values()]
        twin = next((t for t, base in twins.items() if base == variant), None)
        if twin is None and not any(dropped):
            continue
        kept = [rec.get("held_out_hits_kept") for rec in arms.get(twin, {}).values()] if twin else []
        kept = [k for k in kept if k is not None]
        out[variant] = {
            "twin": twin,
            "rows_dropped": float(np.mean(dropped)) if dropped else 0.0,
            "twin_hits_kept": float(np.mean(kept)) if kept else None,
        }
    return out


#: "Still rising": training ran to its epoch cap and the best validation was among the last this many.
RISING_LAST_VALIDATIONS = 3


def training(run_dir: Path, results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (variant, seed) of a model that trains in epochs: epochs run, the cap, the best epoch.

    ``still_rising``: the fit ran to its epoch cap (``epochs`` of the model's settings) and its
    best validation epoch is among the last :data:`RISING_LAST_VALIDATIONS` validations, so the
    validation metric was still improving when training stopped: more epochs may change the result.
    """
    out = []
    for variant, arm in results["arms"].items():
        for seed, rec in arm.items():
            train = rec["stages"].get("train")
            doc = _read(run_dir / train / "history.json", {}) if train else {}
            history = (doc or {}).get("history") or []
            if not history:
                continue  # a model without epochs (pop, itemknn ...)
            cfg = (_read(run_dir / train / "model" / "config.json", {}) or {}).get("config", {})
            cap = cfg.get("epochs")
            validated = [h for h in history if h.get("metric") is not None]
            best_epoch = doc.get("best_epoch")
            best = next((h for h in validated if h.get("epoch") == best_epoch), None)
            last = [h.get("epoch") for h in validated[-RISING_LAST_VALIDATIONS:]]
            at_cap = cap is not None and len(history) >= int(cap)
            out.append({
                "variant": variant, "seed": seed, "model": doc.get("model"), "epochs_run": len(history),
                "epoch_cap": cap, "at_cap": at_cap, "best_epoch": best_epoch, "validations": len(validated),
                "best_value": best.get("metric") if best else None,
                "last_value": validated[-1].get("metric") if validated else None,
                "still_rising": bool(at_cap and best_epoch is not None and best_epoch in last),
            })  # fmt: skip
    return out


def tuning(run_dir: Path) -> dict[str, Any] | None:
    """The policy search (``tune/``) when the run directory has one."""
    study = _read(run_dir / "tune" / "study.json")
    return study


# -- product search ------------------------------------------------------------------------------
#: The search table's metrics (each at its usual cut-off; another evaluated cut-off stands in when absent).
SEARCH_HEADLINE = ("HR@10", "NDCG@10", "MRR@10", "Recall@100")
#: Segment order of the search tables ("all" first; empty segments are left out).
SEARCH_SEGMENT_ORDER = (ALL, "unseen_query", "rare_query", "tail_item", "short_history")


def search_metrics(available: list[str]) -> list[str]:
    """The search table's metrics among ``available`` (``NDCG@10`` ...; the first evaluated cut-off of a
    metric stands in for a missing one)."""
    out: list[str] = []
    for wanted in SEARCH_HEADLINE:
        name = wanted.partition("@")[0]
        pick = wanted if wanted in available else next((m for m in available if m.startswith(name + "@")), None)
        if pick is not None and pick not in out:
            out.append(pick)
    return out


def _search_frames(run_dir: Path, arm: dict[str, dict[str, Any]]) -> dict[str, pl.DataFrame]:
    """``{seed: per-event test results}`` of one search arm."""
    out = {}
    for seed, rec in arm.items():
        stage = rec["stages"].get("search")
        f = run_dir / stage / "test" / "per_user.parquet" if stage else None
        if f is not None and f.is_file():
            out[seed] = pl.read_parquet(f)
    return out


_EVENT_KEY = (C.USER, C.QUERY, "target")


def _aligned(a: pl.DataFrame, b: pl.DataFrame, what: str) -> None:
    """Raise unless ``a`` and ``b`` hold the same events in the same order (search results pair by row)."""
    cols = [c for c in _EVENT_KEY if c in a.columns and c in b.columns]
    if a.height != b.height or not a.select(cols).equals(b.select(cols)):
        raise DataError(f"{what}: the search results do not hold the same test events; cannot pair them")


def _event_mean(frames: dict[str, pl.DataFrame], what: str) -> pl.DataFrame | None:
    """One row per test event: metrics averaged over seeds (events pair by row: the split is shared)."""
    if not frames:
        return None
    seeds = list(frames)
    base = frames[seeds[0]]
    for seed in seeds[1:]:
        _aligned(base, frames[seed], f"{what} seed {seed}")
    metrics = [c for c in base.columns if "@" in c]
    segs = [c for c in base.columns if c.startswith(PREFIX)]
    means = {m: np.mean([frames[s].get_column(m).to_numpy() for s in seeds], axis=0) for m in metrics}
    return base.select(*[c for c in _EVENT_KEY if c in base.columns], *segs).with_columns(
        [pl.Series(m, v) for m, v in means.items()]
    )


def _search_segments(frame: pl.DataFrame) -> list[str]:
    stored = [c[len(PREFIX) :] for c in frame.columns if c.startswith(PREFIX)]
    names = [ALL, *stored]
    ordered = [s for s in SEARCH_SEGMENT_ORDER if s in names]
    return ordered + [s for s in names if s not in ordered]


def search_section(run_dir: Path, results: dict[str, Any], alpha: float = ALPHA) -> dict[str, Any] | None:
    """The product-search results: per model, control vs augmented per segment with paired tests.

    Each test event is one unit. Per arm, an event's metric is averaged over the seeds; the
    augmented arm is compared with the same model's control (same seeds) on the same events
    (paired t-test and Wilcoxon signed-rank, relative lift), and with two or more seeds the
    seed-level test of the per-seed lifts joins in (:func:`significance`). The reference model
    (BM25) is shown next to every model.
    """
    from recaug.evaluate.stats import paired_stats

    search = results.get("search")
    if not search or not search.get("arms"):
        return None
    control, augmented, reference = search["control"], search.get("augmented"), search.get("reference")
    frames: dict[str, dict[str, dict[str, pl.DataFrame]]] = {}
    means: dict[str, dict[str, pl.DataFrame]] = {}
    for label, arm in search["arms"].items():
        model, _, arm_name = label.rpartition("/")
        by_seed = _search_frames(run_dir, arm)
        mean = _event_mean(by_seed, label)
        if mean is not None:
            frames.setdefault(model, {})[arm_name] = by_seed
            means.setdefault(model, {})[arm_name] = mean
    if not means:
        return None
    first = next(iter(next(iter(means.values())).values()))
    metrics = search_metrics([c for c in first.columns if "@" in c])
    segments = _search_segments(first)

    def cells(model: str, arm_name: str, segment: str) -> tuple[int, dict[str, Any]]:
        frame = _members(means[model][arm_name], segment)
        out: dict[str, Any] = {}
        for metric in metrics:
            cell: dict[str, Any] = {"mean": frame.get_column(metric).mean() if frame.height else None}
            if arm_name != control and control in means[model]:
                base_all = means[model][control]
                _aligned(base_all, means[model][arm_name], f"{model}: {control} vs {arm_name}")
                base = _members(base_all, segment)
                cmp = paired_stats(base.get_column(metric).to_numpy(), frame.get_column(metric).to_numpy(), metric)
                cell.update(lift=cmp.relative_lift, diff=cmp.mean_diff, t_pvalue=cmp.t_pvalue,
                            wilcoxon_pvalue=cmp.wilcoxon_pvalue)  # fmt: skip
                c_seeds, v_seeds = frames[model][control], frames[model][arm_name]
                seeds = [s for s in c_seeds if s in v_seeds]
                cell.update(significance(
                    cmp, _seed_means(c_seeds, seeds, segment, metric), _seed_means(v_seeds, seeds, segment, metric), alpha
                ))  # fmt: skip
                cell["significance"] = str(cell["significance"]).replace("per-user", "per-event")
            out[metric] = cell
        return frame.height, out

    tables = []
    # the reference gets a table of its own only when it was augmented too (listed in search.models)
    # or is the only model; otherwise it is a row of every other model's table
    shown = [m for m in search["models"] if m in means and (m != reference or augmented in means[m] or len(means) == 1)]
    for model in shown:
        rows = []
        for segment in segments:
            if _members(means[model][next(iter(means[model]))], segment).height == 0:
                continue
            for arm_name in [a for a in (control, augmented) if a in means[model]]:
                n, c = cells(model, arm_name, segment)
                rows.append({"segment": segment, "arm": arm_name, "model": model, "n_events": n, "cells": c,
                             "is_control": arm_name == control, "is_reference": False})  # fmt: skip
            if reference is not None and reference != model and control in means.get(reference, {}):
                n, c = cells(reference, control, segment)
                rows.append({"segment": segment, "arm": control, "model": reference, "n_events": n, "cells": c,
                             "is_control": True, "is_reference": True})  # fmt: skip
        tables.append({"model": model, "name": search.get("model_names", {}).get(model, model), "rows": rows})
    data_stage = search.get("info", {}).get("search_data", {})
    training = []
    for label, arm in search["arms"].items():
        for seed, rec in arm.items():
            if rec.get("epochs"):
                training.append({"arm": label, "seed": seed, "epochs": rec["epochs"], "best_epoch": rec.get("best_epoch")})
    costs = []
    for label, arm in search["arms"].items():
        secs: dict[str, list[float]] = {}
        for rec in arm.values():
            for stage, c in rec.get("cost", {}).items():
                if c.get("seconds") is not None:
                    secs.setdefault(stage, []).append(float(c["seconds"]))
        recs = list(arm.values())
        costs.append({
            "arm": label, "seconds": {k: float(np.mean(v)) for k, v in secs.items()},
            "rows_added": float(np.mean([r.get("rows_added", 0) for r in recs])) if recs else 0.0,
            "augmented_share": float(np.mean([r.get("augmented_share", 0.0) for r in recs])) if recs else 0.0,
        })  # fmt: skip
    return {
        "log": data_stage,
        "metrics": metrics,
        "primary_metric": "NDCG@10" if "NDCG@10" in metrics else (metrics[0] if metrics else None),
        "segments": segments,
        "control": control,
        "augmented": augmented,
        "reference": reference,
        "seeds": results.get("seeds", []),
        "tables": tables,
        "training": training,
        "costs": costs,
    }


def collect(run_dir: str | Path) -> dict[str, Any]:
    """Everything the report shows, JSON-ready (this is ``report.json``)."""
    run_dir = Path(run_dir)
    results = _read(run_dir / "results.json")
    if results is None:
        raise DataError("not a recaug run directory (no results.json)", file=run_dir)
    config = {}
    cfg_file = run_dir / "config.resolved.yaml"
    if cfg_file.is_file():
        import yaml

        config = yaml.safe_load(cfg_file.read_text(encoding="utf-8")) or {}
    ev = config.get("evaluate", {})
    protocol = _read(run_dir / "protocol.json", {}) or {}
    manifest = _read(run_dir / "manifest.json", {}) or {}
    targets = ev.get("targets", ["test"])
    target = "test" if "test" in targets else targets[0]
    primary = results.get("primary_metric", "NDCG@10")
    sample_arm = next(iter(results["arms"].get(results["control"], {}).values()), {})
    available = list(sample_arm.get("summary", {}).get(target, {}).keys())
    metrics = headline_metrics(primary, available) if available else []
    doc = {
        "title": (config.get("report") or {}).get("title")
        or f"recaug run: {results.get('name', run_dir.name)}",
        "name": results.get("name"),
        "run_dir": str(run_dir),
        "target": target,
        "primary_metric": primary,
        "control": results["control"],
        "variants": results["variants"],
        "seeds": results["seeds"],
        "protocol": protocol,
        "data": results.get("shared_info", {}),
        "versions": manifest.get("versions", {}),
        "device": manifest.get("device"),
        "summaries": {v: {s: rec["summary"] for s, rec in arm.items()} for v, arm in results["arms"].items()},
        "headline": headline(
            run_dir,
            results,
            target,
            metrics,
            n_resamples=int(ev.get("bootstrap", 1000)),
            confidence=float(ev.get("confidence", 0.95)),
            alpha=ALPHA,
        ),
        "confidence": float(ev.get("confidence", 0.95)),
        "alpha": ALPHA,
        "costs": costs(results),
        "amounts": amounts(results, target, primary),
        "quality": quality(run_dir, results),
        "curves": curves(run_dir, results),
        "training": training(run_dir, results),
        "tune": tuning(run_dir),
        "held_out_diagnostics": held_out_diagnostics(results),
    }
    search = search_section(run_dir, results, ALPHA)
    if search is not None:
        policy = ((config.get("search") or {}).get("augment") or {}).get("policy")
        search["policy"] = policy
        doc["search"] = search
    return _clean(doc)
