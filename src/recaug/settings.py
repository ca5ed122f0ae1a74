"""Typed settings of components, derived from their own signatures (one place for each default).

A model, synthesizer or augmenter declares its settings once, as constructor keywords (or
dataclass fields) with type hints and defaults. :func:`component_fields` reads them back and
:func:`check_settings` validates a user's mapping against them with pydantic, so a config file,
``--set``, ``--param`` and ``--op`` all fail early, at ``config validate``, with the key path:

    train.params.epochs: Input should be a valid integer (got 'five')
    train.params: unknown key 'epcohs' (did you mean 'epochs'?)

Light on purpose (no torch): the config layer imports it.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from typing import Any

from pydantic import ConfigDict, ValidationError, create_model

from recaug.errors import ConfigError

#: settings the caller passes itself (not from the user's params mapping)
CALLER_SETTINGS = frozenset({"self", "seed", "device"})


def _hints(obj: Any) -> dict[str, Any]:
    """Resolved type hints of ``obj``; ``{}`` if a hint names something the module cannot resolve."""
    try:
        return typing.get_type_hints(obj)
    except Exception:  # a forward reference only a type checker sees: validate that setting as Any
        return {}


def component_fields(
    cls: type, extra: dict[str, tuple[Any, Any]] | None = None, *, exclude: frozenset[str] = CALLER_SETTINGS
) -> dict[str, tuple[Any, Any]]:
    """``{name: (type, default)}`` of ``cls``'s settings.

    Dataclasses give their fields; other classes the keyword parameters of ``__init__`` along
    the MRO (a subclass's default wins). ``extra`` adds the settings a ``**kwargs`` forwards
    (e.g. the training settings of a neural model). ``exclude``: settings the caller passes
    itself (by default ``seed`` and ``device``, which a model's builder takes separately).
    """
    out: dict[str, tuple[Any, Any]] = {}
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            default: Any = f.default
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            out[f.name] = (hints.get(f.name, Any), ... if default is dataclasses.MISSING else default)
    else:
        for klass in cls.__mro__:
            init = vars(klass).get("__init__")
            if init is None or klass is object:
                continue
            hints = _hints(init)
            for p in inspect.signature(init).parameters.values():
                if p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) or p.name in out:
                    continue
                default = ... if p.default is p.empty else p.default
                out[p.name] = (hints.get(p.name, Any), default)
    for name, spec in (extra or {}).items():
        out.setdefault(name, spec)
    return {k: v for k, v in out.items() if k not in exclude and k != "self"}


def check_settings(
    params: dict[str, Any], fields: dict[str, tuple[Any, Any]], where: str
) -> dict[str, Any]:
    """``params`` validated against ``fields``: unknown keys and wrong types raise ConfigError.

    Returns the values as validated (``"1e-3"``, which YAML reads as a string, becomes 0.001).
    ``where`` is the key path printed in front of each problem (``"train.params"``).
    """
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {params!r}")
    unknown = [k for k in params if k not in fields]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; accepted: {', '.join(sorted(fields))}"
        raise ConfigError(f"{where}: unknown key {key!r}{hint}")
    model = create_model(  # type: ignore[call-overload]
        "Settings",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **{k: (t, d) for k, (t, d) in fields.items() if k in params},
    )
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = ".".join(str(p) for p in (where, *err["loc"][:1]))
            lines.append(f"{path}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("; ".join(dict.fromkeys(lines))) from None
    return {k: getattr(validated, k) for k in params}
