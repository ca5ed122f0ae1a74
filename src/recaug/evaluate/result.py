"""``EvalResult``: per-user metrics (the primary result) and everything derived from them.

Saved as a folder: ``per_user.parquet`` (one row per evaluated user) and ``summary.json``
(the full protocol, means, per-segment means and user counts). Writes are atomic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from recaug import __version__
from recaug.atomic import atomic_dir, finite_json
from recaug.errors import DataError
from recaug.evaluate.segments import ALL, PREFIX, segment_columns

FORMAT = "recaug-eval"
FORMAT_VERSION = 1
_METRIC = re.compile(r"^(HR|NDCG|MRR|Recall)@\d+$")


def _clean(value: float | None) -> float:
    return float("nan") if value is None else float(value)


@dataclass(eq=False)
class EvalResult:
    """Per-user evaluation results with the protocol that produced them.

    ``per_user`` columns: ``user_id``, ``n_history``, ``n_targets``, ``targets`` (list of held-out
    item codes, time order), ``ranks`` (0-based rank of each target), ``rank`` (best rank),
    one float column per ``metric@k``, and one bool ``segment:<name>`` column per segment.
    """

    per_user: pl.DataFrame
    protocol: dict[str, Any]
    seconds: float | None = field(default=None)

    # -- views ------------------------------------------------------------------------------
    @property
    def metric_names(self) -> list[str]:
        """``["HR@5", ...]`` in column order."""
        return [c for c in self.per_user.columns if _METRIC.match(c)]

    @property
    def n_users(self) -> int:
        """Number of evaluated users."""
        return len(self.per_user)

    @property
    def sampled(self) -> bool:
        """True when metrics come from sampled (not full) ranking."""
        return self.protocol.get("candidates") == "sampled"

    @property
    def segment_names(self) -> list[str]:
        """``"all"`` followed by the stored segments."""
        return [ALL, *segment_columns(self.per_user)]

    def summary(self) -> dict[str, float]:
        """Mean of every metric over all evaluated users (NaN when there are none)."""
        if not self.n_users:
            return {m: float("nan") for m in self.metric_names}
        row = self.per_user.select(pl.col(self.metric_names).mean()).row(0, named=True)
        return {m: _clean(v) for m, v in row.items()}

    def by_segment(self) -> dict[str, dict[str, Any]]:
        """``{segment: {"n_users": n, "metrics": {metric: mean}}}``; ``"all"`` first."""
        metrics = self.metric_names
        out: dict[str, dict[str, Any]] = {ALL: {"n_users": self.n_users, "metrics": self.summary()}}
        segs = segment_columns(self.per_user)
        if not segs:
            return out
        exprs = []
        for s in segs:
            member = pl.col(PREFIX + s)
            exprs.append(member.sum().alias(f"{s}\x00n"))
            exprs.extend(pl.col(m).filter(member).mean().alias(f"{s}\x00{m}") for m in metrics)
        row = self.per_user.select(exprs).row(0, named=True) if self.n_users else {}
        for s in segs:
            out[s] = {
                "n_users": int(row.get(f"{s}\x00n") or 0),
                "metrics": {m: _clean(row.get(f"{s}\x00{m}")) for m in metrics},
            }
        return out

    def segments_flat(self) -> dict[str, dict[str, float]]:
        """Segments in the benchmark JSON shape: ``{segment: {"n_users": n, "HR@10": ...}}``."""
        return {s: {"n_users": v["n_users"], **v["metrics"]} for s, v in self.by_segment().items()}

    def describe(self) -> str:
        """One readable line: protocol and headline numbers."""
        p = self.protocol
        cand = (
            f"SAMPLED ranking ({p.get('n_negatives')} negatives, seed {p.get('negative_seed')})"
            if self.sampled
            else "full ranking over all items"
        )
        ks = sorted({int(m.split("@")[1]) for m in self.metric_names})
        k = 10 if 10 in ks else (ks[-1] if ks else 0)
        heads = ", ".join(f"{m}={v:.4f}" for m, v in self.summary().items() if m.endswith(f"@{k}"))
        repeat = ""
        column = "segment:repeat_target"
        if column in self.per_user.columns and self.n_users:
            share = float(self.per_user.get_column(column).mean())
            repeat = f", repeated targets {share:.1%} ({p.get('repeats', 'rankable')})"
        return f"{self.n_users} users, target={p.get('target')}, {cand}, split={p.get('split')}{repeat}: {heads}"

    def __repr__(self) -> str:
        return f"EvalResult({self.describe()})"

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write ``per_user.parquet`` and ``summary.json`` into folder ``path`` atomically."""
        path = Path(path)
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "recaug_version": __version__,
            "protocol": self.protocol,
            "n_users": self.n_users,
            "seconds": self.seconds,
            "summary": self.summary(),
            "segments": self.by_segment(),
        }
        with atomic_dir(path, force=force) as tmp:
            self.per_user.write_parquet(tmp / "per_user.parquet")
            (tmp / "summary.json").write_text(json.dumps(finite_json(doc), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> EvalResult:
        """Read a folder written by :meth:`save`."""
        path = Path(path)
        summary_file = path / "summary.json"
        table = path / "per_user.parquet"
        if not summary_file.is_file() or not table.is_file():
            raise DataError(
                "not an evaluation folder", file=path, expected="per_user.parquet and summary.json"
            )
        try:
            doc = json.loads(summary_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"unreadable summary.json: {exc}", file=summary_file) from None
        if doc.get("format") != FORMAT:
            raise DataError("summary.json is not a recaug evaluation summary", file=summary_file)
        return cls(pl.read_parquet(table), doc["protocol"], doc.get("seconds"))
