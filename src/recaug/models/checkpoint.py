"""Per-epoch training checkpoints, so a killed fit continues where it stopped.

A long fit (hours for SASRec with a contrastive loss on one CPU core) should not be lost to a
killed job. With ``TrainConfig.checkpoint`` set, :func:`recaug.models.training.fit_loop` writes
everything the next epoch depends on after every epoch: the network, the optimiser, every
random stream (the shuffling generator, the model's extra generators, torch's global CPU and
CUDA streams that drive dropout), the history and the early-stopping state. A fit that finds
the file continues from the next epoch and ends with exactly the model an uninterrupted fit
gives. The file is removed when the fit completes.

A checkpoint belongs to one fit: it stores a fingerprint of the model's settings, the
network's shapes and the training data, and a fit with any of these changed refuses it
instead of silently continuing another model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recaug.atomic import atomic_file
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError

logger = logging.getLogger("recaug.models.checkpoint")

#: settings that do not change what is trained (where to write, how to report, thread count)
NOT_FINGERPRINTED = ("checkpoint", "progress", "threads")


def data_key(*parts: Interactions | np.ndarray | torch.Tensor | None) -> str:
    """A short hash of the training data (every row of an ``Interactions``; arrays' bytes)."""
    digest = hashlib.blake2b(digest_size=16)
    for a in parts:
        if a is None:
            digest.update(b"none")
            continue
        if isinstance(a, Interactions):
            values = a.frame.hash_rows(seed=0).to_numpy()
        elif isinstance(a, torch.Tensor):
            values = a.detach().cpu().numpy()
        else:
            values = np.asarray(a)
        values = np.ascontiguousarray(values)
        digest.update(f"{values.dtype}{values.shape}".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def fingerprint(model: Any, module: torch.nn.Module, n_rows: int, data: str) -> dict[str, Any]:
    """What identifies a fit: model class and settings, network shapes, row count and data hash."""
    settings = model.config() if hasattr(model, "config") else {}
    settings = {k: v for k, v in settings.items() if k not in NOT_FINGERPRINTED}
    return {
        "model": type(model).__name__,
        "settings": json.loads(json.dumps(settings, sort_keys=True, default=str)),
        "network": {name: list(p.shape) for name, p in module.state_dict().items()},
        "n_rows": int(n_rows),
        "data": data,
    }


def rng_states(generators: tuple[torch.Generator, ...]) -> dict[str, Any]:
    """The states of ``generators`` and of torch's global CPU (and CUDA) random streams."""
    return {
        "generators": [g.get_state() for g in generators],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
    }


def restore_rng_states(states: dict[str, Any], generators: tuple[torch.Generator, ...]) -> None:
    """Inverse of :func:`rng_states`."""
    for g, s in zip(generators, states["generators"], strict=True):
        g.set_state(s)
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a kill mid-write leaves the previous checkpoint)."""
    with atomic_file(path) as tmp:
        torch.save(state, tmp)


def load(path: str | Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The state saved at ``path`` (``None`` when there is none); refuses another fit's checkpoint."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = state["fingerprint"]
    except Exception as exc:  # a truncated or foreign file: say which file, not a pickle trace
        raise ConfigError(f"checkpoint {path} cannot be read as a recaug training checkpoint ({exc})") from exc
    if saved != expected:
        differs = [k for k in expected if saved.get(k) != expected[k]]
        if "settings" in differs:
            keys = sorted(
                k for k in set(saved["settings"]) | set(expected["settings"])
                if saved["settings"].get(k) != expected["settings"].get(k)
            )
            differs[differs.index("settings")] = f"settings {keys}"
        raise ConfigError(
            f"checkpoint {path} belongs to another fit (it differs in: {', '.join(differs)}); "
            "delete it or give this fit another checkpoint path"
        )
    logger.info("resuming from %s after epoch %d", path, state["epoch"])
    return state
