"""The pipeline config: one pydantic model per stage section, loaded from YAML with ``--set`` overrides.

Every section forbids unknown keys. :func:`load_config` turns pydantic's ``ValidationError`` into a
:class:`~recaug.errors.ConfigError` with one readable line per problem, each naming the dotted path
of the key (``train.params.epochs: ...``). ``variants`` lists the arms compared under the same
seeds: the control (always run without ``generate``/``expand``) and each augmented arm, given as
overrides of the ``generate``/``expand``/``fuse``/``train`` sections. An augmented variant whose
fuse uses ``held_out_hits: drop`` (a decision about training data made with held-out labels) gets
an automatic twin, ``<name>+keep``, identical but for ``held_out_hits: keep``, so every run shows
the honest arm next to the diagnostic one.

The optional ``search`` section adds the product-search task (:mod:`recaug.search`): a search
log (built in, a file, or the query rows of the run's own data), its split, retrieval models
trained with and without query augmentation under the run's seeds, and their evaluation; see
:class:`SearchConfig` and :mod:`recaug.pipeline.search_stages`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recaug.errors import ConfigError
from recaug.fuse.fuser import DEFAULT_HELD_OUT_HITS, HeldOutHits
from recaug.split.leave_last_out import DEFAULT_DUPLICATES, DuplicatePolicy
from recaug.split.repeats import DEFAULT_REPEATS, RepeatPolicy

#: Sections a variant may override (everything upstream of the augmentation is shared).
VARIANT_SECTIONS = ("generate", "expand", "fuse", "train")
#: Suffix of the automatic ``held_out_hits: keep`` twin of a variant that fuses with ``drop``.
KEEP_TWIN_SUFFIX = "+keep"


class Section(BaseModel):
    """Base of every section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class ColumnsConfig(Section):
    """Input column names (guessed from usual names when omitted)."""

    user: str | None = None
    item: str | None = None
    time: str | None = None
    event: str | None = None
    category: str | None = None
    rating: str | None = None
    query: str | None = None


class DataConfig(Section):
    """Where interactions come from: a file/folder (``path``) or the built-in simulator."""

    source: Literal["file", "simulate"] = "file"
    path: str | None = None
    format: str = "auto"
    columns: ColumnsConfig = Field(default_factory=ColumnsConfig)
    sep: str | None = None
    item_side: str | None = None
    name: str | None = None
    simulate: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of simulate_shop.")


class PreprocessConfig(Section):
    """Preprocessing steps, e.g. ``[{step: dedup, mode: consecutive}, {step: kcore, user_k: 5}]``."""

    steps: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"step": "dedup", "mode": "consecutive"},
            {"step": "kcore"},
            {"step": "remap"},
        ]
    )


class SplitConfig(Section):
    """Split protocol: leave-last-out (default) or temporal cut points."""

    protocol: Literal["leave_last_out", "temporal"] = "leave_last_out"
    n_valid: int = Field(1, ge=0)
    n_test: int = Field(1, ge=1)
    min_train: int = Field(1, ge=0)
    #: leave-last-out: exact duplicate rows are dropped (warned), kept (warned) or an error
    duplicates: DuplicatePolicy = DEFAULT_DUPLICATES
    valid_at: float | int | None = 0.8
    test_at: float | int = 0.9
    require_train_history: bool = True


class GenerateConfig(Section):
    """A synthesizer (``method``; ``null`` skips the stage) fitted on train only, then sampled."""

    method: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="Synthesizer constructor settings.")
    mode: Literal["sample", "complete"] = Field(
        "sample", description="sample new synthetic users, or complete short-history real users."
    )
    sample: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of sample().")
    complete_k: int = Field(3, ge=1, description="mode=complete: items added to each short user.")
    complete_max_history: int = Field(
        5, ge=0, description="mode=complete: users with at most this many training interactions are completed."
    )


class ExpandConfig(Section):
    """Offline sequence augmentation: an augmenter ``policy`` (``null`` skips the stage)."""

    policy: dict[str, Any] | None = None
    n_views: int = Field(1, ge=1)
    min_length: int = Field(2, ge=1, description="Augmented sequences shorter than this are dropped.")


class FuseConfig(Section):
    """How synthetic rows join the real training rows (see ``recaug.fuse.Fuser``)."""

    ratio: float | None = Field(None, ge=0)
    only_users_with_at_most: int | None = Field(None, ge=0)
    allow_new_users: bool = True
    max_rows_per_user: int | None = Field(None, ge=0)
    weight: float | None = Field(None, ge=0)
    deduplicate: bool = False
    placement: Literal["prepend", "keep"] = "prepend"
    held_out_hits: HeldOutHits = Field(
        DEFAULT_HELD_OUT_HITS,
        description="Synthetic rows that equal a user's held-out item: keep (decide without held-out data), "
        "or the diagnostics drop / error, which read validation/test items (a drop variant gets a keep "
        "twin).",
    )
    quality: bool = True
    quality_discriminator: bool = False


class TrainConfig(Section):
    """The model (``recaug.models`` name) and its constructor settings (incl. epochs, lr ...)."""

    model: str = "sasrec"
    params: dict[str, Any] = Field(default_factory=dict)
    device: str = "auto"


class SegmentsConfig(Section):
    """User segments the results are broken down by."""

    history_edges: list[int] = Field(default_factory=lambda: [3, 5, 10])
    new_user_max_history: int = Field(5, ge=0)
    cross_category: bool = True


class EvaluateConfig(Section):
    """Full-ranking evaluation (``candidates: all``), metrics, segments and statistics."""

    ks: list[int] = Field(default_factory=lambda: [5, 10, 20])
    metrics: list[Literal["HR", "NDCG", "MRR", "Recall"]] = Field(
        default_factory=lambda: ["HR", "NDCG", "MRR", "Recall"]
    )
    candidates: Literal["all"] | int = "all"
    targets: list[Literal["valid", "test"]] = Field(default_factory=lambda: ["valid", "test"])
    primary_metric: str = "NDCG@10"
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)
    bootstrap: int = Field(1000, ge=1)
    confidence: float = Field(0.95, gt=0, lt=1)
    #: what the model reads at test time: the real histories (as every arm's control) or the
    #: arm's fused training rows (test-time completion); the ranking masks the real ones either way
    test_input: Literal["real", "fused"] = "real"
    #: a held-out item the user already had: masked with the history ("unreachable", P1) or
    #: ranked by its score ("rankable"); early stopping reads ``train.params.valid_repeats``
    repeats: RepeatPolicy = DEFAULT_REPEATS

    @field_validator("ks")
    @classmethod
    def _positive(cls, ks: list[int]) -> list[int]:
        if not ks or min(ks) < 1:
            raise ValueError("cut-offs must be positive integers")
        return ks


class ReportConfig(Section):
    """The report written at the end of a run."""

    enabled: bool = True
    title: str | None = None
    formats: list[Literal["html", "md", "json"]] = Field(default_factory=lambda: ["html", "md", "json"])


class TuneConfig(Section):
    """Augmentation-policy search space for ``tune`` (validation metric only)."""

    metric: str = "NDCG@10"
    ops: list[str] = Field(default_factory=lambda: ["crop", "mask", "reorder"])
    intensity: tuple[float, float] = (0.1, 0.7)
    n_views: tuple[int, int] = (1, 3)
    synthetic_share: tuple[float, float] | None = None
    seed: int = 0


#: where a search log comes from (``search.source``)
SEARCH_SOURCES = ("demo", "beauty", "sports", "data", "file")


class SearchSplitConfig(Section):
    """The search split: ``leave_last_out`` (each user's last search = test) or ``unseen_queries``
    (test queries never occur in training); ``params`` are the protocol's own settings."""

    protocol: Literal["leave_last_out", "unseen_queries"] = "leave_last_out"
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the split protocol, e.g. {test_fraction: 0.3, valid_fraction: 0.1, seed: 0} "
        "for unseen_queries (checked against recaug.search.split).",
    )


class SearchModelConfig(Section):
    """One retrieval model (``recaug.search`` registry name) and its constructor settings."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict, description="Model settings (training settings included).")
    label: str | None = Field(None, description="Name in results and the report (default: the model name).")

    @property
    def key(self) -> str:
        """The model's name in results (``label``, else ``name``)."""
        return self.label or self.name


class SearchAugmentConfig(Section):
    """Search augmentation of the training log (fitted on the training part only), fused with the real rows.

    ``policy`` is one augmenter config (``{op: term_dropout, p: 0.3}``, combinators included) or a
    list of ops combined as ``recaug search augment --op ... --op ...`` does (query ops: one of
    them per view; item-side ops such as ``pseudo_queries`` add their rows).
    """

    name: str = Field("augmented", description="Name of the augmented arm in results and the report.")
    policy: dict[str, Any] | list[dict[str, Any]]
    n_views: int = Field(1, ge=1, description="Augmented views per training row.")
    ratio: float | None = Field(None, ge=0, description="At most this many augmented rows per real row.")
    weight: float | None = Field(None, ge=0, description="Weight of augmented rows in the loss (real rows 1.0).")
    held_out: Literal["drop", "error"] = Field(
        "drop", description="Augmented rows that carry a held-out (user, query, item) or test query: drop or error."
    )


class SearchEvaluateConfig(Section):
    """Full-ranking search evaluation of every test event (see ``recaug.search.SearchEvaluator``)."""

    ks: list[int] = Field(default_factory=lambda: [10, 100])
    metrics: list[Literal["HR", "NDCG", "MRR", "Recall"]] = Field(
        default_factory=lambda: ["HR", "NDCG", "MRR", "Recall"]
    )
    mask_history: bool = Field(False, description="Mask the user's earlier items (except the target).")
    rare_max_count: int = Field(5, ge=0, description="rare_query: the query occurs at most this often in train.")
    short_history_max: int = Field(5, ge=0, description="short_history: at most this many history events.")
    tail_share: float = Field(0.8, ge=0, le=1, description="tail_item: outside the top 1 - tail_share of items.")

    @field_validator("ks")
    @classmethod
    def _positive(cls, ks: list[int]) -> list[int]:
        if not ks or min(ks) < 1:
            raise ValueError("cut-offs must be positive integers")
        return ks


class SearchConfig(Section):
    """Product search next to the recommendation arms: one log, one split, each model with and
    without augmentation under every run seed (the control is the same model, same seed)."""

    source: Literal["demo", "beauty", "sports", "data", "file"] = Field(
        description="demo (the shop simulator's searches), beauty / sports (Amazon category-path queries "
        "from data_root), data (the rows of this run's data stage that carry a query) or file (path)."
    )
    path: str | None = Field(None, description="source file: a search-log folder or a CSV/TSV/Parquet/JSONL file.")
    data_root: str | None = Field(None, description="source beauty/sports: the folder holding amazon_beauty/ ...")
    text_fields: list[str] | None = Field(
        None, description="Item columns joined into the item text the models read (default: the source's own)."
    )
    split: SearchSplitConfig = Field(default_factory=SearchSplitConfig)
    models: list[SearchModelConfig] = Field(
        default_factory=lambda: [SearchModelConfig(name="bm25")], min_length=1
    )
    reference: bool = Field(True, description="Evaluate BM25 as the reference even when models do not list it.")
    augment: SearchAugmentConfig | None = None
    evaluate: SearchEvaluateConfig = Field(default_factory=SearchEvaluateConfig)
    device: str = "auto"


class VariantConfig(Section):
    """One arm: overrides of the augmentation and training sections."""

    description: str = ""
    generate: dict[str, Any] | None = None
    expand: dict[str, Any] | None = None
    fuse: dict[str, Any] | None = None
    train: dict[str, Any] | None = None


class Config(Section):
    """The whole pipeline: one section per stage, seeds, and the compared variants."""

    name: str = "run"
    data: DataConfig = Field(default_factory=DataConfig)
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    expand: ExpandConfig = Field(default_factory=ExpandConfig)
    fuse: FuseConfig = Field(default_factory=FuseConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    search: SearchConfig | None = Field(None, description="Optional product-search task (see SearchConfig).")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    control: str = "control"
    variants: dict[str, VariantConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fused_input_is_a_history(self) -> Config:
        if self.evaluate.test_input == "fused" and self.expand.policy is not None:
            raise ValueError(
                "evaluate.test_input 'fused' reads a user's fused training rows as one history, but expand "
                "views are separate sequences; use it with generate (completion) arms only"
            )
        return self

    # -- variants --------------------------------------------------------------------------
    def variant_names(self) -> list[str]:
        """The control first, then the other variants in config order (a drop variant before its keep twin)."""
        twins = {base: twin for twin, base in self.keep_twins().items()}
        names = [self.control]
        for name in self.variants:
            if name == self.control:
                continue
            names.append(name)
            if name in twins:
                names.append(twins[name])
        return names

    def keep_twins(self) -> dict[str, str]:
        """``{twin: variant}`` for every augmented variant that fuses with ``held_out_hits: drop``.

        The twin is the same arm with ``held_out_hits: keep``: trained and evaluated the same way,
        it is the result that used no held-out data; the drop arm is a diagnostic next to it.
        """
        twins: dict[str, str] = {}
        for name in self.variants:
            if name == self.control:
                continue
            try:
                arm = self._merged(name)
            except ConfigError:  # reported by validate_config under the variant's own name
                continue
            augments = arm.generate.method is not None or arm.expand.policy is not None
            if augments and arm.fuse.held_out_hits == "drop":
                twin = name + KEEP_TWIN_SUFFIX
                if twin in self.variants:
                    raise ConfigError(
                        f"variants.{twin}: name reserved for the held_out_hits: keep twin of {name!r}; "
                        "rename it"
                    )
                twins[twin] = name
        return twins

    def variant_description(self, name: str) -> str:
        """The variant's description, with what a keep twin or a drop (diagnostic) variant is."""
        twins = self.keep_twins()
        if name in twins:
            return f"twin of {twins[name]} with fuse.held_out_hits: keep (decides without held-out data)"
        text = self.variants[name].description if name in self.variants else ""
        if name + KEEP_TWIN_SUFFIX in twins:
            note = (
                "diagnostic: fuse.held_out_hits: drop removes synthetic rows equal to validation/test items, "
                f"using held-out labels; compare with {name + KEEP_TWIN_SUFFIX}"
            )
            text = f"{text} [{note}]" if text else note
        return text

    def for_variant(self, name: str) -> Config:
        """This config with ``name``'s overrides merged in (the control never augments)."""
        if name not in self.variant_names():
            raise ConfigError(f"unknown variant {name!r}; have {self.variant_names()}")
        twins = self.keep_twins()
        if name in twins:
            return self._merged(twins[name], held_out_hits="keep")
        return self._merged(name)

    def _merged(self, name: str, *, held_out_hits: str | None = None) -> Config:
        """``name``'s overrides merged in (no name check); ``held_out_hits`` replaces the fuse setting."""
        raw = self.model_dump(mode="json")
        spec = self.variants.get(name)
        if spec is not None:
            for section in VARIANT_SECTIONS:
                override = getattr(spec, section)
                if override is not None:
                    raw[section] = deep_merge(raw[section], override)
        if name == self.control:
            raw["generate"]["method"] = None
            raw["expand"]["policy"] = None
        if held_out_hits is not None:
            raw["fuse"]["held_out_hits"] = held_out_hits
        raw["variants"] = {}
        try:
            return Config.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_errors(exc, prefix=("variants", name))) from None

    def section(self, name: str) -> dict[str, Any]:
        """One section as plain JSON-ready data."""
        value = getattr(self, name)
        return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` merged into a copy of ``base`` (nested mappings merged, everything else replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def format_errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    """One line per validation problem: ``dotted.path: what is wrong (got ...)``."""
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in (*prefix, *err["loc"]) if p not in ("literal['all']", "int"))
        where = _path(loc)
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key")
        elif err["type"] == "missing":
            lines.append(f"{where}: required key is missing")
        else:
            lines.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    head = "invalid config" if len(lines) == 1 else f"invalid config ({len(lines)} problems)"
    return head + ":\n  " + "\n  ".join(dict.fromkeys(lines))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.params.epochs=3"`` -> ``(["train", "params", "epochs"], 3)`` (value via ``yaml.safe_load``)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: expected KEY.PATH=VALUE")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: cannot parse the value: {exc}") from None
    return key.split("."), parsed


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of ``raw`` with each ``a.b.c=value`` set (intermediate mappings are created).

    A number addresses an entry of an existing list: ``search.models.0.params.epochs=1``.
    """
    out = copy.deepcopy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = out
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise ConfigError(f"--set {text!r}: {'.'.join(keys[:i])} is a list of {len(node)}; "
                                      f"{key!r} is not one of its positions")  # fmt: skip
                if last:
                    node[int(key)] = value
                else:
                    node = node[int(key)]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {'.'.join(keys[:i])} is not a mapping")
            if last:
                node[key] = value
                continue
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict | list) or (isinstance(child, list) and not keys[i + 1].isdigit()):
                raise ConfigError(f"--set {text!r}: {'.'.join(keys[: i + 1])} is not a mapping")
            node = child
    return out


def validate_config(raw: Any, *, base_dir: Path | None = None, check_files: bool = True) -> Config:
    """Validate a raw mapping (YAML already parsed) into a :class:`Config`; raise ConfigError on problems."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config: expected a mapping of sections, got {type(raw).__name__}")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None
    problems: list[str] = []
    for name in config.variants:
        try:
            config.for_variant(name)
        except ConfigError as exc:
            problems.append(str(exc).split(":\n  ", 1)[-1])
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(dict.fromkeys(problems)))
    resolve_paths(config, base_dir)
    check_config(config, check_files=check_files)
    return config


def resolve_paths(config: Config, base_dir: Path | None) -> None:
    """Make ``data.path``/``data.item_side`` and ``search.path``/``search.data_root`` absolute
    (relative to the config file's folder)."""
    sections = [(config.data, ("path", "item_side"))]
    if config.search is not None:
        sections.append((config.search, ("path", "data_root")))  # type: ignore[arg-type]
    for section, keys in sections:
        for key in keys:
            value = getattr(section, key)
            if value:
                p = Path(os.path.expanduser(os.path.expandvars(value)))
                if not p.is_absolute() and base_dir is not None:
                    p = base_dir / p
                setattr(section, key, str(p.resolve() if p.is_absolute() else p))


def check_config(config: Config, *, check_files: bool = True) -> None:
    """Checks pydantic cannot do: input files, preprocessing steps, augmenters, metric names."""
    data = config.data
    if data.source == "file":
        if not data.path:
            raise ConfigError("data.path: required when data.source is 'file' (or set data.source: simulate)")
        if check_files and not Path(data.path).exists():
            raise ConfigError(f"data.path: no such file or folder: {data.path}")
    if check_files and data.item_side and not Path(data.item_side).exists():
        raise ConfigError(f"data.item_side: no such file: {data.item_side}")
    if data.source == "simulate":
        import inspect

        from recaug.data.demo import simulate_shop

        allowed = set(inspect.signature(simulate_shop).parameters)
        unknown = sorted(set(data.simulate) - allowed)
        if unknown:
            raise ConfigError(f"data.simulate: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    from recaug.preprocess import Preprocessor

    try:
        Preprocessor.from_config(config.preprocess.steps)
    except ConfigError as exc:
        raise ConfigError(f"preprocess.steps: {exc}") from None
    from recaug.models.training import parse_metric

    for key, metric in (
        ("evaluate.primary_metric", config.evaluate.primary_metric),
        ("tune.metric", config.tune.metric),
    ):
        try:
            name, k = parse_metric(metric)
        except ConfigError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        if k not in config.evaluate.ks:
            raise ConfigError(f"{key}: {metric!r} needs k={k} in evaluate.ks {config.evaluate.ks}")
    from recaug.expand import available

    bad_ops = [op for op in config.tune.ops if op not in available()]
    if bad_ops:
        raise ConfigError(f"tune.ops: unknown op(s) {bad_ops}; known: {available()}")
    for name in config.variant_names():
        arm = config.for_variant(name)
        where = f"variants.{name}." if name in config.variants else ""
        if arm.expand.policy is not None:
            from recaug.expand import from_config

            try:
                from_config(copy.deepcopy(arm.expand.policy))
            except ConfigError as exc:
                raise ConfigError(f"{where}expand.policy: {exc}") from None
    if config.search is not None:
        check_search(config, check_files=check_files)


def check_search(config: Config, *, check_files: bool = True) -> None:
    """The ``search`` section beyond its types: source inputs, split settings, model names, the policy.

    Light (no torch): model settings are checked by :func:`check_search_models`.
    """
    search = config.search
    assert search is not None
    if search.source == "file":
        if not search.path:
            raise ConfigError("search.path: required when search.source is 'file' (a search-log folder or file)")
        if check_files and not Path(search.path).exists():
            raise ConfigError(f"search.path: no such file or folder: {search.path}")
    elif search.path:
        raise ConfigError(f"search.path: only read when search.source is 'file' (source is {search.source!r})")
    if search.source in ("beauty", "sports"):
        from recaug.search.queries import AMAZON_SOURCES

        if not search.data_root:
            raise ConfigError(f"search.data_root: required when search.source is {search.source!r}")
        folder, stem = AMAZON_SOURCES[search.source]
        if check_files and not (Path(search.data_root) / folder / f"{stem}.txt").is_file():
            raise ConfigError(f"search.data_root: no {folder}/{stem}.txt under {search.data_root}")
    keys = [m.key for m in search.models]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ConfigError(f"search.models: {repeated} appear more than once; give each a distinct label")
    for i, m in enumerate(search.models):
        if not m.key or "/" in m.key:
            raise ConfigError(f"search.models[{i}].label: {m.key!r} must be non-empty and without '/'")
    if search.augment is not None:
        name = search.augment.name
        if name in ("", "control") or "/" in name:
            raise ConfigError(f"search.augment.name: {name!r} is reserved or has a '/'; choose another name")
    from recaug.search.base import get_search_model_class
    from recaug.search.split import SEARCH_SPLITS
    from recaug.settings import check_settings, component_fields

    check_settings(search.split.params, component_fields(SEARCH_SPLITS[search.split.protocol], exclude=frozenset()),
                   "search.split.params")  # fmt: skip
    from recaug.search import NEURAL_MODELS

    for i, m in enumerate(search.models):
        if m.name not in NEURAL_MODELS:  # the neural ones import torch: check_search_models builds them
            try:
                get_search_model_class(m.name)
            except ConfigError as exc:
                raise ConfigError(f"search.models[{i}].name: {exc}") from None
    if search.augment is not None:
        from recaug.pipeline.search_stages import search_policy

        try:
            search_policy(search.augment.policy)
        except ConfigError as exc:
            raise ConfigError(f"search.augment.policy: {exc}") from None


def check_model(config: Config) -> None:
    """Model names exist and ``train.params`` fit the model's own typed settings (imports torch).

    Every key and type is checked against the model's constructor (so a typo such as
    ``contrastiv`` or ``epochs: five`` fails here, not when that arm starts training), and the
    model is built once, which checks values too (``epochs: -3``, ``cl_representation: concatt``).
    """
    from recaug.models import get_model_class
    from recaug.models.base import build_model

    check_search_models(config)
    for name in config.variant_names():
        train = config.for_variant(name).train
        where = f"variants.{name}." if name in config.variants and config.variants[name].train else ""
        try:
            get_model_class(train.model)
        except ConfigError as exc:
            raise ConfigError(f"{where}train.model: {exc}") from None
        model = build_model(train.model, train.params, device="cpu", where=f"{where}train.params")
        valid_repeats = getattr(getattr(model, "train_config", None), "valid_repeats", None)
        judged_by = config.for_variant(name).evaluate.repeats
        if valid_repeats is not None and valid_repeats != judged_by:
            raise ConfigError(
                f"{where}train.params.valid_repeats is {valid_repeats!r} but evaluate.repeats is {judged_by!r}: "
                "early stopping would select under another rule than the results are judged by; set both"
            )


def check_search_models(config: Config) -> None:
    """Every ``search.models`` entry names a search model and its ``params`` fit its settings
    (imports torch for the neural ones); nothing to do without a ``search`` section."""
    if config.search is None:
        return
    from recaug.search import import_search_model
    from recaug.search.base import build_search_model

    for i, m in enumerate(config.search.models):
        where = f"search.models[{i}]"
        try:
            import_search_model(m.name)
        except ImportError as exc:
            raise ConfigError(f"{where}.name: search model {m.name!r} cannot be imported: {exc}") from None
        try:
            build_search_model(m.name, m.params, device="cpu", where=f"{where}.params")
        except ConfigError as exc:
            text = str(exc)
            raise ConfigError(text if text.startswith(where) else f"{where}.name: {text}") from None


def load_config(path: str | Path, overrides: list[str] | None = None, *, check_files: bool = True) -> Config:
    """Read a YAML config, apply ``--set`` overrides and validate it (ConfigError on any problem)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    raw = apply_overrides(raw or {}, list(overrides or []))
    try:
        return validate_config(raw, base_dir=path.parent.resolve(), check_files=check_files)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def config_schema() -> dict[str, Any]:
    """The JSON schema of the config file (for editors and ``recaug config --schema``)."""
    return Config.model_json_schema()


def dump_config(config: Config) -> str:
    """The resolved config as YAML (what ``config.resolved.yaml`` holds)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
