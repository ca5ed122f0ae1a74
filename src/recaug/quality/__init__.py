"""Synthetic data quality: fidelity scores in [0, 1] (1 = indistinguishable from real) and privacy.

``Discriminator`` (torch) is imported lazily so that the rest of the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recaug.quality.distributions import (
    category_fidelity,
    jensen_shannon,
    length_fidelity,
    popularity_fidelity,
    total_variation,
    transition_fidelity,
)
from recaug.quality.novelty import nearest_real_jaccard, novelty
from recaug.quality.report import QualityReport

if TYPE_CHECKING:
    from recaug.quality.discriminator import Discriminator, roc_auc

__all__ = [
    "Discriminator",
    "QualityReport",
    "category_fidelity",
    "jensen_shannon",
    "length_fidelity",
    "nearest_real_jaccard",
    "novelty",
    "popularity_fidelity",
    "roc_auc",
    "total_variation",
    "transition_fidelity",
]


def __getattr__(name: str) -> Any:
    if name in ("Discriminator", "roc_auc"):
        from recaug.quality import discriminator

        return getattr(discriminator, name)
    raise AttributeError(f"module 'recaug.quality' has no attribute {name!r}")
