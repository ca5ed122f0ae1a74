"""Pipeline config: validation errors name the key path, --set overrides, every shipped config loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recaug.errors import ConfigError
from recaug.pipeline import Config, config_schema, load_config, run_pipeline, validate_config
from recaug.pipeline.config import apply_overrides, parse_override

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def write(tmp_path: Path, doc: dict, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


SIM = {"data": {"source": "simulate", "simulate": {"n_users": 50, "n_items": 30}}}


def test_defaults_and_variants_order() -> None:
    cfg = validate_config({**SIM, "variants": {"crop": {"expand": {"policy": {"op": "crop"}}}}})
    assert cfg.variant_names() == ["control", "crop"]
    assert cfg.for_variant("crop").expand.policy == {"op": "crop"}
    assert cfg.for_variant("control").expand.policy is None


def test_control_never_augments() -> None:
    cfg = validate_config({**SIM, "expand": {"policy": {"op": "mask"}}, "variants": {"aug": {}}})
    assert cfg.for_variant("control").expand.policy is None
    assert cfg.for_variant("aug").expand.policy == {"op": "mask"}


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"trian": {}}, "trian: unknown key"),
        ({"train": {"modle": "pop"}}, "train.modle: unknown key"),
        ({"train": {"params": {"epochs": 2}, "device": 3}}, "train.device"),
        ({"evaluate": {"ks": ["ten"]}}, "evaluate.ks[0]"),
        ({"evaluate": {"segments": {"new_users": 3}}}, "evaluate.segments.new_users: unknown key"),
        ({"split": {"protocol": "random"}}, "split.protocol"),
        ({"seeds": "zero"}, "seeds"),
        ({"variants": {"v": {"expnad": {}}}}, "variants.v.expnad: unknown key"),
        ({"variants": {"v": {"expand": {"n_views": "many"}}}}, "variants.v.expand.n_views"),
        ({"variants": {"v": {"expand": {"policy": {"op": "nope"}}}}}, "variants.v.expand.policy"),
        ({"preprocess": {"steps": [{"step": "kcoer"}]}}, "preprocess.steps"),
        ({"evaluate": {"primary_metric": "NDCG@7"}}, "evaluate.primary_metric"),
        ({"tune": {"ops": ["crop", "zap"]}}, "tune.ops"),
    ],
)
def test_errors_name_the_path(doc: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config({**SIM, **doc})
    assert needle in str(info.value)


def test_wrong_type_says_expected(tmp_path: Path) -> None:
    path = write(tmp_path, {**SIM, "expand": {"n_views": "two"}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert str(path) in text and "expand.n_views" in text and "integer" in text and "'two'" in text


def test_missing_data_file_named(tmp_path: Path) -> None:
    path = write(tmp_path, {"data": {"path": "nowhere/Beauty.txt", "format": "s3rec"}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "data.path" in str(info.value) and "nowhere/Beauty.txt" in str(info.value)
    # relative paths are resolved against the config file's folder
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / "Beauty.txt").write_text("1 2 3\n")
    assert load_config(path).data.path == str((tmp_path / "nowhere" / "Beauty.txt").resolve())


def test_unknown_model_and_unknown_stage(tmp_path: Path) -> None:
    cfg = validate_config({**SIM, "train": {"model": "sasrek"}})
    with pytest.raises(ConfigError, match="train.model"):
        run_pipeline(cfg, tmp_path / "run")
    with pytest.raises(ConfigError, match="unknown stage"):
        run_pipeline(validate_config(SIM), tmp_path / "run2", only=["trian"])


def test_set_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, SIM)
    cfg = load_config(
        path,
        ["train.params.epochs=3", "seeds=[1, 2]", "train.model=pop", "evaluate.ks=[10]", "name=x y",
         "variants.aug.expand.policy.op=crop", "fuse.ratio=0.5", "train.params.note=__import__('os')"],
    )  # fmt: skip
    assert cfg.train.params["epochs"] == 3 and cfg.seeds == [1, 2] and cfg.train.model == "pop"
    assert cfg.evaluate.ks == [10] and cfg.name == "x y" and cfg.fuse.ratio == 0.5
    assert cfg.variants["aug"].expand == {"policy": {"op": "crop"}}
    assert cfg.train.params["note"] == "__import__('os')"  # a string, never evaluated
    with pytest.raises(ConfigError, match="KEY.PATH=VALUE"):
        parse_override("train.params.epochs")
    with pytest.raises(ConfigError, match="not a mapping"):
        apply_overrides({"seeds": [0]}, ["seeds.x=1"])
    with pytest.raises(ConfigError, match="train.params.epochs|evaluate.ks"):
        load_config(path, ["evaluate.ks=[ten]"])


def test_schema() -> None:
    schema = config_schema()
    assert set(schema["properties"]) >= {
        "data",
        "preprocess",
        "split",
        "generate",
        "expand",
        "fuse",
        "train",
        "evaluate",
        "report",
        "seeds",
        "variants",
    }
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate(path: Path) -> None:
    cfg = load_config(path, check_files=False)
    assert isinstance(cfg, Config)
    for name in cfg.variant_names():
        cfg.for_variant(name)


def test_expected_configs_exist() -> None:
    names = {p.name for p in CONFIGS}
    assert names >= {
        "demo.yaml",
        "beauty_p1.yaml",
        "sports_p1.yaml",
        "toys_p1.yaml",
        "beauty_expand.yaml",
        "beauty_generate.yaml",
        "taobao_events.yaml",
    }


# -- held_out_hits: keep by default; a drop variant gets a keep twin ---------------------------------
COMPLETE = {"generate": {"method": "vae", "mode": "complete"}}


def test_held_out_hits_default_is_keep_and_shared() -> None:
    from recaug.fuse import DEFAULT_HELD_OUT_HITS
    from recaug.pipeline.config import FuseConfig

    assert FuseConfig.model_fields["held_out_hits"].default is DEFAULT_HELD_OUT_HITS == "keep"
    cfg = validate_config({**SIM, "variants": {"gen": COMPLETE}})
    assert cfg.for_variant("gen").fuse.held_out_hits == "keep"
    assert cfg.variant_names() == ["control", "gen"] and cfg.keep_twins() == {}


def test_drop_variant_gets_a_keep_twin() -> None:
    drop = {**COMPLETE, "fuse": {"held_out_hits": "drop", "only_users_with_at_most": 4}}
    cfg = validate_config({**SIM, "variants": {"gen": drop, "crop": {"expand": {"policy": {"op": "crop"}}}}})
    assert cfg.variant_names() == ["control", "gen", "gen+keep", "crop"]
    assert cfg.keep_twins() == {"gen+keep": "gen"}
    twin, arm = cfg.for_variant("gen+keep"), cfg.for_variant("gen")
    assert arm.fuse.held_out_hits == "drop" and twin.fuse.held_out_hits == "keep"
    # the twin is the same arm in everything else: generate, fuse quota, train, evaluate
    assert twin.model_dump(exclude={"fuse"}) == arm.model_dump(exclude={"fuse"})
    assert twin.fuse.only_users_with_at_most == 4
    assert "diagnostic" in cfg.variant_description("gen") and "gen+keep" in cfg.variant_description("gen")
    assert "keep" in cfg.variant_description("gen+keep")
    # a top-level drop reaches every augmented variant, never the control
    top = validate_config({**SIM, "fuse": {"held_out_hits": "drop"}, "variants": {"gen": COMPLETE}})
    assert top.variant_names() == ["control", "gen", "gen+keep"]
    with pytest.raises(ConfigError, match=r"gen\+keep: name reserved"):
        validate_config({**SIM, "variants": {"gen": drop, "gen+keep": COMPLETE}})


def test_report_labels_the_drop_arm_as_a_diagnostic() -> None:
    from recaug.report.collect import held_out_diagnostics
    from recaug.report.render import held_out_notes, variant_label

    results = {
        "control": "control",
        "keep_twins": {"gen+keep": "gen"},
        "arms": {
            "control": {"0": {}},
            "gen": {"0": {"held_out_hits_dropped": 7}, "1": {"held_out_hits_dropped": 5}},
            "gen+keep": {"0": {"held_out_hits_dropped": 0, "held_out_hits_kept": 6}},
        },
    }
    diag = held_out_diagnostics(results)
    assert diag == {"gen": {"twin": "gen+keep", "rows_dropped": 6.0, "twin_hits_kept": 6.0}}
    doc = {"held_out_diagnostics": diag}
    assert variant_label(doc, "gen").endswith("(diagnostic: held-out labels)")
    assert variant_label(doc, "gen+keep") == "gen+keep"
    (note,) = held_out_notes(doc)
    assert "removed 6.0 synthetic rows" in note and "held-out labels" in note and "gen+keep" in note
