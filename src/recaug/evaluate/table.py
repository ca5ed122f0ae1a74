"""Markdown tables of evaluation results for reports, READMEs and benchmark summaries."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from recaug.evaluate.result import EvalResult
from recaug.evaluate.stats import mean_std


def _fmt(mean: float, std: float | None, digits: int) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    text = f"{mean:.{digits}f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.{digits}f}"
    return text


def evaluate_summary_table(
    results: EvalResult | Sequence[EvalResult] | Mapping[str, EvalResult | Sequence[EvalResult]],
    metrics: Sequence[str] | None = None,
    *,
    digits: int = 4,
) -> str:
    """A Markdown table: one row per variant, one column per metric.

    ``results`` maps a variant name to one result or a list of results over seeds (shown as
    mean ± std); a plain result or list of results is one row per result. Rows from sampled
    evaluation are marked ``(sampled, n neg.)`` so they are never mistaken for full ranking.
    """
    if isinstance(results, EvalResult):
        results = {"result": results}
    elif not isinstance(results, Mapping):
        results = {f"run {i}": r for i, r in enumerate(results)}
    rows = []
    all_names: list[str] = []
    for name, value in results.items():
        runs = [value] if isinstance(value, EvalResult) else list(value)
        if not runs:
            continue
        stats = mean_std(runs)
        for m in stats:
            if m not in all_names:
                all_names.append(m)
        sampled = {r.protocol.get("n_negatives") for r in runs if r.sampled}
        label = str(name) + (f" (sampled, {'/'.join(map(str, sorted(sampled)))} neg.)" if sampled else "")
        rows.append((label, runs[0].n_users, len(runs), stats))
    names = list(metrics) if metrics is not None else all_names
    header = "| variant | users | runs | " + " | ".join(names) + " |"
    sep = "|---|---:|---:|" + "---:|" * len(names)
    lines = [header, sep]
    for label, n_users, n_runs, stats in rows:
        cells = [
            _fmt(stats[m]["mean"], stats[m]["std"] if n_runs > 1 else None, digits) if m in stats else "–"
            for m in names
        ]
        lines.append(f"| {label} | {n_users} | {n_runs} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
