"""Time bounds given by users (epoch seconds, ``datetime`` or ISO-8601) as epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime

from recaug.errors import ConfigError

TimeLike = int | float | str | datetime


def to_epoch_seconds(value: TimeLike, what: str = "time") -> int:
    """Epoch seconds from an int/float, a ``datetime`` (naive = UTC) or an ISO-8601 string."""
    if isinstance(value, bool):
        raise ConfigError(f"{what}: expected a timestamp, got {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{what}: {value!r} is not an ISO-8601 date/time or epoch seconds") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    raise ConfigError(f"{what}: expected epoch seconds, datetime or ISO string, got {type(value).__name__}")
