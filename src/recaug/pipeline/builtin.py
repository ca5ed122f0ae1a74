"""Built-in pipeline configs shipped inside the package (no ``configs/`` folder needed).

:data:`DEMO` is what ``recaug demo`` runs: the simulated shop, light preprocessing that keeps
short-history users (de-duplication + at least 3 interactions, no k-core), leave-last-out,
a small SASRec trained for a few epochs, control vs one offline augmentation policy and vs a
VAE synthesizer that completes short-history users, under the same seed, full-ranking evaluation with segments, and the report.
Its ``search`` section adds the product-search arm on the simulated shop's own searches (the
views that came with a query): BM25 as the reference, and a small dense two-tower model trained
for a short schedule with and without query augmentation (term dropout or reordering, one view
per training search), under the same seed.

>>> config = demo_config(n_users=1000, seed=1)
>>> run_pipeline(config, "demo_run")
"""

from __future__ import annotations

import copy
from typing import Any

from recaug.pipeline.config import Config, validate_config

#: The demo config (the same shape as a YAML config file).
DEMO: dict[str, Any] = {
    "name": "demo",
    "data": {"source": "simulate", "simulate": {"n_users": 3000, "n_items": 1500, "seed": 0}},
    "preprocess": {
        "steps": [
            {"step": "dedup", "mode": "consecutive"},
            {"step": "min_length", "n": 3},
            {"step": "remap"},
        ]
    },
    "split": {"protocol": "leave_last_out"},
    "train": {
        "model": "sasrec",
        "params": {
            "max_len": 30,
            "hidden": 32,
            "n_layers": 1,
            "n_heads": 1,
            "dropout": 0.2,
            "loss": "ce",
            "epochs": 20,
            "batch_size": 256,
            "lr": 0.003,
            "patience": 3,
            "threads": 1,
            "progress": False,
        },
        "device": "auto",
    },
    "evaluate": {"ks": [5, 10, 20], "primary_metric": "NDCG@10", "bootstrap": 300},
    "fuse": {"quality": True, "quality_discriminator": False},
    "seeds": [0],
    "search": {
        "source": "data",
        "split": {"protocol": "leave_last_out"},
        "models": [
            {
                "name": "dense",
                "params": {"dim": 32, "epochs": 6, "batch_size": 256, "lr": 0.003, "patience": 2, "threads": 1,
                           "progress": False},
            }
        ],
        "augment": {
            "name": "query_aug",
            "policy": [{"op": "term_dropout", "p": 0.3}, {"op": "term_reorder"}],
            "n_views": 1,
        },
        "evaluate": {"ks": [10, 100]},
    },
    "variants": {
        "control": {},
        "crop_mask": {
            "description": "one_of(crop eta=0.6, mask gamma=0.3), 1 view per training sequence",
            "expand": {
                "policy": {"op": "one_of", "ops": [{"op": "crop", "eta": 0.6}, {"op": "mask", "gamma": 0.3}]},
                "n_views": 1,
            },
        },
        "vae_short": {
            "description": "VAE (fitted on train only) adds 3 items before the history of users with <= 5",
            "generate": {
                "method": "vae",
                "params": {"epochs": 15, "hidden_dims": [200], "latent_dim": 64, "threads": 1, "progress": False},
                "mode": "complete",
                "complete_k": 3,
                "complete_max_history": 5,
            },
            "fuse": {"only_users_with_at_most": 5, "allow_new_users": False},
        },
    },
}


def demo_raw(n_users: int = 3000, seed: int = 0) -> dict[str, Any]:
    """The demo config as a plain mapping for ``n_users`` simulated users (half as many items)."""
    raw = copy.deepcopy(DEMO)
    raw["data"]["simulate"] = {
        "n_users": int(n_users),
        "n_items": max(int(n_users) // 2, 50),
        "seed": int(seed),
    }
    raw["seeds"] = [int(seed)]
    return raw


def demo_config(n_users: int = 3000, seed: int = 0, overrides: list[str] | None = None) -> Config:
    """The validated demo :class:`Config` (``overrides`` are ``--set``-style ``a.b=c`` strings)."""
    from recaug.pipeline.config import apply_overrides

    return validate_config(apply_overrides(demo_raw(n_users, seed), list(overrides or [])))


__all__ = ["DEMO", "demo_config", "demo_raw"]
