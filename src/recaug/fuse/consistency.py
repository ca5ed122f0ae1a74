"""``ConsistencyFilter``: drop the synthetic users a real-vs-synthetic discriminator is surest are fake.

The discriminator (:class:`recaug.quality.discriminator.Discriminator`, torch) is imported
only when the filter runs, so importing ``recaug.fuse`` stays light.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError

log = logging.getLogger("recaug.fuse.consistency")


@dataclass(frozen=True)
class ConsistencyFilter:
    """Keep the synthetic users that look most like real users.

    A discriminator is trained on ``real`` users vs ``synthetic`` users (seeded split); every
    synthetic user then gets ``p_fake``. ``keep`` keeps that fraction of synthetic users with
    the lowest ``p_fake`` (ties broken by user code); ``threshold`` keeps users with
    ``p_fake <= threshold``. Give exactly one. The probabilities of users the discriminator
    trained on are in-sample, which only sharpens the ranking of obviously fake users.
    """

    keep: float | None = 0.9
    threshold: float | None = None
    steps: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.keep is None) == (self.threshold is None):
            raise ConfigError("ConsistencyFilter needs exactly one of keep (fraction) or threshold")
        if self.keep is not None and not 0.0 <= self.keep <= 1.0:
            raise ConfigError(f"keep must be in [0, 1], got {self.keep}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold}")

    def fake_proba(self, real: Interactions, synthetic: Interactions) -> pl.DataFrame:
        """``user_id`` and ``p_fake`` for every synthetic user, most obviously fake first."""
        from recaug.quality.discriminator import Discriminator

        disc = Discriminator(steps=self.steps, seed=self.seed).fit(real, synthetic)
        return disc.fake_proba(synthetic).sort(["p_fake", C.USER], descending=[True, False])

    def select_users(self, real: Interactions, synthetic: Interactions) -> np.ndarray:
        """Codes of the synthetic users to keep (ascending)."""
        proba = self.fake_proba(real, synthetic).sort(["p_fake", C.USER])
        if self.threshold is not None:
            kept = proba.filter(pl.col("p_fake") <= self.threshold)
        else:
            assert self.keep is not None
            kept = proba.head(math.ceil(self.keep * proba.height - 1e-9))
        log.info("consistency filter: kept %d of %d synthetic users", kept.height, proba.height)
        return np.sort(kept.get_column(C.USER).to_numpy())

    def filter(self, real: Interactions, synthetic: Interactions) -> Interactions:
        """The rows of ``synthetic`` whose user is kept."""
        users = pl.Series(C.USER, self.select_users(real, synthetic), dtype=pl.Int32)
        return synthetic.filter(pl.col(C.USER).is_in(users.implode()))
