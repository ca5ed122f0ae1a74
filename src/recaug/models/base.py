"""The ``Recommender`` contract every model follows (and the evaluator relies on).

* ``fit(train, valid=None, *, item_space=None) -> self``: ``train`` is the only data a model
  learns from; ``valid`` (held-out next items) is used for early stopping only.
* ``score(histories, items=None) -> torch.Tensor`` (subclasses implement ``_score_all``): one row per row of ``histories`` (a ``Sequences``; its
  ``users`` give the user codes for models with user embeddings, its items the history for
  sequence / item-based models), ``item_space`` columns (all item codes including PAD/MASK),
  float32 on CPU. Columns PAD (0) and MASK (1) are ``-inf``. Unknown users (code outside the
  training range) and empty histories must give finite scores (popularity fallback is fine).
* ``recommend(histories, k, exclude_seen=True)``: top-k item codes per row.
* ``save(dir)`` / ``load(dir)``: ``config.json`` + ``state.pt`` (a ``state_dict``, loaded with
  ``weights_only=True``), plus ``.npy`` arrays where a model has non-torch state.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from recaug import atomic
from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import NotFittedError


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Recommender(ABC):
    """Base class: settings in the constructor, learned state in attributes ending in ``_``."""

    #: registry name, e.g. ``"sasrec"``
    name: ClassVar[str] = "recommender"
    #: whether the order of the history matters to the model
    sequential: ClassVar[bool] = False

    @classmethod
    def settings_fields(cls) -> dict[str, tuple[Any, Any]]:
        """``{setting: (type, default)}`` a user may give this model (from its constructor)."""
        from recaug.settings import component_fields

        return component_fields(cls)

    def __init__(self, *, seed: int = 0, device: str = "auto") -> None:
        self.seed = seed
        self.device = device
        self.item_space_: int | None = None

    # -- the contract -----------------------------------------------------------------------
    @abstractmethod
    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, item_space: int | None = None
    ) -> Recommender:
        """Learn from ``train``; ``valid`` only for early stopping. Returns ``self``."""

    @abstractmethod
    def _score_all(self, histories: Sequences) -> torch.Tensor:
        """Scores of every item code ``(len(histories), item_space)``; PAD and MASK are ``-inf``."""

    def score(self, histories: Sequences, items: np.ndarray | None = None) -> torch.Tensor:
        """Scores ``(len(histories), item_space)``, or only the columns ``items`` when given.

        ``histories.users`` are the user codes (for models with user embeddings) and its rows
        the histories (for sequence and item-based models); PAD and MASK score ``-inf``.
        """
        scores = self._score_all(histories)
        if items is None:
            return scores
        items = np.asarray(items, dtype=np.int64)
        if items.size and (items.min() < 0 or items.max() >= scores.shape[1]):
            from recaug.errors import DataError

            raise DataError(f"item codes must be in [0, {scores.shape[1]})", column="item_id")
        return scores[:, torch.as_tensor(items)]

    def config(self) -> dict[str, Any]:
        """Constructor settings (JSON-serialisable); subclasses extend."""
        return {"seed": self.seed, "device": self.device}

    # -- shared behaviour -------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.item_space_ is None:
            raise NotFittedError(f"{type(self).__name__} must be fitted before it can score")

    @staticmethod
    def _item_space(train: Interactions, valid: Interactions | None, item_space: int | None) -> int:
        if item_space is not None:
            return int(item_space)
        top = int(train.items.max()) if len(train) else C.N_RESERVED - 1
        if valid is not None and len(valid):
            top = max(top, int(valid.items.max()))
        return top + 1

    def recommend(self, histories: Sequences, k: int = 10, *, exclude_seen: bool = True) -> np.ndarray:
        """Top-``k`` item codes per row of ``histories`` (highest score first)."""
        scores = self.score(histories).clone()
        if exclude_seen and len(histories.items):
            rows = np.repeat(np.arange(len(histories)), histories.lengths)
            items = histories.items
            ok = items < scores.shape[1]
            scores[torch.as_tensor(rows[ok]), torch.as_tensor(items[ok].astype(np.int64))] = -torch.inf
        k = min(k, scores.shape[1])
        return torch.topk(scores, k, dim=1).indices.numpy()

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` (+ ``state.pt`` from :meth:`state_dict`) into folder ``path``, each atomically."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        cfg = {"model": self.name, "config": self.config(), "item_space": self.item_space_}
        atomic.write_text(path / "config.json", json.dumps(cfg, indent=2))
        with atomic.atomic_file(path / "state.pt") as tmp:
            torch.save(self.state_dict(), tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Rebuild a model saved with :meth:`save` (``weights_only=True``: no pickled objects)."""
        path = Path(path)
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        model_cls = cls if cls.name == cfg["model"] else get_model_class(cfg["model"])
        model = model_cls(**model_cls.upgrade_config(cfg["config"]))
        model.item_space_ = int(cfg["item_space"])
        state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return model

    @classmethod
    def upgrade_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Constructor settings of a saved model, with any setting added since then made explicit.

        A new setting's default may differ from what an older model was trained with; a subclass
        fills in the old behaviour here so a loaded model refits as it was trained.
        """
        return config

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Learned state as tensors (and plain Python values) for ``torch.save``."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict` (called after ``item_space_`` is set)."""


_REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make a model available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def build_model(
    name: str, params: dict[str, Any], *, seed: int = 0, device: str = "auto", where: str = "train.params"
) -> Recommender:
    """Model ``name`` built from a user's ``params`` mapping, every key and type checked first.

    The accepted settings are the class's own (:meth:`Recommender.settings_fields`); problems
    raise :class:`ConfigError` naming the key path (``where``), e.g.
    ``train.params.epochs: Input should be a valid integer (got 'five')``.
    """
    from recaug.errors import ConfigError
    from recaug.settings import check_settings

    cls = get_model_class(name)
    values = check_settings(params, cls.settings_fields(), where)
    try:
        return cls(seed=seed, device=device, **values)
    except (ConfigError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where} (model {name!r}): {exc}") from None


def get_model_class(name: str) -> type[Recommender]:
    """Look a model class up by name (``"pop"``, ``"itemknn"``, ``"bpr"``, ``"multvae"``, ``"gru4rec"``, ``"sasrec"``)."""
    import recaug.models  # noqa: F401  (fills the registry)

    if name not in _REGISTRY:
        from recaug.errors import ConfigError

        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]
