"""The product-search task in the pipeline: the ``search`` config section, its cached stages, the report.

A tiny simulated shop; the search arm reads the shop's own searches (``search.source: data``).
Besides BM25 (the reference, which reads only the item table) the runs use a small query-item
count model registered here (``test_query_pop``): it learns from the log's rows, so the
augmented arm differs from its control and what reaches its ``fit`` matters, and it trains in
milliseconds.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml

from cli_helpers import invoke
from recaug import columns as C
from recaug.errors import ConfigError
from recaug.pipeline import registry as R
from recaug.pipeline import run_pipeline, validate_config
from recaug.pipeline.cache import tree_fingerprints
from recaug.pipeline.config import apply_overrides
from recaug.pipeline.search_stages import load_search_split, search_arms
from recaug.search.base import SearchModel, register_search_model
from recaug.search.log import SearchLog

pytestmark = pytest.mark.usefixtures("restore_recaug_logger")


@register_search_model
class QueryPop(SearchModel):
    """Scores an item by how often the training log bought it after the same (normalised) query."""

    name = "test_query_pop"

    def __init__(self, *, smoothing: float = 0.1, seed: int = 0, device: str = "auto") -> None:
        super().__init__(seed=seed, device=device)
        self.smoothing = float(smoothing)
        self.counts_: dict[str, dict[int, float]] = {}
        self.popularity_: np.ndarray | None = None

    def config(self) -> dict[str, Any]:
        return {**super().config(), "smoothing": self.smoothing}

    def fit(self, train: SearchLog, valid: SearchLog | None = None, *, item_space: int | None = None) -> QueryPop:
        space = self._item_space(train, item_space)
        frame = pl.DataFrame({"q": train.query_keys(), "i": train.targets})
        self.counts_ = {}
        for q, i, n in frame.group_by("q", "i").len().sort("q", "i").iter_rows():
            self.counts_.setdefault(q, {})[int(i)] = float(n)
        self.popularity_ = np.bincount(train.targets.astype(np.int64), minlength=space)[:space].astype(np.float32)
        self.item_space_ = space
        return self

    def _score(self, queries: pl.Series, users: np.ndarray | None) -> np.ndarray:
        from recaug.search.tokenize import normalize

        assert self.popularity_ is not None
        out = np.tile(self.smoothing * self.popularity_, (len(queries), 1))
        for row, q in enumerate(normalize(queries).to_list()):
            for item, n in self.counts_.get(q, {}).items():
                out[row, item] += n
        return out

    def _save_state(self, folder: Path) -> None:
        assert self.popularity_ is not None
        (folder / "counts.json").write_text(json.dumps(self.counts_, sort_keys=True), encoding="utf-8")
        np.save(folder / "popularity.npy", self.popularity_)

    def _load_state(self, folder: Path) -> None:
        raw = json.loads((folder / "counts.json").read_text(encoding="utf-8"))
        self.counts_ = {q: {int(i): n for i, n in d.items()} for q, d in raw.items()}
        self.popularity_ = np.load(folder / "popularity.npy")


SEARCH: dict[str, Any] = {
    "source": "data",
    "models": [{"name": "test_query_pop", "params": {"smoothing": 0.5}}],
    "augment": {"name": "query_aug", "policy": [{"op": "term_dropout", "p": 0.5}, {"op": "pseudo_queries"}]},
    "evaluate": {"ks": [10, 100]},
}


def tiny(**search: Any) -> dict[str, Any]:
    """A tiny run: a popularity recommender control and the search task (``search`` overrides SEARCH)."""
    return {
        "name": "tiny_search",
        "data": {"source": "simulate", "simulate": {"n_users": 150, "n_items": 60, "seed": 3}},
        "preprocess": {"steps": [{"step": "dedup", "mode": "consecutive"}, {"step": "min_length", "n": 3},
                                 {"step": "remap"}]},
        "train": {"model": "pop"},
        "evaluate": {"ks": [5, 10], "bootstrap": 20},
        "fuse": {"quality": False},
        "seeds": [0, 1],
        "search": {**copy.deepcopy(SEARCH), **search},
    }  # fmt: skip


def statuses(result: Any) -> dict[str, str]:
    return {f"{s['stage']}[{s['variant']}/{s['seed']}]": s["status"] for s in result.stages}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    run_dir = tmp_path_factory.mktemp("search_runs") / "tiny"
    return run_dir, run_pipeline(validate_config(tiny()), run_dir)


def search_dirs(run_dir: Path) -> dict[str, dict[str, str]]:
    """``{stage folder: {file: sha256}}`` of every search stage output."""
    out = {}
    for stage in ("search_data", "search_augment", "search"):
        for folder in sorted((run_dir / "stages" / stage).glob("[!.]*")):
            out[f"{stage}/{folder.name}"] = tree_fingerprints(folder)
    return out


# -- the stages ------------------------------------------------------------------------------
def test_search_stages_follow_the_registry_and_fill_results(first_run: tuple[Path, Any]) -> None:
    run_dir, result = first_run
    names = R.stage_names()
    assert names.index("split") < names.index("search_data") < names.index("search_augment") < names.index(
        "search") < names.index("generate")  # fmt: skip
    searched = [(s["stage"], s["variant"], s["seed"]) for s in result.stages if s["stage"].startswith("search")]
    arms = ["bm25/control", "test_query_pop/control", "test_query_pop/query_aug"]
    expected = [("search_data", None, None)]
    for seed in (0, 1):
        for arm in arms:
            if arm.endswith("query_aug"):
                expected.append(("search_augment", arm, seed))
            expected.append(("search", arm, seed))
    assert searched == expected
    order = [s["stage"] for s in result.stages]
    assert order.index("search") < order.index("train") and order[-1] == "report"
    results = json.loads((run_dir / "results.json").read_text())
    search = results["search"]
    assert search["reference"] == "bm25" and search["augmented"] == "query_aug"
    assert list(search["arms"]) == arms and all(list(a) == ["0", "1"] for a in search["arms"].values())
    test_events = len(pl.read_parquet(run_dir / search["stages"]["search_data"] / "test.parquet"))
    for arm in search["arms"].values():
        for rec in arm.values():
            assert {"NDCG@10", "HR@10", "MRR@10", "Recall@100"} <= set(rec["summary"]["test"])
            per_event = pl.read_parquet(run_dir / rec["stages"]["search"] / "test" / "per_user.parquet")
            assert per_event.height == test_events
            assert {"segment:rare_query", "segment:unseen_query", "segment:tail_item",
                    "segment:short_history"} <= set(per_event.columns)  # fmt: skip
    aug = search["arms"]["test_query_pop/query_aug"]["0"]
    ctrl = search["arms"]["test_query_pop/control"]["0"]
    assert aug["rows_added"] > 0 and aug["cost"]["search"]["rows_in"] > ctrl["cost"]["search"]["rows_in"]
    assert aug["summary"] != ctrl["summary"]  # the model learns from the rows it is given
    assert result.search == search


def test_resume_reports_every_search_stage_cached(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny()), encoding="utf-8")
    out = tmp_path / "run"
    first = invoke("run", config, "--out", out)
    assert first.exit_code == 0, first.output
    assert "Product search on test" in first.stdout and "bm25 (reference)" in first.stdout
    again = invoke("run", config, "--out", out, "--resume")
    assert again.exit_code == 0, again.output
    lines = [line.split() for line in again.stdout.splitlines()]
    search_lines = [x for x in lines if x and x[0].startswith("search")]
    assert len(search_lines) == 1 + 2 * 4  # search_data, then per seed 3 fits and 1 augmentation
    assert all("cached" in x for x in search_lines)
    assert ["search", "[test_query_pop/query_aug,", "seed", "1]", "cached"] in [x[:5] for x in search_lines]
    assert "0 stage(s) ran" in again.stdout.splitlines()[-1]


def test_same_config_twice_gives_identical_search_files(first_run: tuple[Path, Any], tmp_path: Path) -> None:
    run_dir, _ = first_run
    again = tmp_path / "again"
    run_pipeline(validate_config(tiny()), again, only=["search"])
    first, second = search_dirs(run_dir), search_dirs(again)
    assert first and first == second  # same stage keys and byte-identical files
    assert any(name.endswith("test/per_user.parquet") for d in first.values() for name in d)
    a = json.loads((run_dir / "results.json").read_text())["search"]["arms"]
    b = json.loads((again / "results.json").read_text())["search"]["arms"]
    assert {k: {s: r["summary"] for s, r in v.items()} for k, v in a.items()} == {
        k: {s: r["summary"] for s, r in v.items()} for k, v in b.items()
    }


def test_changing_a_model_reruns_only_its_arms(first_run: tuple[Path, Any], tmp_path: Path) -> None:
    run_dir, _ = first_run
    copy_dir = tmp_path / "copy"
    shutil.copytree(run_dir, copy_dir)
    changed = tiny(models=[{"name": "test_query_pop", "params": {"smoothing": 0.25}}])
    result = run_pipeline(validate_config(changed), copy_dir, resume=True)
    st = statuses(result)
    assert st["search_data[None/None]"] == "cached"
    for seed in (0, 1):
        assert st[f"search[bm25/control/{seed}]"] == "cached"
        assert st[f"search_augment[test_query_pop/query_aug/{seed}]"] == "cached"
        assert st[f"search[test_query_pop/control/{seed}]"] == "ran"
        assert st[f"search[test_query_pop/query_aug/{seed}]"] == "ran"
        assert st[f"train[control/{seed}]"] == "cached"
    policy = tiny(augment={"name": "query_aug", "policy": {"op": "term_dropout", "p": 0.2}})
    st = statuses(run_pipeline(validate_config(policy), copy_dir, resume=True, only=["search"]))
    assert st["search_augment[test_query_pop/query_aug/0]"] == "ran"
    assert st["search[test_query_pop/query_aug/0]"] == "ran" and st["search[test_query_pop/control/0]"] == "cached"


def test_search_arms_control_augmented_and_reference() -> None:
    cfg = validate_config(tiny()).search
    assert [a.label for a in search_arms(cfg)] == ["bm25/control", "test_query_pop/control", "test_query_pop/query_aug"]
    listed = validate_config(tiny(models=[{"name": "bm25", "params": {"k1": 1.2}}], augment=None)).search
    arms = search_arms(listed)
    assert [(a.label, a.reference) for a in arms] == [("bm25/control", True)]  # listed BM25 is the reference
    no_ref = validate_config(tiny(reference=False)).search
    assert [a.model for a in search_arms(no_ref)] == ["test_query_pop", "test_query_pop"]


# -- leakage ---------------------------------------------------------------------------------------
def spy(monkeypatch: pytest.MonkeyPatch, cls: type, name: str = "fit") -> list[dict[str, Any]]:
    """Wrap ``cls.<name>``: every call's bound arguments are appended to the returned list."""
    calls: list[dict[str, Any]] = []
    original = vars(cls)[name]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def recording(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, recording)
    return calls


def own_fits(classes: list[type]) -> list[type]:
    """Every class in the MROs of ``classes`` that defines ``fit`` itself."""
    return list(dict.fromkeys(k for c in classes for k in c.__mro__ if "fit" in vars(k)))


EVENT = [C.USER, C.ITEM, C.TIME, C.QUERY]


def triples(frame: pl.DataFrame) -> set[tuple[int, str, int]]:
    """(user, normalised query, item) of every row."""
    from recaug.search.tokenize import normalize

    keys = normalize(frame.get_column(C.QUERY)).to_list()
    return set(zip(frame.get_column(C.USER).to_list(), keys, frame.get_column(C.ITEM).to_list(), strict=True))


@pytest.mark.parametrize("protocol", ["leave_last_out", "unseen_queries"])
def test_search_models_and_augmenters_fit_on_training_rows_only(
    protocol: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recaug.search import augment as A
    from recaug.search.base import _REGISTRY as SEARCH_MODELS
    from recaug.search.tokenize import normalize

    models = {c: spy(monkeypatch, c) for c in own_fits(list(SEARCH_MODELS.values()))}
    augmenters = {c: spy(monkeypatch, c) for c in own_fits(list(A._REGISTRY.values()))}
    ops = [{"op": "term_dropout", "p": 0.5}, {"op": "term_substitute"}, {"op": "category_generalise"},
           {"op": "pseudo_queries"}]  # fmt: skip
    split_cfg = {"protocol": protocol, "params": {"test_fraction": 0.3, "seed": 1} if protocol != "leave_last_out" else {}}
    doc = tiny(split=split_cfg, augment={"name": "query_aug", "policy": ops})
    run_dir = tmp_path / "run"
    result = run_pipeline(validate_config(doc), run_dir, only=["search"])
    split = load_search_split(run_dir / result.search["stages"]["search_data"])
    train, valid, test = (getattr(split, p).frame for p in ("train", "valid", "test"))
    held_rows = {tuple(r) for r in pl.concat([valid, test]).select(EVENT).iter_rows()}
    held_triples = triples(pl.concat([valid, test])) - triples(train)
    train_rows = {tuple(r) for r in train.select(EVENT).iter_rows()}
    assert held_rows and held_triples  # the checks have something to find
    forbidden_queries = set(split.test_queries)
    if protocol == "unseen_queries":
        forbidden_queries |= set(normalize(valid.get_column(C.QUERY)).to_list())
        assert forbidden_queries

    model_calls = [call for calls in models.values() for call in calls]
    assert len(model_calls) == 2 * 3  # seeds x (bm25, control, augmented)
    augmented_fits = 0
    for call in model_calls:
        frame = call["train"].frame
        rows = {tuple(r) for r in frame.select(EVENT).iter_rows()}
        assert not rows & held_rows, "a search model was fitted on held-out rows"
        real = frame.filter(pl.col(C.SOURCE) == C.REAL) if C.SOURCE in frame.columns else frame
        assert {tuple(r) for r in real.select(EVENT).iter_rows()} == train_rows
        assert not triples(frame) & held_triples, "a search model was fitted on a held-out (user, query, item)"
        assert not set(normalize(frame.get_column(C.QUERY)).to_list()) & forbidden_queries
        augmented_fits += frame.height > real.height
        assert call["valid"] is not None and call["valid"].frame.equals(valid)  # early stopping only
    assert augmented_fits == 2
    aug_calls = [call for calls in augmenters.values() for call in calls]
    assert aug_calls and {type(c["self"]).name for c in aug_calls} >= {"term_substitute", "pseudo_queries"}
    for call in aug_calls:
        assert call["train"].frame.equals(train), f"{type(call['self']).__name__} was not fitted on split.train"


# -- config ------------------------------------------------------------------------------------------
@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny()), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["search.modles=[]"], "search.modles: unknown key"),
        (["search.source=beuaty"], "search.source"),
        (["search.split.protocol=unseen"], "search.split.protocol"),
        (["search.split.protocol=unseen_queries", "search.split.params.test_fractoin=0.2"],
         "search.split.params: unknown key 'test_fractoin' (did you mean 'test_fraction'?)"),
        (["search.split.params.test_fraction=0.2"], "search.split.params: unknown key 'test_fraction'"),
        (["search.models.0.name=test_qeury_pop"], "search.models[0].name: unknown search model 'test_qeury_pop'"),
        (["search.models.0.params.smothing=1"], "search.models[0].params: unknown key 'smothing'"),
        (["search.models.0.params.smoothing=lots"], "search.models[0].params.smoothing"),
        (["search.models.0.name=dense", "search.models.0.params={epcohs: 2}"],
         "search.models[0].params: unknown key 'epcohs' (did you mean 'epochs'?)"),
        (["search.models.0.labl=x"], "search.models[0].labl: unknown key"),
        (["search.augment.policy.0.op=term_dropot"], "search.augment.policy: [0]: unknown search augmentation op"),
        (["search.augment.policy.0.p=much"], "search.augment.policy: [0]"),
        (["search.augment.n_view=2"], "search.augment.n_view: unknown key"),
        (["search.augment.name=control"], "search.augment.name"),
        (["search.evaluate.kss=[5]"], "search.evaluate.kss: unknown key"),
        (["search.evaluate.ks=[0]"], "search.evaluate.ks"),
        (["search.source=file"], "search.path: required"),
        (["search.source=beauty"], "search.data_root: required"),
        (["search.models=[{name: test_query_pop}, {name: test_query_pop}]"], "appear more than once"),
    ],
)  # fmt: skip
def test_config_validate_catches_search_typos(config_file: Path, overrides: list[str], needle: str) -> None:
    args = [arg for o in overrides for arg in ("--set", o)]
    result = invoke("config", "validate", config_file, *args)
    assert result.exit_code == 2, result.output
    assert needle in " ".join(result.stderr.split()), result.stderr


def test_config_validate_accepts_the_search_section_and_shipped_configs(config_file: Path) -> None:
    ok = invoke("config", "validate", config_file)
    assert ok.exit_code == 0, ok.output
    for path in (Path(__file__).parents[1] / "configs").glob("*.yaml"):
        if "search" in yaml.safe_load(path.read_text(encoding="utf-8")):
            shown = invoke("config", "show", path)
            assert shown.exit_code == 0, (path, shown.output)
    demo = invoke("config", "show", "builtin:demo")
    search = yaml.safe_load(demo.stdout)["search"]
    assert search["source"] == "data" and [m["name"] for m in search["models"]] == ["dense"]
    assert search["augment"]["policy"] and search["reference"] is True


def test_search_defaults_are_the_components_defaults() -> None:
    from recaug.pipeline.config import SearchAugmentConfig, SearchEvaluateConfig
    from recaug.search.augment import augment_search_training
    from recaug.search.evaluate import SearchEvaluator

    evaluator = SearchEvaluator()
    fields = SearchEvaluateConfig.model_fields
    for name in ("mask_history", "rare_max_count", "short_history_max", "tail_share"):
        assert fields[name].default == getattr(evaluator, name), name
    signature = inspect.signature(augment_search_training).parameters
    for name in ("n_views", "ratio", "weight", "held_out"):
        assert SearchAugmentConfig.model_fields[name].default == signature[name].default, name


def test_set_addresses_list_entries() -> None:
    raw = tiny()
    out = apply_overrides(raw, ["search.models.0.params.smoothing=2", "search.augment.policy.1.op=term_reorder"])
    assert out["search"]["models"][0]["params"]["smoothing"] == 2
    assert out["search"]["augment"]["policy"][1] == {"op": "term_reorder"}
    assert raw["search"]["models"][0]["params"]["smoothing"] == 0.5  # a copy
    with pytest.raises(ConfigError, match="not one of its positions"):
        apply_overrides(raw, ["search.models.3.name=x"])
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides(raw, ["search.models.name=x"])


# -- report ----------------------------------------------------------------------------------------
def test_report_has_a_product_search_section(first_run: tuple[Path, Any]) -> None:
    run_dir, _ = first_run
    doc = json.loads((run_dir / "report.json").read_text())
    search = doc["search"]
    assert search["metrics"] == ["HR@10", "NDCG@10", "MRR@10", "Recall@100"]
    assert [t["model"] for t in search["tables"]] == ["test_query_pop"]
    rows = search["tables"][0]["rows"]
    assert [(r["arm"], r["is_reference"]) for r in rows if r["segment"] == "all"] == [
        ("control", False), ("query_aug", False), ("control", True)]  # fmt: skip
    assert {r["segment"] for r in rows} >= {"all", "rare_query", "short_history"}
    results = json.loads((run_dir / "results.json").read_text())["search"]["arms"]
    for r in (r for r in rows if r["segment"] == "all"):
        label = f"{r['model']}/{r['arm']}"
        seed_means = [rec["summary"]["test"]["NDCG@10"] for rec in results[label].values()]
        assert r["cells"]["NDCG@10"]["mean"] == pytest.approx(float(np.mean(seed_means)))
    aug = next(r for r in rows if r["arm"] == "query_aug" and r["segment"] == "all")["cells"]["NDCG@10"]
    assert {"lift", "t_pvalue", "wilcoxon_pvalue", "significant", "significance", "n_seeds"} <= set(aug)
    assert aug["n_seeds"] == 2
    html = (run_dir / "report.html").read_text()
    md = (run_dir / "report.md").read_text()
    assert "<h2>Product search</h2>" in html and "## Product search" in md
    assert "test_query_pop" in html and "bm25 (reference)" in html and "bm25 (reference)" in md
    assert f"{aug['mean']:.4f}" in html and f"{aug['mean']:.4f}" in md


def test_search_lift_is_coloured_only_when_significant(first_run: tuple[Path, Any]) -> None:
    from recaug.report.render import render_html, render_markdown

    run_dir, _ = first_run
    doc = json.loads((run_dir / "report.json").read_text())
    doc["headline"] = {"segments": [], "rows": []}  # only the search section can colour anything
    cell = next(r for r in doc["search"]["tables"][0]["rows"] if r["arm"] == "query_aug")["cells"]["NDCG@10"]
    cell.update(lift=0.25, significant=False)
    html, md = render_html(doc, {}), render_markdown(doc)
    assert 'class="up"' not in html and "**+25.0%**" not in md and "+25.0%" in md
    cell["significant"] = True
    html, md = render_html(doc, {}), render_markdown(doc)
    assert '<span class="up">(+25.0%)</span>' in html and "**+25.0%**" in md


def test_only_search_skips_the_recommendation_arms_and_reports(tmp_path: Path) -> None:
    from recaug.report import write_report

    run_dir = tmp_path / "run"
    result = run_pipeline(validate_config(tiny(augment=None)), run_dir, only=["search"])
    assert not {"train", "evaluate", "report"} & {s["stage"] for s in result.stages}
    assert result.arms == {} and result.report is None
    write_report(run_dir)
    md = (run_dir / "report.md").read_text()
    assert "## Product search" in md and "## Headline" not in md
    trained = run_pipeline(validate_config(tiny(augment=None)), run_dir, resume=True, only=["train"])
    assert trained.search is None and not any(s["stage"].startswith("search") for s in trained.stages)
    assert "search" not in json.loads((run_dir / "results.json").read_text())
    assert R.search_last_stage(["train"]) == -1 and R.search_last_stage(["search"]) == R.index("search")
    assert R.search_last_stage(None) == R.search_last_stage(["report"]) == R.index("report")


def test_demo_search_arm_trains_the_dense_model_deterministically(tmp_path: Path) -> None:
    from recaug.pipeline.builtin import demo_config

    config = demo_config(n_users=300, seed=1, overrides=["search.models.0.params.epochs=2"])
    first = run_pipeline(config, tmp_path / "a", only=["search"])
    assert list(first.search["arms"]) == ["bm25/control", "dense/control", "dense/query_aug"]
    rec = first.search["arms"]["dense/query_aug"]["1"]
    assert rec["epochs"] == 2 and rec["rows_added"] > 0
    fit = json.loads((tmp_path / "a" / rec["stages"]["search"] / "fit.json").read_text())
    assert len(fit["history"]) == 2 and not any("seconds" in h for h in fit["history"])
    assert not list((tmp_path / "a" / "stages" / "search").glob(".checkpoint-*"))  # removed once the fit is done
    run_pipeline(config, tmp_path / "b", only=["search"])
    assert search_dirs(tmp_path / "a") == search_dirs(tmp_path / "b")
