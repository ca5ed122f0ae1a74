"""Registry of synthesizers by name, and ``from_config``.

``from_config({"method": "vae", "epochs": 10})`` (``"name"`` is accepted instead of
``"method"``) builds a ``VAESynthesizer``; unknown names or settings raise
:class:`~recaug.errors.ConfigError` naming them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from recaug.errors import ConfigError

if TYPE_CHECKING:
    from recaug.generate.base import Synthesizer

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}


def register(cls: T) -> T:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    _REGISTRY[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def available() -> list[str]:
    """Registered synthesizer names."""
    import recaug.generate  # noqa: F401  (fills the registry)

    return sorted(_REGISTRY)


def get_synthesizer(name: str) -> type[Synthesizer]:
    """The synthesizer class registered as ``name`` (``"vae"``, ``"gan"``, ``"sequence"``)."""
    names = available()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown synthesizer {name!r}; choose one of {names}")
    return _REGISTRY[name]


def config_keys(name: str) -> list[str]:
    """Constructor settings accepted by synthesizer ``name`` (from its signature)."""
    from recaug.settings import component_fields

    return list(component_fields(get_synthesizer(name), exclude=frozenset()))


def from_config(config: dict[str, Any]) -> Synthesizer:
    """Build a synthesizer from ``{"method": name, **settings}``."""
    if not isinstance(config, dict):
        raise ConfigError(f"a synthesizer config must be a mapping with a 'method' key, got {config!r}")
    key = "method" if "method" in config else "name" if "name" in config else None
    if key is None:
        raise ConfigError(f"synthesizer config lacks the 'method' key: {config!r}")
    name = config[key]
    cls = get_synthesizer(name)
    from recaug.settings import check_settings, component_fields

    params = {k: v for k, v in config.items() if k != key}
    # seed and device are the synthesizer's own settings here (a config may name them)
    params = check_settings(params, component_fields(cls, exclude=frozenset()), f"synthesizer {name}")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad settings for synthesizer {name!r}: {exc}") from None
