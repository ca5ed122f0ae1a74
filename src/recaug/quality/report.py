"""``QualityReport``: how close synthetic interactions are to the real ones.

Fidelity scores (``scores``), each in [0, 1] with **1 = indistinguishable** from real:

- ``length``: 1 - Kolmogorov-Smirnov statistic between per-user sequence lengths;
- ``popularity``: 1 - total variation distance between item frequency distributions;
- ``category``: 1 - total variation distance between category mixes (only with an item table
  that has a ``category`` column; otherwise absent);
- ``transitions``: 1 - total variation distance between consecutive (item, next item) pairs;
- ``discriminator``: 1 - 2 * |AUC - 0.5| of a torch classifier trained to tell real users
  from synthetic users (absent when there are too few users).

Privacy (``privacy``) is reported separately because it pulls the other way: 1 - the share
of synthetic users whose item set has Jaccard >= 0.8 with some real user (1 = no copies;
data identical to the real data scores 0). Raw statistics behind every score are in ``stats``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.atomic import atomic_dir
from recaug.data.interactions import Interactions
from recaug.errors import DataError
from recaug.quality import distributions as D
from recaug.quality import plots
from recaug.quality.novelty import novelty

log = logging.getLogger("recaug.quality")

FIDELITY = ("length", "popularity", "category", "transitions", "discriminator")


@dataclass
class QualityReport:
    """Fidelity scores in [0, 1] (1 = indistinguishable), a privacy score and raw statistics."""

    scores: dict[str, float]
    privacy: float
    stats: dict[str, Any]
    plot_data: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def compute(
        cls,
        real: Interactions,
        synthetic: Interactions,
        items: pl.DataFrame | None = None,
        seed: int = 0,
        *,
        discriminator: bool = True,
        near_copy_threshold: float = 0.8,
        max_users: int = 5000,
        copy_check_users: int = 1000,
        copy_check_real_users: int = 20000,
    ) -> QualityReport:
        """Compare ``synthetic`` to ``real``; ``items`` (with ``category``) enables the category score.

        ``discriminator=False`` skips the torch classifier; ``max_users`` bounds the users per
        class the discriminator sees; ``copy_check_users`` / ``copy_check_real_users`` bound the
        synthetic / real users of the nearest-neighbour Jaccard (seeded samples; exact copies are
        always checked against every real user).
        """
        if len(real) == 0 or len(synthetic) == 0:
            raise DataError("quality needs non-empty real and synthetic interactions")
        started = time.perf_counter()
        scores: dict[str, float] = {}
        stats: dict[str, Any] = {
            "rows": {"real": len(real), "synthetic": len(synthetic)},
            "users": {"real": real.n_users, "synthetic": synthetic.n_users},
            "seed": seed,
        }
        scores["length"], stats["length"] = D.length_fidelity(real, synthetic)
        scores["popularity"], stats["popularity"] = D.popularity_fidelity(real, synthetic)
        has_category = items is not None and C.CATEGORY in items.columns
        if has_category:
            assert items is not None
            scores["category"], stats["category"] = D.category_fidelity(real, synthetic, items)
        scores["transitions"], stats["transitions"] = D.transition_fidelity(real, synthetic)
        privacy, stats["novelty"] = novelty(
            real,
            synthetic,
            near_threshold=near_copy_threshold,
            max_users=copy_check_users,
            max_real_users=copy_check_real_users,
            seed=seed,
        )
        if discriminator:
            from recaug.quality.discriminator import Discriminator

            try:
                disc = Discriminator(seed=seed, max_users_per_class=max_users).fit(real, synthetic)
            except DataError as exc:
                stats["discriminator"] = {"skipped": str(exc)}
            else:
                scores["discriminator"], stats["discriminator"] = disc.score_, disc.to_dict()
        plot_data: dict[str, Any] = {
            "lengths": (D.user_lengths(real), D.user_lengths(synthetic)),
            "popularity": (
                D.shares(real.frame, [C.ITEM]).get_column("share").to_numpy(),
                D.shares(synthetic.frame, [C.ITEM]).get_column("share").to_numpy(),
            ),
        }
        if has_category:
            assert items is not None
            p = D.shares(D.with_category(real, items), [C.CATEGORY]).rename({"share": "real"})
            q = D.shares(D.with_category(synthetic, items), [C.CATEGORY]).rename({"share": "synthetic"})
            mix = p.join(q, on=C.CATEGORY, how="full", coalesce=True).fill_null(0.0).sort(C.CATEGORY)
            plot_data["category"] = (
                mix.get_column(C.CATEGORY).to_list(),
                mix.get_column("real").to_numpy(),
                mix.get_column("synthetic").to_numpy(),
            )
        report = cls(scores=scores, privacy=privacy, stats=stats, plot_data=plot_data)
        log.info(
            "quality: %d real / %d synthetic rows in %.2fs; %s",
            len(real),
            len(synthetic),
            time.perf_counter() - started,
            ", ".join(f"{k}={v:.3f}" for k, v in scores.items()),
        )
        return report

    # -- views ----------------------------------------------------------------------------
    @property
    def overall(self) -> float:
        """Mean of the available fidelity scores (1 = indistinguishable)."""
        return float(np.mean(list(self.scores.values()))) if self.scores else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: scores, overall, privacy and raw statistics."""
        return {
            "scores": dict(self.scores),
            "overall": self.overall,
            "privacy": self.privacy,
            "stats": self.stats,
            "note": "scores are in [0, 1]; 1 = synthetic indistinguishable from real. "
            "privacy: 1 = no synthetic user is a near copy (Jaccard >= threshold) of a real user.",
        }

    def to_markdown(self) -> str:
        """A readable table of scores with the raw statistic behind each."""
        detail = {
            "length": lambda s: f"KS = {s['ks_statistic']:.3f}",
            "popularity": lambda s: (
                f"TV = {s['total_variation']:.3f}, real items covered {s['real_items_covered']:.1%}"
            ),
            "category": lambda s: f"TV = {s['total_variation']:.3f}",
            "transitions": lambda s: f"TV = {s['total_variation']:.3f}, JS = {s['jensen_shannon']:.3f}",
            "discriminator": lambda s: f"AUC = {s['auc']:.3f}, accuracy = {s['accuracy']:.3f}",
        }
        lines = [
            "# Synthetic data quality",
            "",
            "Scores are in [0, 1]; 1 = indistinguishable from real data.",
            "",
            "| property | score | statistic |",
            "|---|---|---|",
        ]
        for name in FIDELITY:
            if name in self.scores:
                lines.append(f"| {name} | {self.scores[name]:.3f} | {detail[name](self.stats[name])} |")
            elif name == "discriminator" and "skipped" in self.stats.get(name, {}):
                lines.append(f"| {name} | n/a | skipped: {self.stats[name]['skipped']} |")
        lines.append(f"| **overall** | **{self.overall:.3f}** | mean of the scores above |")
        nov = self.stats["novelty"]
        lines += [
            "",
            "## Privacy (novelty vs copying)",
            "",
            f"- privacy score: {self.privacy:.3f} (1 = no near copies)",
            f"- exact copies of a real user's item set: {nov['exact_copy_share']:.1%}",
            f"- near copies (Jaccard >= {nov['near_threshold']}): {nov['near_copy_share']:.1%}",
            f"- mean nearest-real-user Jaccard: {nov['mean_nn_jaccard']:.3f} over {nov['users_checked']} users",
            "",
        ]
        return "\n".join(lines)

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write ``quality.json``, ``quality.md`` and PNG plots into folder ``path`` atomically."""
        path = Path(path)
        with atomic_dir(path, force=force) as tmp:
            (tmp / "quality.json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
            (tmp / "quality.md").write_text(self.to_markdown(), encoding="utf-8")
            if "lengths" in self.plot_data:
                plots.length_histogram(*self.plot_data["lengths"], tmp / "length_hist.png")
            if "popularity" in self.plot_data:
                plots.popularity_rank_curve(*self.plot_data["popularity"], tmp / "popularity_rank.png")
            if "category" in self.plot_data:
                plots.category_bars(*self.plot_data["category"], tmp / "category_mix.png")
        return path
