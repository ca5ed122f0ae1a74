"""Registry of augmenters by config name, and the ``from_config`` builder.

``from_config({"op": "crop", "eta": 0.6})`` builds a ``Crop``; combinators nest:
``{"op": "one_of", "ops": [{"op": "crop"}, {"op": "mask", "gamma": 0.2}], "weights": [2, 1]}``.
Unknown operations or keys raise :class:`~recaug.errors.ConfigError` naming them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from recaug.errors import ConfigError

if TYPE_CHECKING:
    from recaug.expand.base import Augmenter

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}


def register(cls: T) -> T:
    """Class decorator: make ``cls`` buildable from configs under ``cls.name``."""
    name = cls.name  # type: ignore[attr-defined]
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"augmenter name {name!r} registered twice")
    _REGISTRY[name] = cls
    return cls


def available() -> list[str]:
    """Names accepted in ``{"op": ...}``."""
    return sorted(_REGISTRY)


def config_keys(name: str) -> list[str]:
    """Settings accepted by the operation ``name`` (its dataclass fields)."""
    from recaug.settings import component_fields

    return list(component_fields(_lookup(name), exclude=frozenset()))


def _lookup(name: str) -> type:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown augmentation op {name!r}; known: {', '.join(available())}") from None


def from_config(config: dict[str, Any] | Augmenter) -> Augmenter:
    """Build an augmenter (recursively for combinators) from its config dict."""
    from recaug.expand.base import Augmenter

    if isinstance(config, Augmenter):
        return config
    if not isinstance(config, dict):
        raise ConfigError(f"an augmenter config must be a mapping with an 'op' key, got {config!r}")
    if "op" not in config:
        raise ConfigError(f"augmenter config lacks the 'op' key: {config!r}")
    from recaug.settings import check_settings, component_fields

    cls = _lookup(config["op"])
    params = {k: v for k, v in config.items() if k != "op"}
    settings = component_fields(cls, exclude=frozenset())
    nested = getattr(cls, "nested", {})
    # keys and types from the op's own fields; nested augmenters are checked when built below
    params.update(check_settings({k: v for k, v in params.items() if k not in nested}, settings, f"op {config['op']}"))
    unknown = sorted(set(params) - set(settings))
    if unknown:
        raise ConfigError(f"op {config['op']}: unknown key {unknown[0]!r}; accepted: {', '.join(sorted(settings))}")
    params = {k: _build_nested(cls, k, v) for k, v in params.items()}
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad settings for op {config['op']!r}: {exc}") from None


def _build_nested(cls: type, key: str, value: Any) -> Any:
    builders = getattr(cls, "nested", {})
    kind = builders.get(key)
    if kind == "augmenter":
        return from_config(value)
    if kind == "augmenters":
        if isinstance(value, dict):
            return [from_config(value)]
        return [from_config(v) for v in value]
    if kind == "similarity" and isinstance(value, dict):
        from recaug.expand.similarity import ItemSimilarity

        return ItemSimilarity.from_config(value)
    return value
