"""Per-epoch training checkpoints, so a killed fit continues where it stopped.

A long fit (hours for SASRec with a contrastive loss on one CPU core) should not be lost to a
killed job. With ``TrainConfig.checkpoint`` set, :func:`recaug.models.training.fit_loop` writes
everything the next epoch depends on after every epoch: the network, the optimiser, every
random stream (the shuffling generator, the model's extra generators, torch's global CPU and
CUDA streams that drive dropout), the history and the early-stopping state. A fit that finds
the file continues from the next epoch and ends with exactly the model an uninterrupted fit
gives. The file is removed when the fit completes, unless ``TrainConfig.keep_checkpoint``
(what ``recaug run`` sets): then it keeps the final state.

A checkpoint belongs to one fit: it stores a fingerprint of the model's settings, the
network's shapes and the training data, and a fit with any of these changed refuses it
instead of silently continuing another model. The epoch cap is the exception, for models whose
training does not read it otherwise (:func:`epochs_in_schedule`): a fit under a higher cap
continues the checkpoint up to the new cap and ends with exactly the model a fit straight to it
gives; a fit that stopped early (patience) stays stopped; a checkpoint past a lower cap is not
used (the fit starts over). Each case is logged.
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


def epochs_in_schedule(model: Any) -> bool:
    """Whether ``model``'s training reads the epoch cap besides stopping there (a model or its class).

    Then a fit under another cap is another fit (e.g. a KL weight annealed over ``epochs`` in the
    VAE synthesizer): its checkpoint fingerprint keeps the cap, and raising it trains from
    scratch. A class says so with ``epochs_in_schedule = True`` (or ``False``); without it
    recommenders continue (none in :mod:`recaug.models` reads ``epochs``: Mult-VAE anneals over
    ``total_anneal_steps``) and every other trainer, such as a synthesizer, does not.
    """
    declared = getattr(model, "epochs_in_schedule", None)
    if declared is not None:
        return bool(declared)
    from recaug.models.base import Recommender

    cls = model if isinstance(model, type) else type(model)
    return not issubclass(cls, Recommender)


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


def _without_cap(fp: dict[str, Any]) -> dict[str, Any]:
    return {**fp, "settings": {k: v for k, v in fp.get("settings", {}).items() if k != "epochs"}}


def load(path: str | Path, expected: dict[str, Any], *, cap: int | None = None) -> dict[str, Any] | None:
    """The state saved at ``path`` (``None`` when there is none); refuses another fit's checkpoint.

    ``cap``: this fit's epoch cap, when a checkpoint saved under another cap may be continued
    (:func:`epochs_in_schedule` is false): the fingerprints are compared without the cap, and a
    checkpoint past ``cap`` is not used (``None``: the fit starts over and replaces it).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = state["fingerprint"]
    except Exception as exc:  # a truncated or foreign file: say which file, not a pickle trace
        raise ConfigError(f"checkpoint {path} cannot be read as a recaug training checkpoint ({exc})") from exc
    ours, theirs = (expected, saved) if cap is None else (_without_cap(expected), _without_cap(saved))
    if theirs != ours:
        differs = [k for k in ours if theirs.get(k) != ours[k]]
        if "settings" in differs:
            keys = sorted(
                k for k in set(theirs["settings"]) | set(ours["settings"])
                if theirs["settings"].get(k) != ours["settings"].get(k)
            )
            differs[differs.index("settings")] = f"settings {keys}"
        raise ConfigError(
            f"checkpoint {path} belongs to another fit (it differs in: {', '.join(differs)}); "
            "delete it or give this fit another checkpoint path"
        )
    epoch, old_cap = int(state["epoch"]), saved.get("settings", {}).get("epochs")
    if cap is None or old_cap == cap:
        logger.info("resuming from %s after epoch %d", path, epoch)
    elif epoch > cap:
        logger.info("checkpoint %s is at epoch %d, past the epoch cap %d: training from scratch", path, epoch, cap)
        return None
    elif state["stopped"]:
        logger.info(
            "the fit in %s stopped early at epoch %d (patience): the epoch cap %d instead of %s changes nothing",
            path, epoch, cap, old_cap,
        )  # fmt: skip
    else:
        logger.info("continuing the fit in %s after epoch %d up to the epoch cap %d (was %s)", path, epoch, cap, old_cap)
    return state
