"""Summary statistics of a ``Dataset`` (what ``recaug data describe`` prints)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C


def _ranked(counts: pl.DataFrame, key: str) -> dict[str, int]:
    """``{key: count}`` by count descending, ties by key ascending (Polars ``group_by`` order is
    arbitrary, and this feeds ``summary.md``, hence the dataset's fingerprint and every cache key)."""
    counts = counts.sort(["len", key], descending=[True, False], nulls_last=True)
    return {str(k): int(v) for k, v in zip(counts.get_column(key), counts.get_column("len"), strict=True)}


def describe(dataset: Any) -> dict[str, Any]:
    """Users, items, interactions, length quantiles, density, time span, categories, event mix."""
    frame = dataset.interactions.frame
    n_users = dataset.vocab.n_users
    n_items = dataset.vocab.n_items
    n = len(frame)
    lengths = frame.group_by(C.USER).len().get_column("len").to_numpy() if n else np.zeros(0)
    q = [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
    quantiles = {f"p{int(x * 100)}": float(np.quantile(lengths, x)) for x in q} if len(lengths) else {}
    out: dict[str, Any] = {
        "name": dataset.name,
        "users": n_users,
        "items": n_items,
        "interactions": n,
        "density": n / (n_users * n_items) if n_users and n_items else 0.0,
        "sequence_length": {
            "mean": float(lengths.mean()) if len(lengths) else 0.0,
            **quantiles,
        },
        "users_with_at_most_3": int((lengths <= 3).sum()),
    }
    if n and getattr(dataset, "time_kind", "clock") == "position":
        out["time"] = {"kind": "position"}  # no clock: a span of positions would mean nothing
    elif n:
        ts = frame.get_column(C.TIME)
        out["time"] = {"kind": "clock", "min": int(ts.min()), "max": int(ts.max()), "span": int(ts.max() - ts.min())}
    if C.EVENT in frame.columns:
        out["events"] = _ranked(frame.group_by(C.EVENT).len(), C.EVENT)
    if C.CATEGORY in dataset.items.columns:
        cats = dataset.items.get_column(C.CATEGORY).drop_nulls()
        joined = frame.join(dataset.items.select(C.ITEM, C.CATEGORY), on=C.ITEM, how="left")
        counts = joined.group_by(C.CATEGORY).len()
        out["categories"] = {"n": int(cats.n_unique()), "interactions": _ranked(counts, C.CATEGORY)}
    if C.SOURCE in frame.columns:
        out["sources"] = _ranked(frame.group_by(C.SOURCE).len(), C.SOURCE)
    return out


def describe_markdown(stats: dict[str, Any]) -> str:
    """The statistics as a short Markdown page (``summary.md``)."""
    lines = [f"# {stats['name']}", "", "| statistic | value |", "|---|---:|"]
    for key in ("users", "items", "interactions"):
        lines.append(f"| {key} | {stats[key]:,} |")
    lines.append(f"| density | {stats['density']:.6f} |")
    for k, v in stats["sequence_length"].items():
        lines.append(f"| length {k} | {v:.2f} |")
    lines.append(f"| users with <= 3 interactions | {stats['users_with_at_most_3']:,} |")
    if "time" in stats and stats["time"].get("kind") == "position":
        lines.append("| time | none in this format (timestamp = position in the sequence) |")
    elif "time" in stats:
        lines.append(f"| time span | {stats['time']['span']:,} |")
    for section in ("events", "sources"):
        if section in stats:
            lines += ["", f"## {section}", "", "| value | rows |", "|---|---:|"]
            lines += [f"| {k} | {v:,} |" for k, v in stats[section].items()]
    if "categories" in stats:
        lines += ["", f"## categories ({stats['categories']['n']})", "", "| category | rows |", "|---|---:|"]
        lines += [f"| {k} | {v:,} |" for k, v in stats["categories"]["interactions"].items()]
    return "\n".join(lines) + "\n"
