"""The report's figures: matplotlib (Agg) rendered to PNG and returned base64-encoded for embedding.

Every function takes the collected report data and returns ``None`` when it has nothing to draw.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_DPI = 90


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=_DPI)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def lift_bars(doc: dict[str, Any]) -> str | None:
    """Relative lift of each augmented variant over the control, per segment (primary metric)."""
    metric = doc["primary_metric"]
    rows = [r for r in doc["headline"]["rows"] if not r["is_control"] and r["metric"] == metric]
    if not rows:
        return None
    segments = [s for s in doc["headline"]["segments"] if any(r["segment"] == s for r in rows)]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    width = 0.8 / len(variants)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(segments) + 2), 3.4))
    x = np.arange(len(segments))
    for i, v in enumerate(variants):
        vals = []
        for s in segments:
            r = next((r for r in rows if r["variant"] == v and r["segment"] == s), None)
            vals.append(100 * (r["lift"] or 0.0) if r and r.get("lift") is not None else 0.0)
        bars = ax.bar(x + (i - (len(variants) - 1) / 2) * width, vals, width, label=v)
        for b, s in zip(bars, segments, strict=True):
            r = next((r for r in rows if r["variant"] == v and r["segment"] == s), None)
            if r and r.get("significant"):  # the headline table's rule (both tests with several seeds)
                ax.annotate(
                    "*",
                    (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center",
                    va="bottom" if b.get_height() >= 0 else "top",
                )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, segments, rotation=20, ha="right")
    ax.set_ylabel(f"lift in {metric} vs control (%)")
    ax.set_title(f"Lift per segment ({doc['target']}); * significant at {doc.get('alpha', 0.05):g}")
    ax.legend(fontsize=8)
    return _png(fig)


def amount_curve(doc: dict[str, Any]) -> str | None:
    """Metric vs amount of synthetic data (only when at least three different amounts exist)."""
    pts = doc["amounts"]
    if len({round(p["synthetic_share"], 6) for p in pts}) < 3:
        return None
    pts = sorted(pts, key=lambda p: p["synthetic_share"])
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot([p["synthetic_share"] for p in pts], [p["value"] for p in pts], marker="o")
    for p in pts:
        ax.annotate(
            p["variant"],
            (p["synthetic_share"], p["value"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("synthetic rows per real training row")
    ax.set_ylabel(doc["primary_metric"])
    ax.set_title("Metric vs amount of synthetic data")
    return _png(fig)


def distributions(name: str, plot: dict[str, Any]) -> str | None:
    """Real vs synthetic: sequence lengths, item popularity by rank, category mix."""
    panels = [k for k in ("lengths", "popularity", "category") if k in plot]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2))
    axes = np.atleast_1d(axes)
    for ax, key in zip(axes, panels, strict=True):
        d = plot[key]
        if key == "lengths":
            real, syn = np.asarray(d["real"]), np.asarray(d["synthetic"])
            top = int(np.percentile(np.r_[real, syn], 99)) + 1 if len(real) + len(syn) else 1
            bins = np.linspace(0, max(top, 2), min(max(top, 2), 40) + 1)
            ax.hist(real, bins=bins, alpha=0.6, density=True, label="real")
            ax.hist(syn, bins=bins, alpha=0.6, density=True, label="synthetic")
            ax.set_xlabel("sequence length")
        elif key == "popularity":
            ax.loglog(np.arange(1, len(d["real"]) + 1), d["real"], label="real")
            ax.loglog(np.arange(1, len(d["synthetic"]) + 1), d["synthetic"], label="synthetic")
            ax.set_xlabel("item rank")
            ax.set_ylabel("share of rows")
        else:
            x = np.arange(len(d["names"]))
            ax.bar(x - 0.2, d["real"], 0.4, label="real")
            ax.bar(x + 0.2, d["synthetic"], 0.4, label="synthetic")
            ax.set_xticks(x, d["names"], rotation=45, ha="right", fontsize=7)
            ax.set_ylabel("share")
        ax.set_title(key)
        ax.legend(fontsize=7)
    fig.suptitle(f"{name}: real vs synthetic", fontsize=10)
    return _png(fig)


def training_curves(curves: dict[str, list[dict[str, Any]]], metric: str) -> str | None:
    """Per-epoch training loss and validation metric of each variant (first seed)."""
    if not curves:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for variant, hist in curves.items():
        epochs = [h["epoch"] for h in hist]
        ax1.plot(epochs, [h.get("loss") for h in hist], label=variant)
        pts = [(h["epoch"], h["metric"]) for h in hist if h.get("metric") is not None]
        if pts:
            ax2.plot(*zip(*pts, strict=True), marker=".", label=variant)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(f"validation {metric}")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    return _png(fig)


def tune_history(tune: dict[str, Any] | None) -> str | None:
    """Validation metric of each tuning trial and the best so far."""
    if not tune or not tune.get("trials"):
        return None
    trials = [t for t in tune["trials"] if t.get("value") is not None]
    if not trials:
        return None
    xs = [t["number"] for t in trials]
    ys = [t["value"] for t in trials]
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    ax.plot(xs, ys, "o", label="trial")
    ax.plot(xs, np.maximum.accumulate(ys), "-", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {tune.get('metric', '')}")
    ax.legend(fontsize=8)
    return _png(fig)


def all_figures(doc: dict[str, Any]) -> dict[str, Any]:
    """Every figure of the report: ``{name: base64 PNG}`` (distributions: ``{variant: png}``)."""
    return {
        "lift": lift_bars(doc),
        "amount": amount_curve(doc),
        "distributions": {
            v: png for v, q in doc["quality"].items() if (png := distributions(v, q.get("plot", {})))
        },
        "curves": training_curves(doc["curves"], doc["primary_metric"]),
        "tune": tune_history(doc.get("tune")),
    }
