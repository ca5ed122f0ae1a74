"""The pipeline's stages, in order: the one list the runner, the CLI's ``--only`` and ``tune`` read.

Each :class:`Stage` record says

* which config section it reads (``section``),
* whether it runs once before the arms (``shared``: data, preprocess, split), once per
  (variant, seed) (``arm``) or once at the end of the run (``final``: the report); the product
  search task (the optional ``search`` section) has its own two scopes: ``search`` (once: the
  search log and its split) and ``search_arm`` (once per (seed, search arm): augmentation, then
  fit and evaluation of one model as the control or on the augmented log),
* when it applies (``applies``; e.g. ``generate`` only when a synthesizer is configured),
* what its cache key is made of (``key``: the settings and the upstream outputs it hashes, see
  :func:`recaug.pipeline.cache.stage_key`),
* how it runs (``run``: a thin call of its adapter in :mod:`recaug.pipeline.stages`),
* and, for a stage that trains, what names its checkpoint file (``checkpoint``).

Adding a stage means adding one record to :data:`REGISTRY` (plus its adapter): the runner runs
the records in this order, ``--only`` accepts their names, and the manifest lists them. The search
stages come right after ``split``, so ``--only search`` runs the search task without the
recommendation arms; as they feed only the report, ``--only`` runs them only when it names one of
them or the report (:func:`search_last_stage`), so ``--only train`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from recaug.errors import ConfigError
from recaug.pipeline import search_stages as SS
from recaug.pipeline import stages as S
from recaug.pipeline.cache import Entry, path_fingerprint

if TYPE_CHECKING:
    from recaug.pipeline.config import Config

Scope = Literal["shared", "search", "search_arm", "arm", "final"]
#: What a stage's cache key hashes: its settings and its inputs (upstream entries or fingerprints).
Key = tuple[Any, dict[str, Entry | str]]


@dataclass
class Context:
    """What a stage sees: the config (the arm's merged one inside an arm), and the stages run so far."""

    config: Config
    seed: int | None = None
    variant: str | None = None
    #: finished stages by name: the shared ones, then this arm's
    done: dict[str, Entry] = field(default_factory=dict)
    #: inside a ``search_arm`` stage: the search arm (model, settings, control or augmented)
    search_arm: SS.SearchArm | None = None

    def dir(self, stage: str) -> Path | None:
        """The output folder of ``stage`` (None when it did not run)."""
        entry = self.done.get(stage)
        return None if entry is None else entry.path

    @property
    def train_input(self) -> Entry:
        """Where the training rows come from: the fused rows when the arm augments, else the split."""
        return self.done.get("fuse") or self.done["split"]

    @property
    def fused_test_input(self) -> bool:
        """Whether the model reads the arm's fused rows at test time (``evaluate.test_input: fused``)."""
        return self.config.evaluate.test_input == "fused" and "fuse" in self.done


def always(ctx: Context) -> bool:
    """The default of :attr:`Stage.applies`."""
    return True


@dataclass(frozen=True)
class Stage:
    """One pipeline stage (see the module docstring)."""

    name: str
    section: str
    scope: Scope
    #: ``run(ctx, out, checkpoint) -> info`` (rows in/out ...); a ``final`` stage gets the run
    #: directory as ``out`` and returns ``{"path": what it wrote, "cached": whether it was up to date}``
    run: Callable[[Context, Path, Path | None], dict[str, Any]]
    #: ``key(ctx) -> (settings, inputs)``; ``None`` for ``final`` stages, which check themselves
    key: Callable[[Context], Key] | None = None
    applies: Callable[[Context], bool] = always
    #: stages that train: the settings that name the checkpoint file (``None``: no checkpoint)
    checkpoint: Callable[[Context, Any], Any] | None = None


# -- data / preprocess / split (shared) -------------------------------------------------------
def input_fingerprint(path: Path) -> str:
    """Fingerprint of an input file or folder (ConfigError when it is missing)."""
    if not path.exists():
        raise ConfigError(f"data.path: no such file or folder: {path}")
    return path_fingerprint(path)


def _data_key(ctx: Context) -> Key:
    data = ctx.config.data
    source = "simulate" if data.source == "simulate" else input_fingerprint(Path(str(data.path)))
    side = input_fingerprint(Path(data.item_side)) if data.item_side else ""
    settings = ctx.config.section("data")
    settings.pop("path", None)  # the file's contents, not its location, identify the data
    settings.pop("item_side", None)
    return settings, {"source": source, "item_side": side}


def _run_data(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    return S.run_data(ctx.config.data, out)


def _preprocess_key(ctx: Context) -> Key:
    return ctx.config.section("preprocess"), {"data": ctx.done["data"]}


def _run_preprocess(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    return S.run_preprocess(ctx.config.preprocess.steps, ctx.done["data"].path, out)


def _split_key(ctx: Context) -> Key:
    return ctx.config.section("split"), {"dataset": ctx.done["preprocess"]}


def _run_split(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    return S.run_split(ctx.config.split, ctx.done["preprocess"].path, out)


# -- search (once, then per seed and search arm) ----------------------------------------------
def _search_applies(ctx: Context) -> bool:
    return ctx.config.search is not None


def _search_data_key(ctx: Context) -> Key:
    search = ctx.config.search
    assert search is not None
    dump = search.model_dump(mode="json")
    settings = {k: dump[k] for k in ("source", "text_fields", "split")}
    inputs: dict[str, Entry | str] = {}
    if search.source == "data":
        inputs["data"] = ctx.done["data"]
    elif search.source == "file":
        inputs["source"] = _search_input_fingerprint("search.path", Path(str(search.path)))
    elif search.source in ("beauty", "sports"):
        from recaug.search.queries import AMAZON_SOURCES

        folder, _ = AMAZON_SOURCES[search.source]
        inputs["source"] = _search_input_fingerprint("search.data_root", Path(str(search.data_root)) / folder)
    else:
        inputs["source"] = f"builtin:{search.source}"
    return settings, inputs


def _search_input_fingerprint(key: str, path: Path) -> str:
    if not path.exists():
        raise ConfigError(f"{key}: no such file or folder: {path}")
    return path_fingerprint(path)


def _run_search_data(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    assert ctx.config.search is not None
    return SS.run_search_data(ctx.config.search, ctx.dir("data"), out)


def _search_augment_applies(ctx: Context) -> bool:
    return ctx.search_arm is not None and ctx.search_arm.augmented


def _search_augment_key(ctx: Context) -> Key:
    search = ctx.config.search
    assert search is not None and search.augment is not None
    settings = search.augment.model_dump(mode="json")
    settings.pop("name", None)  # the arm's name does not change the rows
    return settings, {"search_data": ctx.done["search_data"]}


def _run_search_augment(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    assert ctx.config.search is not None and ctx.seed is not None
    return SS.run_search_augment(ctx.config.search, ctx.done["search_data"].path, ctx.seed, out)


def _search_key(ctx: Context) -> Key:
    search, arm = ctx.config.search, ctx.search_arm
    assert search is not None and arm is not None
    settings = {
        "model": arm.name,
        "label": arm.model,  # written into the results files, with the arm's name
        "arm": arm.arm,
        "params": arm.params,
        "device": search.device,
        "evaluate": search.evaluate.model_dump(mode="json"),
    }
    inputs: dict[str, Entry | str] = {
        "search_data": ctx.done["search_data"],
        "train": ctx.done.get("search_augment") or "",
    }
    return settings, inputs


def _search_checkpoint(ctx: Context, settings: Any) -> Any:
    return settings  # the checkpoint belongs to exactly this stage key


def _run_search(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    assert ctx.config.search is not None and ctx.search_arm is not None and ctx.seed is not None
    return SS.run_search_model(
        ctx.config.search, ctx.search_arm, ctx.done["search_data"].path, ctx.dir("search_augment"), ctx.seed, out,
        checkpoint=checkpoint,
    )  # fmt: skip


# -- generate / expand / fuse (per arm) -------------------------------------------------------
def _generate_applies(ctx: Context) -> bool:
    return ctx.config.generate.method is not None


def _generate_key(ctx: Context) -> Key:
    return ctx.config.section("generate"), {"split": ctx.done["split"]}


def _generate_checkpoint(ctx: Context, settings: Any) -> Any:
    return settings  # the checkpoint belongs to exactly this stage key


def _run_generate(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    split, dataset = ctx.done["split"].path, ctx.done["preprocess"].path
    assert ctx.seed is not None
    return S.run_generate(ctx.config.generate, split, dataset, ctx.seed, out, checkpoint=checkpoint)


def _expand_applies(ctx: Context) -> bool:
    return ctx.config.expand.policy is not None


def _expand_key(ctx: Context) -> Key:
    return ctx.config.section("expand"), {"split": ctx.done["split"]}


def _run_expand(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    assert ctx.seed is not None
    return S.run_expand(ctx.config.expand, ctx.done["split"].path, ctx.seed, out)


def _fuse_applies(ctx: Context) -> bool:
    return "generate" in ctx.done or "expand" in ctx.done


def _fuse_key(ctx: Context) -> Key:
    inputs: dict[str, Entry | str] = {
        "split": ctx.done["split"],
        "dataset": ctx.done["preprocess"],
        "generate": ctx.done.get("generate") or "",
        "expand": ctx.done.get("expand") or "",
    }
    return ctx.config.section("fuse"), inputs


def _run_fuse(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    split, dataset = ctx.done["split"].path, ctx.done["preprocess"].path
    assert ctx.seed is not None
    return S.run_fuse(ctx.config.fuse, split, dataset, ctx.dir("generate"), ctx.dir("expand"), ctx.seed, out)


# -- train / evaluate (per arm) ---------------------------------------------------------------
def _train_key(ctx: Context) -> Key:
    inputs: dict[str, Entry | str] = {
        "train": ctx.train_input,
        "split": ctx.done["split"],
        "dataset": ctx.done["preprocess"],
    }
    return ctx.config.section("train"), inputs


def _train_checkpoint(ctx: Context, settings: Any) -> Any:
    """The train settings without the epoch cap, unless the model's schedule reads it.

    So a rerun that only changes ``train.params.epochs`` finds the earlier fit's checkpoint (its
    final state is kept) and continues it (:mod:`recaug.models.checkpoint`).
    """
    from recaug.models import get_model_class
    from recaug.models.checkpoint import epochs_in_schedule

    if epochs_in_schedule(get_model_class(ctx.config.train.model)):
        return settings
    params = {k: v for k, v in settings["params"].items() if k != "epochs"}
    return {**settings, "params": params}


def _run_train(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    train_file = ctx.train_input.path / "train.parquet"
    split, dataset = ctx.done["split"].path, ctx.done["preprocess"].path
    assert ctx.seed is not None
    return S.run_train(ctx.config.train, train_file, split, dataset, ctx.seed, out, checkpoint=checkpoint)


def _evaluate_key(ctx: Context) -> Key:
    settings = ctx.config.section("evaluate")
    for reporting_only in ("primary_metric", "bootstrap", "confidence"):  # they do not change the numbers
        settings.pop(reporting_only, None)
    if settings.get("test_input") == "real":  # the default: stage keys of earlier runs stay valid
        settings.pop("test_input")
    inputs: dict[str, Entry | str] = {
        "model": ctx.done["train"],
        "split": ctx.done["split"],
        "dataset": ctx.done["preprocess"],
    }
    if ctx.fused_test_input:
        inputs["input"] = ctx.train_input
    return settings, inputs


def _run_evaluate(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    fused = ctx.train_input.path / "train.parquet" if ctx.fused_test_input else None
    split, dataset = ctx.done["split"].path, ctx.done["preprocess"].path
    assert ctx.seed is not None
    return S.run_evaluate(
        ctx.config.evaluate, ctx.done["train"].path, split, dataset, ctx.seed, out, input_train=fused
    )


# -- report (final) ---------------------------------------------------------------------------
def _report_applies(ctx: Context) -> bool:
    return ctx.config.report.enabled


def _run_report(ctx: Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    return S.run_report(out)


# -- the registry -----------------------------------------------------------------------------
#: Every stage in pipeline order.
REGISTRY: tuple[Stage, ...] = (
    Stage("data", "data", "shared", _run_data, key=_data_key),
    Stage("preprocess", "preprocess", "shared", _run_preprocess, key=_preprocess_key),
    Stage("split", "split", "shared", _run_split, key=_split_key),
    Stage("search_data", "search", "search", _run_search_data, key=_search_data_key, applies=_search_applies),
    Stage("search_augment", "search", "search_arm", _run_search_augment, key=_search_augment_key,
          applies=_search_augment_applies),
    Stage("search", "search", "search_arm", _run_search, key=_search_key, applies=_search_applies,
          checkpoint=_search_checkpoint),
    Stage("generate", "generate", "arm", _run_generate, key=_generate_key, applies=_generate_applies,
          checkpoint=_generate_checkpoint),
    Stage("expand", "expand", "arm", _run_expand, key=_expand_key, applies=_expand_applies),
    Stage("fuse", "fuse", "arm", _run_fuse, key=_fuse_key, applies=_fuse_applies),
    Stage("train", "train", "arm", _run_train, key=_train_key, checkpoint=_train_checkpoint),
    Stage("evaluate", "evaluate", "arm", _run_evaluate, key=_evaluate_key),
    Stage("report", "report", "final", _run_report, applies=_report_applies),
)  # fmt: skip


def stage_names() -> tuple[str, ...]:
    """The stage names in pipeline order (``--only`` choices, the manifest's ``stage`` values)."""
    return tuple(stage.name for stage in REGISTRY)


#: The stage names in pipeline order, as :func:`stage_names` gives them.
STAGES: tuple[str, ...] = stage_names()


def index(name: str) -> int:
    """Position of stage ``name`` in pipeline order."""
    return stage_names().index(name)


def search_last_stage(only: list[str] | None) -> int:
    """Index of the last search stage to run for ``only`` (-1: none).

    The search stages feed only themselves and the report: with ``only`` they run when it names
    a search stage or a ``final`` one (``--only train`` leaves the search task out).
    """
    last = last_stage(only)
    if not only:
        return last
    wanted = {s.name for s in REGISTRY if s.scope in ("search", "search_arm", "final")}
    return last if wanted & set(only) else -1


def up_to(last: int, scope: Scope) -> list[Stage]:
    """The stages of ``scope`` among the first ``last + 1`` in pipeline order."""
    return [stage for stage in REGISTRY[: last + 1] if stage.scope == scope]


def last_stage(only: list[str] | None) -> int:
    """Index of the last stage to run for ``only`` (stage names; ``None``/empty: every stage)."""
    names = stage_names()
    if not only:
        return len(names) - 1
    bad = [s for s in only if s not in names]
    if bad:
        raise ConfigError(f"only: unknown stage(s) {bad}; stages are {list(names)}")
    return max(names.index(s) for s in only)


__all__ = [
    "REGISTRY",
    "STAGES",
    "Context",
    "Stage",
    "index",
    "last_stage",
    "search_last_stage",
    "stage_names",
    "up_to",
]
