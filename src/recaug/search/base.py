"""The ``SearchModel`` contract: retrieval models behave like recommenders, with a query per row.

* ``fit(train, valid=None, *, item_space=None) -> self``: ``train`` (a :class:`SearchLog`, whose
  item table holds the item text) is the only data a model learns from; ``valid`` is for early
  stopping only. A model that needs no log (BM25) still reads the item table from ``train``.
* ``score(queries, users=None) -> np.ndarray``: ``(len(queries), item_space)`` float32 scores
  over the **full catalogue** (every item code, including PAD/MASK, which score ``-inf``).
  ``queries`` are raw query strings (the model tokenises them itself); ``users`` (user codes,
  one per query) are for personalised models and ignored by the others. Unknown users and
  word-less queries must give finite scores.
* ``recommend(queries, users=None, k=10)``: top-``k`` item codes per query (ties: lower code first).
* ``save(dir)`` / ``load(dir)``: ``config.json`` (model name, constructor settings, item space)
  plus the model's own state files (:meth:`SearchModel._save_state`): ``.npy`` arrays and JSON,
  or a torch ``state.pt`` loaded with ``weights_only=True``; never pickled objects.

Subclasses implement ``fit``, ``_score``, ``_save_state`` and ``_load_state`` and register
themselves with :func:`register_search_model`. This module does not import torch.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import atomic
from recaug import columns as C
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.search.log import SearchLog
from recaug.search.tokenize import as_text_series

FORMAT = "recaug-search-model"


class SearchModel(ABC):
    """Base class: settings in the constructor, learned state in attributes ending in ``_``."""

    #: registry name, e.g. ``"bm25"``
    name: ClassVar[str] = "search"
    #: whether scores depend on ``users`` (personalised search)
    personalised: ClassVar[bool] = False

    def __init__(self, *, seed: int = 0, device: str = "auto") -> None:
        self.seed = seed
        self.device = device
        self.item_space_: int | None = None

    @classmethod
    def settings_fields(cls) -> dict[str, tuple[Any, Any]]:
        """``{setting: (type, default)}`` a user may give this model (from its constructor)."""
        from recaug.settings import component_fields

        return component_fields(cls)

    # -- the contract -----------------------------------------------------------------------
    @abstractmethod
    def fit(self, train: SearchLog, valid: SearchLog | None = None, *, item_space: int | None = None) -> SearchModel:
        """Learn from ``train`` (and its item table); ``valid`` only for early stopping. Returns ``self``."""

    @abstractmethod
    def _score(self, queries: pl.Series, users: np.ndarray | None) -> np.ndarray:
        """Scores ``(len(queries), item_space)``; PAD and MASK may be anything (set to -inf by ``score``)."""

    @abstractmethod
    def _save_state(self, folder: Path) -> None:
        """Write the learned state into ``folder`` (already created; ``config.json`` is written by ``save``)."""

    @abstractmethod
    def _load_state(self, folder: Path) -> None:
        """Inverse of :meth:`_save_state` (called after ``item_space_`` is set)."""

    def config(self) -> dict[str, Any]:
        """Constructor settings (JSON-serialisable); subclasses extend."""
        return {"seed": self.seed, "device": self.device}

    # -- shared behaviour -------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.item_space_ is None:
            raise NotFittedError(f"{type(self).__name__} must be fitted before it can score")

    def score(self, queries: pl.Series | Iterable[str], users: np.ndarray | Iterable[int] | None = None) -> np.ndarray:
        """Scores ``(len(queries), item_space)`` float32 over every item code; PAD and MASK are ``-inf``."""
        self._check_fitted()
        q = as_text_series(queries, C.QUERY)
        u = None
        if users is not None:
            u = np.asarray(users if not isinstance(users, pl.Series) else users.to_numpy())
            if u.shape != (len(q),):
                raise DataError(f"{len(u)} users for {len(q)} queries", column=C.USER,
                                expected="one user code per query")
            u = u.astype(np.int64)
        elif self.personalised:
            raise ConfigError(f"{type(self).__name__} is personalised: pass one user code per query")
        scores = np.asarray(self._score(q, u), dtype=np.float32)
        if scores.shape != (len(q), self.item_space_):
            raise ValueError(f"{type(self).__name__}._score returned shape {scores.shape}; expected "
                             f"({len(q)}, {self.item_space_})")
        scores[:, : C.N_RESERVED] = -np.inf
        return scores

    def recommend(
        self, queries: pl.Series | Iterable[str], users: np.ndarray | Iterable[int] | None = None, k: int = 10
    ) -> np.ndarray:
        """Top-``k`` item codes per query, best first (equal scores: lower item code first)."""
        scores = self.score(queries, users)
        k = max(0, min(int(k), scores.shape[1] - C.N_RESERVED))
        # a stable sort of the negated scores keeps equal scores in code order (NaN sorts last)
        return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)

    @staticmethod
    def _item_space(train: SearchLog, item_space: int | None) -> int:
        return int(item_space) if item_space is not None else train.item_space

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write ``config.json`` and the state files into folder ``path`` (atomically, as one folder)."""
        self._check_fitted()
        path = Path(path)
        cfg = {"format": FORMAT, "model": self.name, "config": self.config(), "item_space": self.item_space_}
        with atomic.atomic_dir(path, force=force) as tmp:
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")
            self._save_state(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SearchModel:
        """Rebuild a model saved with :meth:`save` (no pickled objects are read)."""
        path = Path(path)
        file = path / "config.json"
        if not file.is_file():
            raise DataError("not a saved search model", file=file, expected="config.json written by SearchModel.save")
        try:
            cfg = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"unreadable config.json: {exc}", file=file) from None
        if cfg.get("format") != FORMAT:
            raise DataError("config.json is not a recaug search model", file=file, column="format",
                            expected=FORMAT)
        model_cls = cls if cls.name == cfg["model"] else get_search_model_class(cfg["model"])
        model = model_cls(**cfg["config"])
        model.item_space_ = int(cfg["item_space"])
        model._load_state(path)
        return model


_REGISTRY: dict[str, type[SearchModel]] = {}


def register_search_model(cls: type[SearchModel]) -> type[SearchModel]:
    """Class decorator: make a search model available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def get_search_model_class(name: str) -> type[SearchModel]:
    """Look a search model class up by name (``"bm25"`` ...)."""
    import recaug.search

    recaug.search.import_search_model(name)  # the neural models register when their module loads
    if name not in _REGISTRY:
        raise ConfigError(f"unknown search model {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def build_search_model(
    name: str, params: dict[str, Any] | None = None, *, seed: int = 0, device: str = "auto", where: str = "params"
) -> SearchModel:
    """Search model ``name`` from a user's settings mapping, every key and type checked first."""
    from recaug.settings import check_settings

    cls = get_search_model_class(name)
    values = check_settings(params or {}, cls.settings_fields(), where)
    try:
        return cls(seed=seed, device=device, **values)
    except (ConfigError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where} (search model {name!r}): {exc}") from None
