"""Who a progress line is about: ``[arm seed N]`` in front of a training's log lines.

The pipeline runs many fits one after the other (every arm, every seed); a line such as
``SASRec epoch 12/200`` does not say which. The runner sets the label around each stage and
the training loop puts it in front of its lines. Light on purpose (no torch): both import it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_LABEL: ContextVar[str] = ContextVar("recaug_progress_label", default="")


def label() -> str:
    """The current label (``""`` outside a labelled block), with a trailing space when set."""
    text = _LABEL.get()
    return f"{text} " if text else ""


@contextlib.contextmanager
def labelled(text: str) -> Iterator[None]:
    """Progress lines inside the block start with ``text``."""
    token = _LABEL.set(text)
    try:
        yield
    finally:
        _LABEL.reset(token)
