"""``NeuralRecommender``: the shared plumbing of the torch models (settings, device, seeds, state).

Subclasses build an ``nn.Module`` in :meth:`_build_module` from settings plus the learned sizes
they keep in :meth:`_extra_state` (plain ints/tensors), and train it with
:func:`recaug.models.training.fit_loop`.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from recaug.data.interactions import Interactions
from recaug.errors import ConfigError
from recaug.models.base import Recommender, resolve_device
from recaug.models.training import (
    BatchLoss,
    TrainConfig,
    fit_loop,
    inference,
    seeded_torch,
    validation_data,
)

_MODULE_PREFIX = "module."


class NeuralRecommender(Recommender):
    """Base of the torch models: training settings of :class:`TrainConfig` are constructor keywords."""

    #: defaults of the training settings a subclass overrides (merged over ``TrainConfig``)
    train_defaults: dict[str, Any] = {}

    def __init__(self, *, seed: int = 0, device: str = "auto", **train_settings: Any) -> None:
        super().__init__(seed=seed, device=device)
        unknown = set(train_settings) - set(TrainConfig.keys())
        if unknown:
            raise ConfigError(f"{type(self).__name__} got unknown setting(s) {sorted(unknown)}")
        self.train_config = TrainConfig(**{**self.train_defaults, **train_settings})
        self.module_: nn.Module | None = None
        self.history_: list[dict[str, Any]] = []
        self.best_epoch_: int | None = None

    @classmethod
    def settings_fields(cls) -> dict[str, tuple[Any, Any]]:
        """Constructor settings plus the training settings of :class:`TrainConfig` (``**train``)."""
        from recaug.settings import component_fields

        return component_fields(cls, extra=TrainConfig.settings_fields(cls.train_defaults))

    def config(self) -> dict[str, Any]:
        """Model settings plus every training setting."""
        return {**super().config(), **self.train_config.to_dict()}

    # -- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _build_module(self) -> nn.Module:
        """A fresh network for the current settings and learned sizes."""

    def _extra_state(self) -> dict[str, Any]:
        """Non-network learned state (sizes, popularity ...) for :meth:`state_dict`."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`_extra_state` (runs before :meth:`_build_module`)."""

    # -- shared machinery -------------------------------------------------------------------
    @property
    def torch_device(self) -> torch.device:
        """The resolved device (``"auto"`` -> CUDA when available)."""
        return resolve_device(self.device)

    def _new_module(self) -> nn.Module:
        with seeded_torch(self.seed):
            return self._build_module().to(self.torch_device)

    def _start_module(self, init_from: NeuralRecommender | None) -> nn.Module:
        """A fresh network, or one that starts from the weights of the fitted ``init_from``.

        Warm starting is how pre-train / fine-tune schemes reuse a network: ASReP fine-tunes
        the transformer it pre-trained on reversed sequences (the ``sequence`` synthesizer's
        SASRec). ``init_from`` must be a fitted model of the same class whose network has the
        same parameter shapes (same settings, same item space).
        """
        module = self._new_module()
        if init_from is None:
            return module
        if type(init_from) is not type(self):
            raise ConfigError(
                f"init_from must be a fitted {type(self).__name__}, got {type(init_from).__name__}"
            )
        init_from._check_fitted()
        assert init_from.module_ is not None
        source = init_from.module_.state_dict()
        target = module.state_dict()
        wrong = sorted(
            k for k in target if k not in source or tuple(source[k].shape) != tuple(target[k].shape)
        )
        if wrong or set(source) != set(target):
            raise ConfigError(
                f"init_from's network does not match this {type(self).__name__} "
                f"(item space {init_from.item_space_} vs {self.item_space_}); "
                f"mismatched parameters: {wrong[:5] or sorted(set(source) - set(target))[:5]}"
            )
        module.load_state_dict({k: v.detach().clone() for k, v in source.items()})
        return module

    def _generator(self) -> torch.Generator:
        """CPU generator for shuffling and negative sampling, seeded from ``seed``."""
        return torch.Generator().manual_seed(int(self.seed) + 1)

    def _train(
        self,
        batch_loss: BatchLoss,
        n_rows: int,
        train: Interactions,
        valid: Interactions | None,
        generator: torch.Generator,
        *,
        on_epoch: Callable[[int], None] | None = None,
    ) -> None:
        """Run :func:`fit_loop` on ``self.module_`` (validation only when ``valid`` is given)."""
        assert self.module_ is not None
        val = validation_data(train, valid) if valid is not None and len(valid) else None
        fit_loop(
            self, self.module_, batch_loss, n_rows, self.train_config,
            generator=generator, valid=val, on_epoch=on_epoch, data=(train, valid),
        )  # fmt: skip

    @contextlib.contextmanager
    def _inference(self) -> Iterator[nn.Module]:
        """Scoring context: the network in eval mode, no grad, the configured thread count."""
        self._check_fitted()
        assert self.module_ is not None
        with inference(self.module_, self.train_config.threads) as module:
            yield module

    def state_dict(self) -> dict[str, Any]:
        """Network weights (prefixed ``module.``, on CPU) plus :meth:`_extra_state`."""
        self._check_fitted()
        assert self.module_ is not None
        state = {_MODULE_PREFIX + k: v.detach().cpu().clone() for k, v in self.module_.state_dict().items()}
        state.update(self._extra_state())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Rebuild the network and load its weights (``item_space_`` must already be set)."""
        self._load_extra_state({k: v for k, v in state.items() if not k.startswith(_MODULE_PREFIX)})
        self.module_ = self._new_module()
        weights = {k[len(_MODULE_PREFIX) :]: v for k, v in state.items() if k.startswith(_MODULE_PREFIX)}
        self.module_.load_state_dict(weights)
        self.module_.eval()
