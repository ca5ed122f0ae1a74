"""The repeat policy: what the ranking does with a held-out item the user already had.

* ``"unreachable"`` (the default; P1-faithful, as the S3Rec/CoSeRec/ICLRec code behind the
  published P1 tables): the whole history is masked, so a repeated target ranks last.
* ``"rankable"`` (repeat-aware): the history is masked *except* the user's held-out items, so a
  repeated target is ranked by its own score.

Evaluation (``recaug.evaluate.Evaluator(repeats=...)``) and early stopping
(``TrainConfig.valid_repeats``) share this one default, and it holds for every model alike.
Declared here, in the light ``split`` package, so configs can name it without importing torch.
"""

from __future__ import annotations

from typing import Literal

from recaug.errors import ConfigError

RepeatPolicy = Literal["unreachable", "rankable"]
#: the policies, in the order the docs list them
REPEAT_POLICIES: tuple[str, ...] = ("unreachable", "rankable")
#: the one default of the repeat policy
DEFAULT_REPEATS: RepeatPolicy = "unreachable"


def check_repeats(repeats: str, name: str = "repeats") -> str:
    """``repeats`` if it is a known policy, else a :class:`ConfigError` naming ``name`` and the choices."""
    if repeats not in REPEAT_POLICIES:
        raise ConfigError(f"{name} must be one of {REPEAT_POLICIES}, got {repeats!r}")
    return repeats
