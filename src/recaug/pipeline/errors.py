"""``StageError``: a pipeline stage failed; names the stage (and the variant/seed) and keeps the cause."""

from __future__ import annotations

from recaug.errors import RecaugError


class StageError(RecaugError):
    """Stage ``stage`` failed with ``cause``; earlier stages stay cached, so ``resume`` continues from it."""

    def __init__(
        self, stage: str, cause: BaseException, *, variant: str | None = None, seed: int | None = None
    ):
        self.stage = stage
        self.cause = cause
        self.variant = variant
        self.seed = seed
        self.exit_code = getattr(cause, "exit_code", 3)
        where = stage
        if variant is not None:
            where += f" (variant {variant!r}, seed {seed})"
        detail = str(cause) if isinstance(cause, RecaugError) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"stage {where} failed: {detail}")
